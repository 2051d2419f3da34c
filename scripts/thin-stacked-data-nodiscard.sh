# A data device stacked on a disk without discard support and one with it (linear over both): the pool
# passes discards down only if the whole data device takes them. Then the same pool on a linear device of
# the discarding disk only.
# disk: meta 4M
# disk: a 4M nodiscard
# disk: b 4M
# disk: meta2 4M
printf '0 8192 linear %s 0\n8192 8192 linear %s 0\n' $DISK_a $DISK_b | dmsetup create data
cat /sys/block/dm-0/queue/discard_max_bytes
dmsetup create pool --table "0 16384 thin-pool $DISK_meta /dev/mapper/data 128 0"
dmsetup status pool
dmsetup table pool
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 16384 thin /dev/mapper/pool 0"
cat /sys/block/dm-2/queue/discard_max_bytes
yes n | head -c 8388608 | dd of=/dev/mapper/thin bs=1M iflag=fullblock oflag=direct status=noxfer
blkdiscard -o 65536 -l 131072 /dev/mapper/thin
blkdiscard -o 4194304 -l 131072 /dev/mapper/thin
dmsetup status thin
dmsetup status pool
dd if=$DISK_b bs=64K count=1 iflag=direct status=none | od -c | head -2
dmsetup remove thin pool data
dmsetup create data --table "0 8192 linear $DISK_b 0"
dmsetup create pool --table "0 8192 thin-pool $DISK_meta2 /dev/mapper/data 128 0 1 skip_block_zeroing"
dmsetup status pool
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"
yes m | head -c 4194304 | dd of=/dev/mapper/thin bs=1M iflag=fullblock oflag=direct status=noxfer
dmsetup status thin
blkdiscard -o 0 -l 4194304 /dev/mapper/thin
dmsetup status pool
dd if=$DISK_b bs=64K count=1 iflag=direct status=none | od -c | head -2
dmsetup remove thin pool data
