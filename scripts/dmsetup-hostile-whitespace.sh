# Odd whitespace in tables and messages: tabs, runs of spaces, leading and trailing blanks, empty lines,
# carriage returns, and a table line split over several lines; what the kernel keeps of them.
# disk: a 1M
# disk: meta 4M
# disk: data 8M
dmsetup create t1 --table "  0   8	linear	 $DISK_a   0   "
dmsetup table t1
printf '\n\n0 8 linear %s 0\n\n8 8 linear %s 8\n\n' $DISK_a $DISK_a | dmsetup create t2
dmsetup table t2
printf '0 8 linear %s 0\r\n' $DISK_a | dmsetup create t3
printf '0 8 linear %s 0 \t \n' $DISK_a | dmsetup create t4
dmsetup table t4
printf '\t0\t8\tzero\t\n' | dmsetup create t5
dmsetup table t5
dmsetup create t6 --table "0 8 linear $DISK_a 0;8 8 linear $DISK_a 8"
dmsetup table t6
dmsetup create t7 --table ""
dmsetup create t8 --table "   "
dmsetup create t9 --table "0 8"
dmsetup ls
dmsetup create pool --table "0 16384   thin-pool  $DISK_meta	$DISK_data 128   0   1   skip_block_zeroing  "
dmsetup table pool
dmsetup message pool 0 "  create_thin   1  "
dmsetup message pool 0 "create_thin	2"
dmsetup message pool 0 create_thin 3 "" 
dmsetup message pool 0 "" create_thin 4
dmsetup message pool 0 ""
dmsetup message pool 0 " "
dmsetup message pool "  0" create_thin 5
dmsetup message pool 0 "$(printf 'set_transaction_id\n0\n7')"
dmsetup status pool
dmsetup remove_all
dmsetup ls
