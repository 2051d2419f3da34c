# dmsetup table and its options: --target, --inactive.
# disk: meta 4M
# disk: data 16M
dmsetup table
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0 2 skip_block_zeroing error_if_no_space"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"
printf '0 8 linear %s 0\n8 8 linear %s 8\n' $DISK_data $DISK_data | dmsetup create lin
dmsetup table
dmsetup table --target linear
dmsetup table --target thin-pool
dmsetup table --target error
dmsetup table pool
dmsetup table thin lin
dmsetup load lin --table "0 8 error"
dmsetup table --inactive
dmsetup table --inactive lin
dmsetup table --inactive --target error
dmsetup table nosuch
dmsetup remove thin pool lin
