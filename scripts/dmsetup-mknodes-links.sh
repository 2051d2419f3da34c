# dmsetup over symlinks and directories in /dev/mapper (udev disabled, so libdm fixes nodes itself):
# create and mknodes stat() through a symlink (_add_dev_node), remove lstat()s and unlinks it
# (_rm_dev_node), rename stats through a symlink at the new name (_rename_dev_node), and a directory
# can be neither replaced nor unlinked. busybox mkdir and ln make them.
# disk: a 1M
mkdir /dev/mapper/d
mkdir /dev/mapper/d
mkdir -p /dev/mapper/d/e/f
mkdir -p /dev/mapper/d/e
mkdir /dev/mapper/g/h
ln -s /dev/null /dev/mapper/n
ln -s /dev/null /dev/mapper/n
ln -s /nowhere /dev/mapper/dangling
ln -sf $DISK_a /dev/mapper/v
ln -s /dev/mapper/d /dev/mapper/ld
ln -sf /x /dev/mapper/ld
[ -L /dev/mapper/d/x ] && echo ln without -n made d/x
ln -sfn /dev/null /dev/mapper/ld
echo /dev/mapper/* /dev/mapper/d/*
[ -L /dev/mapper/n ] && [ -c /dev/mapper/n ] && echo n is a link to a char device
[ -d /dev/mapper/d/e/f ] && echo d/e/f is a directory
[ -L /dev/mapper/ld ] && [ -c /dev/mapper/ld ] && echo ld is a link to a char device
# create: a directory, a link to a char device or to nothing is in the way; a link to another block
# device is replaced by the node.
dmsetup create d --table "0 8 linear $DISK_a 0"
dmsetup create n --table "0 8 linear $DISK_a 8"
dmsetup create dangling --table "0 8 linear $DISK_a 16"
dmsetup create v --table "0 8 linear $DISK_a 24"
echo /dev/mapper/*
[ -L /dev/mapper/v ] || [ -b /dev/mapper/v ] && echo v is a node
[ -L /dev/mapper/dangling ] && echo dangling is still a link
dmsetup info -c -o name,major,minor
# mknodes: each name in /dev/mapper (a directory with no device cannot be unlinked), then each device.
dmsetup mknodes
echo /dev/mapper/*
dmsetup mknodes ld
dmsetup mknodes g
echo /dev/mapper/*
# remove lstat()s: the link goes, the directory stays.
dmsetup remove n
dmsetup remove d
echo /dev/mapper/*
# rename onto a dangling link, a link to a char device, and a directory.
ln -s /nowhere /dev/mapper/r
dmsetup rename v r
ln -s /dev/null /dev/mapper/s
dmsetup rename r s
mkdir /dev/mapper/t
dmsetup rename s t
echo /dev/mapper/*
dmsetup info -c -o name,major,minor
dmsetup mknodes
echo /dev/mapper/* /dev/mapper/d/*
dmsetup remove_all
echo /dev/mapper/*
