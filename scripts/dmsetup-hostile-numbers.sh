# Huge and negative numbers: table starts and lengths, linear offsets, pool block sizes and low water
# marks, thin ids, transaction ids and message sectors past 64 bits, with signs, hex and leading zeroes.
# disk: a 1M
# disk: meta 4M
# disk: data 8M
dmsetup create n1 --table "0 -8 linear $DISK_a 0"
dmsetup create n2 --table "-1 8 linear $DISK_a 0"
dmsetup create n3 --table "0 8 linear $DISK_a -1"
dmsetup create n4 --table "0 18446744073709551615 zero"
dmsetup create n5 --table "0 18446744073709551616 zero"
dmsetup create n6 --table "0 9223372036854775807 zero"
dmsetup create n7 --table "0 0x10 zero"
dmsetup create n8 --table "0 010 linear $DISK_a 0010"
dmsetup table n8
dmsetup create n9 --table "0 8 linear $DISK_a 18446744073709551615"
dmsetup create n10 --table "0 +8 zero"
dmsetup ls
dmsetup create pool --table "0 16384 thin-pool $DISK_meta $DISK_data -128 0"
dmsetup create pool --table "0 16384 thin-pool $DISK_meta $DISK_data 18446744073709551744 0"
dmsetup create pool --table "0 16384 thin-pool $DISK_meta $DISK_data 128 -1"
dmsetup create pool --table "0 16384 thin-pool $DISK_meta $DISK_data 128 18446744073709551616"
dmsetup create pool --table "0 16384 thin-pool $DISK_meta $DISK_data 128 18446744073709551615"
dmsetup status pool
dmsetup message pool 0 "create_thin -1"
dmsetup message pool 0 "create_thin 16777215"
dmsetup message pool 0 "create_thin 16777216"
dmsetup message pool 0 "create_thin 18446744073709551616"
dmsetup message pool 0 "create_thin 0x10"
dmsetup message pool 0 "create_thin 007"
dmsetup message pool 0 "create_snap 8 -0"
dmsetup message pool 0 "set_transaction_id 0 18446744073709551615"
dmsetup message pool 0 "set_transaction_id 18446744073709551615 -1"
dmsetup message pool 0 "set_transaction_id 18446744073709551615 18446744073709551616"
dmsetup message pool 18446744073709551615 "create_thin 9"
dmsetup message pool 18446744073709551616 "create_thin 9"
dmsetup message pool -1 "create_thin 9"
dmsetup status pool
dmsetup create th --table "0 8 thin /dev/mapper/pool -7"
dmsetup create th --table "0 8 thin /dev/mapper/pool 99999999999"
dmsetup create th --table "0 8 thin /dev/mapper/pool 7"
dmsetup table th
dmsetup remove_all
