# dmsetup create: tables on the command line or on stdin, uuids, --notable, --readonly.
# disk: a 1M
dmsetup create one --table "0 1024 linear $DISK_a 0"
printf '0 1024 linear %s 1024\n' $DISK_a | dmsetup create two
dmsetup create three -u my-uuid-3 --table "0 8 linear $DISK_a 0"
dmsetup info three
dmsetup info -c
# The name and the uuid are both unique.
dmsetup create one --table "0 8 linear $DISK_a 0"
dmsetup create four -u my-uuid-3 --table "0 8 linear $DISK_a 0"
dmsetup ls
# --notable: a device with no table at all.
dmsetup create empty --notable
dmsetup info empty
dmsetup table empty
dmsetup status empty
blockdev --getsz /dev/mapper/empty
# --readonly.
dmsetup create ro --readonly --table "0 8 linear $DISK_a 0"
dmsetup info ro
blockdev --getro /dev/mapper/ro
dmsetup table ro
printf x | dd of=/dev/mapper/ro bs=512 count=1 conv=fsync status=none
# Names: too long, with a slash, empty, missing.
dmsetup create aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa --table "0 8 linear $DISK_a 0"
dmsetup create a/b --table "0 8 linear $DISK_a 0"
dmsetup create "" --table "0 8 linear $DISK_a 0"
dmsetup create
# A failing table leaves no device behind.
dmsetup create bad --table "0 8 linear /dev/nonexistent 0"
dmsetup info bad
dmsetup remove one two three empty ro
dmsetup ls
