# The linear target: a range of sectors of another device, possibly in several segments.
# disk: a 1M
# disk: b 1M
yes a | head -c 1048576 | dd of=$DISK_a bs=64K iflag=fullblock oflag=direct status=noxfer
yes b | head -c 1048576 | dd of=$DISK_b bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup create lin --table "0 1024 linear $DISK_a 1024"
dmsetup table lin
dmsetup status lin
blockdev --getsz /dev/mapper/lin
blockdev --getsize64 /dev/mapper/lin
blockdev --getss /dev/mapper/lin
blockdev --getro /dev/mapper/lin
# Two segments from two disks, devices given as paths or as major:minor.
printf '0 8 linear %s 0\n8 8 linear 254:16 8\n' $DISK_a | dmsetup create two
dmsetup table two
dmsetup status two
dd if=/dev/mapper/two bs=512 count=16 iflag=direct status=none | od -A d -c
# Writes go to the right place.
printf 'hello' | dd of=/dev/mapper/two bs=512 seek=9 conv=notrunc,fsync status=none
dd if=$DISK_b bs=512 count=1 skip=9 iflag=direct status=none | head -c 6; echo
# Linear on linear, and a device used by two tables.
dmsetup create lin2 --table "0 16 linear /dev/mapper/two 0"
dmsetup create lin3 --table "0 16 linear /dev/mapper/two 0"
dmsetup deps
dmsetup info -c
# Reading one sector past the end gives nothing.
dd if=/dev/mapper/lin2 bs=512 count=1 skip=16 iflag=direct status=none | wc -c
# A table covering all of a disk, and a zero offset given as 0.
dmsetup create whole --table "0 2048 linear $DISK_b 0"
dd if=/dev/mapper/whole bs=512 count=1 skip=2047 iflag=direct status=none | head -c 2
blockdev --flushbufs /dev/mapper/whole
dmsetup remove lin3 lin2
dmsetup remove two lin whole
dmsetup ls
