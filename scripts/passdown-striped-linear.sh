# Discard passdown from thin pools whose data devices are stacked dm devices: a striped device with
# chunks that are not a power of two, a linear device over it at an odd offset joined to a linear
# device over a disk, the striped device alone, and a linear device alone. After each discard, m
# prints the md5sums of the disks underneath read with O_DIRECT, where each discarded range reads as
# zeroes. Kernel: a buffered md5sum of a disk that a table holds open reads the disk's page cache,
# which discards passed down through dm do not invalidate: it keeps showing the first contents read.
# disk: meta 4M
# disk: a 2M
# disk: b 2M
# disk: c 2M
@yes T | head -c 65536 > /tmp/p0
@m() { for d in "$@"; do printf '%s ' $d; dd if=$d bs=64K iflag=direct status=none | md5sum; done; }
@for i in 1 2 3 4 5 6; do cat /tmp/p$((i-1)) /tmp/p$((i-1)) > /tmp/p$i; done
# Two stripes of 24 sectors (170 chunks each); a linear device of 3072 sectors over it from sector
# 100, then 3072 sectors of disk c from sector 3.
dmsetup create st --table "0 8160 striped 2 24 $DISK_a 0 $DISK_b 0"
printf '0 3072 linear /dev/mapper/st 100\n3072 3072 linear %s 3\n' $DISK_c | dmsetup create data
dmsetup create pool --table "0 6144 thin-pool $DISK_meta /dev/mapper/data 128 0"
cat /sys/block/dm-2/queue/discard_granularity /sys/block/dm-2/queue/discard_max_bytes
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 6144 thin /dev/mapper/pool 0"
dd if=/tmp/p6 of=/dev/mapper/thin bs=64K count=48 oflag=direct status=noxfer
dmsetup status pool
m $DISK_a $DISK_b $DISK_c
md5sum $DISK_a $DISK_b $DISK_c
# One block, then a range inside one block, then blocks across the boundary of the two linear
# targets (block 24 starts at sector 3072), then a long range.
blkdiscard -o 65536 -l 65536 /dev/mapper/thin
m $DISK_a $DISK_b $DISK_c
blkdiscard -o 135168 -l 8192 /dev/mapper/thin
m $DISK_a $DISK_b $DISK_c
blkdiscard -o 1441792 -l 262144 /dev/mapper/thin
m $DISK_a $DISK_b $DISK_c
blkdiscard -o 2097152 -l 1048576 /dev/mapper/thin
dmsetup status pool
m $DISK_a $DISK_b $DISK_c
dd if=/dev/mapper/thin bs=64K count=1 skip=1 iflag=direct status=none | md5sum
md5sum $DISK_a $DISK_b $DISK_c
dmsetup remove thin pool data
# The striped device alone as the data device, with 384-sector blocks: a block spans 16 chunks.
dd if=/dev/zero of=$DISK_meta bs=4K count=1 oflag=direct status=none
dmsetup create pool --table "0 8064 thin-pool $DISK_meta /dev/mapper/st 384 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 8064 thin /dev/mapper/pool 0"
dd if=/tmp/p6 of=/dev/mapper/thin bs=192K count=21 oflag=direct status=noxfer
m $DISK_a $DISK_b
blkdiscard -o 196608 -l 393216 /dev/mapper/thin
m $DISK_a $DISK_b
blkdiscard -o 1048576 -l 2097152 /dev/mapper/thin
dmsetup status pool
m $DISK_a $DISK_b
blkdiscard /dev/mapper/thin
dmsetup status pool
m $DISK_a $DISK_b
dmsetup remove thin pool st
# A linear data device over disk c at an odd offset.
dd if=/dev/zero of=$DISK_meta bs=4K count=1 oflag=direct status=none
dmsetup create data --table "0 4032 linear $DISK_c 7"
dmsetup create pool --table "0 4032 thin-pool $DISK_meta /dev/mapper/data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 3968 thin /dev/mapper/pool 0"
dd if=/tmp/p6 of=/dev/mapper/thin bs=64K count=31 oflag=direct status=noxfer
m $DISK_c
md5sum $DISK_c
blkdiscard -o 61440 -l 204800 /dev/mapper/thin
m $DISK_c
md5sum $DISK_c
blkdiscard /dev/mapper/thin
dmsetup status pool
m $DISK_c
dmsetup remove thin pool data
