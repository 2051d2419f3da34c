# dmsetup mknodes over odd entries in /dev/mapper (udev disabled, so libdm fixes nodes itself): regular
# files where a device's node belongs and where no device is, and what create, rename, mknodes and
# remove do when such a file is in the way (_add_dev_node, _rename_dev_node, _rm_dev_node).
# disk: a 1M
# A file in the way of a new device: create reports it and leaves it, the device works.
echo file > /dev/mapper/x
echo file > /dev/mapper/orphan
echo /dev/mapper/*
dmsetup create x --table "0 8 linear $DISK_a 0"
dmsetup create y --table "0 8 linear $DISK_a 8"
echo /dev/mapper/*
cat /dev/mapper/x
dmsetup info -c -o name,major,minor
# mknodes for the device keeps the file; for a name with no device it removes whatever is there.
dmsetup mknodes x
cat /dev/mapper/x
dmsetup mknodes orphan
echo /dev/mapper/*
# mknodes for all: each name in /dev/mapper, then each device, so the file is reported twice.
dmsetup mknodes
echo /dev/mapper/*
cat /dev/mapper/x
# A file in the way of a rename: the device is renamed, its node keeps the old name.
echo file > /dev/mapper/z
dmsetup rename y z
echo /dev/mapper/*
dmsetup info -c -o name,major,minor
# Removing a device whose node is a regular file removes the file.
dmsetup remove x
echo /dev/mapper/*
# mknodes removes the stale node y and reports the file z twice.
dmsetup mknodes
echo /dev/mapper/*
dmsetup remove z
echo /dev/mapper/*
dmsetup mknodes
echo /dev/mapper/*
