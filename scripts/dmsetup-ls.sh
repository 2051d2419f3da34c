# dmsetup ls (--target), deps, targets, version.
# disk: a 1M
# disk: b 1M
dmsetup version
dmsetup targets
dmsetup ls
dmsetup deps
dmsetup create lin --table "0 8 linear $DISK_a 0"
printf '0 8 linear %s 0\n8 8 linear %s 0\n' $DISK_a $DISK_b | dmsetup create both
dmsetup create st --table "0 16 striped 2 8 $DISK_a 8 $DISK_b 8"
dmsetup create top --table "0 8 linear /dev/mapper/both 0"
dmsetup create empty --notable
dmsetup ls
dmsetup ls --target linear
dmsetup ls --target striped
dmsetup ls --target thin
dmsetup deps
dmsetup deps top
dmsetup deps empty
dmsetup deps nosuch
modprobe dm-zero
modprobe dm-flakey
modprobe dm-delay
dmsetup targets
dmsetup remove_all
dmsetup ls
