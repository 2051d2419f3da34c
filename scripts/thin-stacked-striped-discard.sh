# A pool on a striped data device (two disks, 64 KiB chunks, block size 256 sectors = two chunks): writes
# and discards reach both disks; blkdiscard ranges not aligned to the pool's blocks.
# disk: meta 4M
# disk: a 8M
# disk: b 8M
yes A | head -c 8388608 | dd of=$DISK_a bs=1M iflag=fullblock oflag=direct status=none
yes B | head -c 8388608 | dd of=$DISK_b bs=1M iflag=fullblock oflag=direct status=none
dmsetup create data --table "0 32768 striped 2 128 $DISK_a 0 $DISK_b 0"
cat /sys/block/dm-0/queue/discard_granularity /sys/block/dm-0/queue/discard_max_bytes
dmsetup create pool --table "0 32768 thin-pool $DISK_meta /dev/mapper/data 256 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 16384 thin /dev/mapper/pool 0"
yes s | head -c 4194304 | dd of=/dev/mapper/thin bs=128K iflag=fullblock oflag=direct status=noxfer
dmsetup status pool
md5sum $DISK_a $DISK_b
# Sectors 300..1000: block 2 only.
blkdiscard -o 153600 -l 358400 /dev/mapper/thin
dmsetup status thin
dmsetup status pool
md5sum $DISK_a $DISK_b
# Blocks 5..9 and a bit on each side.
blkdiscard -o 654848 -l 656384 /dev/mapper/thin
dmsetup status thin
dmsetup status pool
md5sum $DISK_a $DISK_b
for i in $(seq 0 15); do dd if=/dev/mapper/thin bs=128K skip=$i count=1 iflag=direct status=none | head -c 1 | tr '\000' .; done; echo
dmsetup remove thin pool data
