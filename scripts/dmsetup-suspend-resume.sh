# suspend and resume, with --noflush and --nolockfs, and their errors.
# disk: a 1M
dmsetup create dev --table "0 8 linear $DISK_a 0"
dmsetup suspend dev
dmsetup info dev
dmsetup info -c dev
dmsetup status dev
dmsetup table dev
dmsetup resume dev
dmsetup info dev
dmsetup suspend --noflush dev
dmsetup resume dev
dmsetup suspend --nolockfs dev
dmsetup resume --nolockfs dev
dmsetup suspend --noflush --nolockfs dev
dmsetup resume --noflush dev
# Resuming a device that is not suspended, and unknown devices.
dmsetup resume dev
dmsetup suspend nosuch
dmsetup resume nosuch
# Several devices at once.
dmsetup create dev2 --table "0 8 linear $DISK_a 8"
dmsetup suspend dev dev2
dmsetup info -c
dmsetup resume dev dev2
# A device with no table can be suspended and resumed.
dmsetup create empty --notable
dmsetup suspend empty
dmsetup info empty
dmsetup resume empty
dmsetup info empty
# Event numbers do not move on suspend and resume.
dmsetup info -c
dmsetup remove dev dev2 empty
