# Discards on pools whose block size is not a power of two (384 and 640 sectors), starting and
# ending inside blocks, across block boundaries and exactly on them. After each, the status lines
# and a map of the thin device: the first byte of every block, D while mapped, . once unmapped.
# disk: meta 4M
# disk: data 8M
# disk: meta2 4M
# disk: data2 8M
# 384 sectors (192 KiB): a thin device of 12 blocks, fully written.
dmsetup create pool --table "0 16384 thin-pool $DISK_meta $DISK_data 384 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 4608 thin /dev/mapper/pool 0"
yes D | head -c 2359296 | dd of=/dev/mapper/thin bs=192K iflag=fullblock oflag=direct status=noxfer
dmsetup status thin
dmsetup status pool
cat /sys/block/dm-1/queue/discard_granularity /sys/block/dm-1/queue/discard_max_bytes
for i in $(seq 0 11); do dd if=/dev/mapper/thin bs=192K skip=$i count=1 iflag=direct status=none | head -c 1 | tr '\000' .; done; echo
# Inside block 0 only: nothing is unmapped.
blkdiscard -o 4096 -l 65536 /dev/mapper/thin
dmsetup status thin
dmsetup status pool
for i in $(seq 0 11); do dd if=/dev/mapper/thin bs=192K skip=$i count=1 iflag=direct status=none | head -c 1 | tr '\000' .; done; echo
# Sectors 130 to 1300: from inside block 0 to inside block 3, covering blocks 1 and 2.
# Kernel: only block 2 goes. BLKDISCARD cuts the range where the discard granularity (one block)
# begins, but rounds with round_up(), which is only right for powers of two: 130 rounds to 512,
# not 384, so the first bio is sectors 130-511 and the second 512-1299; neither covers block 1.
blkdiscard -o 66560 -l 599040 /dev/mapper/thin
dmsetup status thin
dmsetup status pool
for i in $(seq 0 11); do dd if=/dev/mapper/thin bs=192K skip=$i count=1 iflag=direct status=none | head -c 1 | tr '\000' .; done; echo
# Exactly blocks 4 and 5.
blkdiscard -o 786432 -l 393216 /dev/mapper/thin
dmsetup status thin
dmsetup status pool
for i in $(seq 0 11); do dd if=/dev/mapper/thin bs=192K skip=$i count=1 iflag=direct status=none | head -c 1 | tr '\000' .; done; echo
# Sectors 2312 to 3456: from inside block 6 to the end of block 8. 2312 rounds up to 2432,
# still inside block 6, so blocks 7 and 8 go.
blkdiscard -o 1183744 -l 585728 /dev/mapper/thin
dmsetup status thin
dmsetup status pool
for i in $(seq 0 11); do dd if=/dev/mapper/thin bs=192K skip=$i count=1 iflag=direct status=none | head -c 1 | tr '\000' .; done; echo
# Sectors 3300 to 4500: from inside block 8 to inside block 11, covering blocks 9 and 10.
# Kernel: 3300 rounds up to 3584, so only block 10 goes.
blkdiscard -o 1689600 -l 614400 /dev/mapper/thin
dmsetup status thin
dmsetup status pool
for i in $(seq 0 11); do dd if=/dev/mapper/thin bs=192K skip=$i count=1 iflag=direct status=none | head -c 1 | tr '\000' .; done; echo
dmsetup remove thin
dmsetup remove pool
thin_dump $DISK_meta
# 640 sectors (320 KiB): a thin device of 8 blocks, fully written.
dmsetup create pool2 --table "0 16384 thin-pool $DISK_meta2 $DISK_data2 640 0"
dmsetup message pool2 0 "create_thin 0"
dmsetup create thin2 --table "0 5120 thin /dev/mapper/pool2 0"
yes D | head -c 2621440 | dd of=/dev/mapper/thin2 bs=320K iflag=fullblock oflag=direct status=noxfer
dmsetup status thin2
dmsetup status pool2
for i in $(seq 0 7); do dd if=/dev/mapper/thin2 bs=320K skip=$i count=1 iflag=direct status=none | head -c 1 | tr '\000' .; done; echo
# Sectors 500 to 2000: from inside block 0 to inside block 3, covering blocks 1 and 2.
# Kernel: 500 rounds up to 1024, so only block 2 goes.
blkdiscard -o 256000 -l 768000 /dev/mapper/thin2
dmsetup status thin2
dmsetup status pool2
for i in $(seq 0 7); do dd if=/dev/mapper/thin2 bs=320K skip=$i count=1 iflag=direct status=none | head -c 1 | tr '\000' .; done; echo
# Exactly block 3.
blkdiscard -o 983040 -l 327680 /dev/mapper/thin2
dmsetup status thin2
dmsetup status pool2
for i in $(seq 0 7); do dd if=/dev/mapper/thin2 bs=320K skip=$i count=1 iflag=direct status=none | head -c 1 | tr '\000' .; done; echo
# Sectors 3000 to the end: from inside block 4, covering blocks 5 to 7 (3000 rounds up to 3072,
# inside block 4).
blkdiscard -o 1536000 -l 1085440 /dev/mapper/thin2
dmsetup status thin2
dmsetup status pool2
for i in $(seq 0 7); do dd if=/dev/mapper/thin2 bs=320K skip=$i count=1 iflag=direct status=none | head -c 1 | tr '\000' .; done; echo
dmsetup remove thin2
dmsetup remove pool2
thin_dump $DISK_meta2
