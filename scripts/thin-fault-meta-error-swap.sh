# The metadata device swapped for the error target under a running pool (Red Hat bz1230271): the
# next commit fails, and so does the abort, which cannot read the superblock back: the pool fails
# for good. The disk still holds the last commit, which a new pool opens.
# disk: meta 4M
# disk: data 64M
dmsetup create meta --table "0 8192 linear $DISK_meta 0"
dmsetup create pool --table "0 131072 thin-pool /dev/mapper/meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin0 --table "0 8192 thin /dev/mapper/pool 0"
yes a | head -c 131072 | dd of=/dev/mapper/thin0 bs=64K iflag=fullblock oflag=direct status=none
dmsetup status pool
dmsetup reload meta --table "0 8192 error"
dmsetup suspend meta
dmsetup resume meta
dmsetup message pool 0 "create_thin 1"
dmsetup status pool
dmsetup status thin0
dmsetup table thin0
dd if=/dev/mapper/thin0 bs=64K count=1 iflag=direct status=none | od -c | head -2
dmsetup message pool 0 "create_thin 2"
dmsetup create thin1 --table "0 8192 thin /dev/mapper/pool 1"
dmsetup reload meta --table "0 8192 linear $DISK_meta 0"
dmsetup suspend meta
dmsetup resume meta
dmsetup status pool
dmsetup remove thin0
dmsetup remove pool
dmsetup remove meta
thin_check $DISK_meta
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup status pool
dmsetup create thin0 --table "0 8192 thin /dev/mapper/pool 0"
dd if=/dev/mapper/thin0 bs=64K count=1 skip=1 iflag=direct status=none | od -c | head -2
dmsetup remove thin0
dmsetup remove pool
