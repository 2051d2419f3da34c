# Every way a linear table can be wrong, and what dmsetup and the kernel say.
# disk: a 1M
dmsetup create bad --table "0 1024 linear $DISK_a"
dmsetup create bad --table "0 1024 linear $DISK_a 0 extra"
dmsetup create bad --table "0 1024 linear $DISK_a abc"
dmsetup create bad --table "0 1024 linear $DISK_a -1"
dmsetup create bad --table "0 1024 linear $DISK_a 2048"
dmsetup create bad --table "0 4096 linear $DISK_a 0"
dmsetup create bad --table "0 1024 linear /dev/nonexistent 0"
dmsetup create bad --table "0 1024 linear 254:99 0"
# Kernel: a device number whose driver is a module not yet loaded (1:2 is brd's) makes the lookup
# load it (request_module("block-major-1-2"): "block device autoloading is deprecated"), so the
# missing device in the MAJ:MIN:OFFSET form is a virtio minor that does not exist.
dmsetup create bad --table "0 1024 linear 254:99:3 0"
dmsetup create bad --table "0 0 linear $DISK_a 0"
dmsetup create bad --table "8 1024 linear $DISK_a 0"
dmsetup create bad --table "0 1024 linearx $DISK_a 0"
dmsetup create bad --table "0 x linear $DISK_a 0"
dmsetup create bad --table "x 1024 linear $DISK_a 0"
dmsetup create bad --table "0 1024"
# dmsetup: an empty --table is taken as --notable: a device with no table and no /dev/mapper node.
dmsetup create bad --table ""
dmsetup info bad
dmsetup table bad
blockdev --getsz /dev/mapper/bad
dmsetup remove bad
# Gaps and overlaps between segments.
printf '0 8 linear %s 0\n16 8 linear %s 0\n' $DISK_a $DISK_a | dmsetup create bad
printf '0 8 linear %s 0\n4 8 linear %s 0\n' $DISK_a $DISK_a | dmsetup create bad
# Comments and blank lines in a table are fine.
printf '# a comment\n\n0 8 linear %s 0\n' $DISK_a | dmsetup create good
dmsetup table good
# Kernel: a table naming the device itself loads fine; the inactive table then holds the device
# open, so it cannot be removed until that table is cleared.
dmsetup reload good --table "0 8 linear /dev/mapper/good 0"
dmsetup info -c good
dmsetup remove good
dmsetup clear good
# --table given twice: the last one wins.
dmsetup create two --table "0 1024 linear $DISK_a 0" --table "0 8 linear $DISK_a 8"
dmsetup table two
dmsetup ls
dmsetup remove good two
