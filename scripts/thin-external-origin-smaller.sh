# An external origin smaller than the thin device, of 1000 sectors (not a whole block): reads past its end
# are zeroes, the block holding its end is copied only up to it, and writes past it copy nothing; with
# skip_block_zeroing and without.
# disk: meta 4M
# disk: data 16M
# disk: origin 1M
yes O | head -c 1048576 | dd of=$DISK_origin bs=64K iflag=fullblock oflag=direct status=none
dmsetup create small --readonly --table "0 1000 linear $DISK_origin 0"
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create ext --table "0 4096 thin /dev/mapper/pool 0 /dev/mapper/small"
dd if=/dev/mapper/ext bs=512 skip=998 count=4 iflag=direct status=none | od -A d -c
# Sector 990 is in block 7 (896..1023), which the origin covers only to sector 999.
yes a | head -c 512 | dd of=/dev/mapper/ext bs=512 seek=990 iflag=fullblock oflag=direct status=noxfer
dd if=/dev/mapper/ext bs=512 skip=988 count=14 iflag=direct status=none | od -A d -c
yes b | head -c 512 | dd of=/dev/mapper/ext bs=512 seek=2000 iflag=fullblock oflag=direct status=noxfer
dd if=/dev/mapper/ext bs=512 skip=1999 count=3 iflag=direct status=none | od -A d -c
dmsetup status ext
dmsetup status pool
dmsetup remove ext pool
# The same with skip_block_zeroing, on the same metadata.
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0 1 skip_block_zeroing"
dmsetup message pool 0 "create_thin 1"
dmsetup create ext --table "0 4096 thin /dev/mapper/pool 1 /dev/mapper/small"
yes c | head -c 512 | dd of=/dev/mapper/ext bs=512 seek=990 iflag=fullblock oflag=direct status=noxfer
dd if=/dev/mapper/ext bs=512 skip=988 count=14 iflag=direct status=none | od -A d -c
yes d | head -c 512 | dd of=/dev/mapper/ext bs=512 seek=3000 iflag=fullblock oflag=direct status=noxfer
dd if=/dev/mapper/ext bs=512 skip=2999 count=3 iflag=direct status=none | od -A d -c
dmsetup status pool
# A whole-block write past the origin, and a discard there.
yes e | head -c 65536 | dd of=/dev/mapper/ext bs=64K seek=30 iflag=fullblock oflag=direct status=noxfer
blkdiscard -o 1966080 -l 65536 /dev/mapper/ext
dd if=/dev/mapper/ext bs=64K skip=30 count=1 iflag=direct status=none | od -c | head -2
dmsetup status ext
dmsetup remove ext pool small
