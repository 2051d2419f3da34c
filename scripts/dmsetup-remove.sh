# remove, remove -f, remove --retry, several names, remove_all.
# disk: a 1M
dmsetup create a1 --table "0 8 linear $DISK_a 0"
dmsetup create a2 --table "0 8 linear $DISK_a 8"
dmsetup create a3 --table "0 8 linear $DISK_a 16"
dmsetup remove a1 a2
dmsetup ls
# Unknown devices, alone and among known ones.
dmsetup remove nosuch
dmsetup remove nosuch a3
dmsetup ls
# A device in use by another table.
dmsetup create base --table "0 64 linear $DISK_a 0"
dmsetup create top --table "0 8 linear /dev/mapper/base 0"
dmsetup remove base
dmsetup remove --retry base
# -f replaces the table with error and still cannot remove an open device.
dmsetup remove -f base
dmsetup table base
dmsetup info base
dmsetup remove top base
# remove_all takes everything, in whatever order it needs.
dmsetup create b1 --table "0 64 linear $DISK_a 0"
dmsetup create b2 --table "0 8 linear /dev/mapper/b1 0"
dmsetup create b3 --table "0 8 linear /dev/mapper/b2 0"
dmsetup create b4 --notable
dmsetup suspend b1
dmsetup remove_all
dmsetup ls
dmsetup remove_all
dmsetup remove
