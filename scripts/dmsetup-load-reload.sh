# load/reload fill the inactive table; resume makes it live.
# disk: a 1M
yes a | head -c 1048576 | dd of=$DISK_a bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup create dev --table "0 8 linear $DISK_a 0"
dmsetup load dev --table "0 16 linear $DISK_a 8"
dmsetup info dev
dmsetup table dev
dmsetup table --inactive dev
dmsetup status --inactive dev
blockdev --getsz /dev/mapper/dev
# A second load replaces the inactive table.
dmsetup reload dev --table "0 32 linear $DISK_a 16"
dmsetup table --inactive dev
# A bad load keeps the good inactive table.
dmsetup reload dev --table "0 32 linear /dev/nonexistent 0"
dmsetup info dev
dmsetup table --inactive dev
# Resume swaps them in.
dmsetup resume dev
dmsetup info dev
dmsetup table dev
blockdev --getsz /dev/mapper/dev
# A table from stdin.
printf '0 64 linear %s 0\n' $DISK_a | dmsetup reload dev
dmsetup table --inactive dev
# Load into a device with no table, then resume it.
dmsetup create empty --notable
dmsetup load empty --table "0 8 linear $DISK_a 0"
dmsetup info empty
dmsetup resume empty
dmsetup info empty
# Load on an unknown device.
dmsetup load nosuch --table "0 8 linear $DISK_a 0"
dmsetup remove dev empty
