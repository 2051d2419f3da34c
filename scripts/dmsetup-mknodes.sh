# dmsetup mknodes: with udev disabled, dmsetup makes and removes /dev/mapper nodes itself.
# disk: a 1M
echo /dev/mapper/*
dmsetup create dev --table "0 8 linear $DISK_a 0"
echo /dev/mapper/*
dmsetup mknodes
dmsetup mknodes dev
dmsetup mknodes nosuch
echo /dev/mapper/*
dmsetup rename dev dev2
echo /dev/mapper/*
dmsetup create empty --notable
echo /dev/mapper/*
dmsetup remove dev2 empty
echo /dev/mapper/*
dmsetup mknodes
echo /dev/mapper/*
