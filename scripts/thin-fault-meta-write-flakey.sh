# Metadata writes fail (flakey with error_writes, down for good, spliced under a running pool):
# the next commit fails, so the pool aborts the transaction, sets needs_check and turns read-only.
# Reads go on working. The flag is only in memory: with the writes still failing it never reaches
# the disk.
# disk: meta 4M
# disk: data 64M
dmsetup create meta --table "0 8192 linear $DISK_meta 0"
dmsetup create pool --table "0 131072 thin-pool /dev/mapper/meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin0 --table "0 8192 thin /dev/mapper/pool 0"
yes a | head -c 131072 | dd of=/dev/mapper/thin0 bs=64K iflag=fullblock oflag=direct status=none
dmsetup status pool
dmsetup reload meta --table "0 8192 flakey $DISK_meta 0 0 1 1 error_writes"
dmsetup suspend meta
dmsetup resume meta
dmsetup table meta
dmsetup message pool 0 "create_thin 1"
dmsetup status pool
dmsetup message pool 0 "create_thin 2"
dd if=/dev/mapper/thin0 bs=64K count=1 skip=1 iflag=direct status=none | od -c | head -2
yes b | head -c 65536 | dd of=/dev/mapper/thin0 bs=64K seek=1 iflag=fullblock oflag=direct status=none
yes c | head -c 65536 | dd of=/dev/mapper/thin0 bs=64K seek=5 iflag=fullblock oflag=direct
dmsetup status thin0
dmsetup remove thin0
dmsetup remove pool
dmsetup remove meta
thin_check $DISK_meta
thin_dump $DISK_meta
