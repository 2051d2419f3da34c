# A pool whose data device is linear over two disks (the split inside a pool block): discards are passed
# down through the linear device to both disks; blkdiscard ranges that start and end inside blocks
# unmap only the blocks they cover. md5sums of the disks show what reached them.
# disk: meta 4M
# disk: a 4M
# disk: b 4M
yes A | head -c 4194304 | dd of=$DISK_a bs=1M iflag=fullblock oflag=direct status=none
yes B | head -c 4194304 | dd of=$DISK_b bs=1M iflag=fullblock oflag=direct status=none
printf '0 8000 linear %s 192\n8000 8000 linear %s 0\n' $DISK_a $DISK_b | dmsetup create data
cat /sys/block/dm-0/queue/discard_granularity /sys/block/dm-0/queue/discard_max_bytes
dmsetup create pool --table "0 16000 thin-pool $DISK_meta /dev/mapper/data 256 0 1 skip_block_zeroing"
dmsetup status pool
cat /sys/block/dm-1/queue/discard_granularity /sys/block/dm-1/queue/discard_max_bytes
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 15872 thin /dev/mapper/pool 0"
cat /sys/block/dm-2/queue/discard_granularity /sys/block/dm-2/queue/discard_max_bytes
yes t | head -c 8126464 | dd of=/dev/mapper/thin bs=128K iflag=fullblock oflag=direct status=noxfer
dmsetup status pool
md5sum $DISK_a $DISK_b
# Sectors 100 to 900: block 1, 2 and the part of block 3 up to 900; only blocks 1 and 2 go.
blkdiscard -o 51200 -l 409600 /dev/mapper/thin
dmsetup status thin
dmsetup status pool
md5sum $DISK_a $DISK_b
# Across the join of the two disks (data sector 8000 is in block 31): blocks 30..32.
blkdiscard -o 3932160 -l 393216 /dev/mapper/thin
dmsetup status thin
dmsetup status pool
md5sum $DISK_a $DISK_b
dd if=$DISK_a bs=512 skip=8190 count=4 iflag=direct status=none | od -A d -c | head -3
dd if=$DISK_b bs=512 count=2 iflag=direct status=none | od -A d -c | head -3
# An odd range inside one block, and one that ends at the end of the thin device.
blkdiscard -o 1536 -l 5120 /dev/mapper/thin
blkdiscard -o 7930368 -l 196096 /dev/mapper/thin
dmsetup status thin
dmsetup status pool
md5sum $DISK_a $DISK_b
dmsetup remove thin pool data
