# A commit whose first step fails: the pool flushes its data device before writing metadata, and
# the data device (flakey with error_writes, down for good) fails the flush. The commit fails, so
# the pool aborts the transaction, sets needs_check and turns read-only.
# disk: meta 4M
# disk: data 64M
dmsetup create data --table "0 131072 linear $DISK_data 0"
dmsetup create pool --table "0 131072 thin-pool $DISK_meta /dev/mapper/data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin0 --table "0 8192 thin /dev/mapper/pool 0"
yes a | head -c 131072 | dd of=/dev/mapper/thin0 bs=64K iflag=fullblock oflag=direct status=none
dmsetup status pool
dmsetup reload data --table "0 131072 flakey $DISK_data 0 0 1 1 error_writes"
dmsetup suspend data
dmsetup resume data
dmsetup message pool 0 "create_thin 1"
dmsetup status pool
dd if=/dev/mapper/thin0 bs=64K count=1 skip=1 iflag=direct status=none | od -c | head -2
yes b | head -c 65536 | dd of=/dev/mapper/thin0 bs=64K seek=1 iflag=fullblock oflag=direct
dmsetup reload data --table "0 131072 linear $DISK_data 0"
dmsetup suspend data
dmsetup resume data
dmsetup remove thin0
dmsetup remove pool
dmsetup remove data
thin_check $DISK_meta
thin_dump $DISK_meta
