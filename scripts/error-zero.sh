# The error and zero targets; zero's module (dm-zero) loads on its first use.
# disk: a 1M
dmsetup targets
dmsetup create err --table "0 1024 error"
dmsetup table err
dmsetup status err
dd if=/dev/mapper/err bs=4K count=1 iflag=direct status=none | wc -c
printf x | dd of=/dev/mapper/err bs=512 count=1 conv=fsync status=none
# Kernel: error ignores any arguments.
dmsetup create err2 --table "0 1024 error foo"
# A target type that no module provides is unknown.
dmsetup create frob --table "0 1024 frobnicate"
# Kernel: the first table naming zero loads dm-zero (request_module("dm-zero") runs /sbin/modprobe),
# so zero appears in the list of targets; a later modprobe has nothing to do.
dmsetup create zero --table "0 2097152 zero"
dmsetup targets
modprobe dm-zero
dmsetup table zero
dmsetup status zero
dd if=/dev/mapper/zero bs=64K count=2 skip=10 iflag=direct status=none | md5sum
# Writes to zero vanish.
yes z | head -c 4096 | dd of=/dev/mapper/zero bs=4K iflag=fullblock oflag=direct status=noxfer
dd if=/dev/mapper/zero bs=4K count=1 iflag=direct status=none | md5sum
dmsetup create zero2 --table "0 1024 zero x"
# A mix: zeroes, then errors, then the disk.
printf '0 8 zero\n8 8 error\n16 8 linear %s 0\n' $DISK_a | dmsetup create mix
dmsetup table mix
dd if=/dev/mapper/mix bs=512 count=8 iflag=direct status=none | wc -c
dd if=/dev/mapper/mix bs=512 count=1 skip=8 iflag=direct status=none | wc -c
dd if=/dev/mapper/mix bs=512 count=16 iflag=direct status=none | wc -c
# Error can replace anything.
dmsetup reload zero --table "0 2097152 error"
dmsetup resume zero
dmsetup status zero
dmsetup table err2
dmsetup remove err err2 zero mix
