# The striped target: chunks dealt round-robin over several devices.
# disk: a 1M
# disk: b 1M
# disk: c 1M
yes a | head -c 1048576 | dd of=$DISK_a bs=64K iflag=fullblock oflag=direct status=noxfer
yes b | head -c 1048576 | dd of=$DISK_b bs=64K iflag=fullblock oflag=direct status=noxfer
# Two stripes of 8-sector (4 KiB) chunks.
dmsetup create st --table "0 2048 striped 2 8 $DISK_a 0 $DISK_b 0"
dmsetup table st
dmsetup status st
for i in 0 1 2 3; do dd if=/dev/mapper/st bs=4K count=1 skip=$i iflag=direct status=none | head -c 1; done; echo
cat /sys/block/dm-0/queue/minimum_io_size /sys/block/dm-0/queue/optimal_io_size
# A chunk size that is not a power of two (24 sectors), three stripes, offsets into the devices.
# The length must divide into whole chunks on every stripe: 1512 = 3 x 21 x 24.
dmsetup create st3 --table "0 1512 striped 3 24 $DISK_a 512 $DISK_b 512 $DISK_c 0"
dmsetup table st3
dmsetup status st3
# Three chunks (72 sectors): the third lands at the start of disk c.
yes x | head -c 36864 | dd of=/dev/mapper/st3 bs=4K iflag=fullblock oflag=direct status=noxfer
dd if=$DISK_c bs=512 count=1 skip=23 iflag=direct status=none | head -c 2
dd if=$DISK_c bs=512 count=1 skip=24 iflag=direct status=none | od -A d -c | head -1
# Errors.
dmsetup create bad --table "0 2048 striped 2 8 $DISK_a 0"
dmsetup create bad --table "0 2048 striped 0 8 $DISK_a 0"
dmsetup create bad --table "0 2047 striped 2 8 $DISK_a 0 $DISK_b 0"
dmsetup create bad --table "0 2040 striped 2 7 $DISK_a 0 $DISK_b 0"
dmsetup create bad --table "0 2048 striped 2 0 $DISK_a 0 $DISK_b 0"
dmsetup create bad --table "0 4112 striped 2 8 $DISK_a 0 $DISK_b 0"
dmsetup create bad --table "0 2048 striped 2 8 $DISK_a 0 /dev/nonexistent 0"
dmsetup create bad --table "0 2048 striped x 8 $DISK_a 0 $DISK_b 0"
dmsetup create bad --table "0 2048 striped 2 8 $DISK_a 0 $DISK_b"
# Kernel: chunks smaller than a page (4 sectors) are accepted, and so is 7 when it divides.
dmsetup create small --table "0 2048 striped 2 4 $DISK_a 0 $DISK_b 0"
dmsetup create seven --table "0 2044 striped 2 7 $DISK_a 0 $DISK_b 0"
dmsetup table seven
# One stripe is a linear mapping by another name.
dmsetup create one --table "0 1024 striped 1 128 $DISK_b 0"
dmsetup status one
dmsetup remove st st3 one small seven
dmsetup ls
