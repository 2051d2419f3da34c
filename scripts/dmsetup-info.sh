# dmsetup info, long and in columns (-c), in every state.
# disk: a 1M
dmsetup info
dmsetup info -c
dmsetup create dev --table "0 8 linear $DISK_a 0"
dmsetup create dev2 -u some-uuid --readonly --table "0 8 linear $DISK_a 8"
dmsetup create empty --notable
dmsetup load dev --table "0 16 linear $DISK_a 0"
dmsetup suspend dev2
dmsetup info
dmsetup info -c
dmsetup info dev
dmsetup info -c dev dev2
dmsetup info nosuch
dmsetup info -c nosuch
# Open counts: a device used by two tables is open twice.
# A device with no table has no node in /dev/mapper and no size.
dmsetup create u1 --table "0 8 linear 253:2 0"
dmsetup resume dev
dmsetup create u2 --table "0 8 linear /dev/mapper/dev 0"
dmsetup create u3 --table "0 8 linear /dev/mapper/dev 8"
dmsetup info -c dev
dmsetup resume dev2
dmsetup remove_all
