# Snapshots share blocks with their origin until either side writes; partial writes copy the rest.
# disk: meta 4M
# disk: data 16M
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create origin --table "0 8192 thin /dev/mapper/pool 0"
yes A | head -c 262144 | dd of=/dev/mapper/origin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup status pool
dmsetup suspend origin
dmsetup message pool 0 "create_snap 1 0"
dmsetup resume origin
dmsetup create snap --table "0 8192 thin /dev/mapper/pool 1"
dmsetup status snap
dmsetup status pool
# A whole-block write to the snapshot takes a new block; the origin still reads A.
yes B | head -c 65536 | dd of=/dev/mapper/snap bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup status pool
dd if=/dev/mapper/origin bs=64K count=1 iflag=direct status=none | md5sum
dd if=/dev/mapper/snap bs=64K count=1 iflag=direct status=none | md5sum
# A 4 KiB write into a shared block: the other 60 KiB are copied from the shared block.
yes C | head -c 4096 | dd of=/dev/mapper/origin bs=4K seek=17 iflag=fullblock oflag=direct status=noxfer
dmsetup status pool
dd if=/dev/mapper/origin bs=4K count=3 skip=16 iflag=direct status=none | od -A d -c
dd if=/dev/mapper/snap bs=4K count=3 skip=16 iflag=direct status=none | od -A d -c
# Writing a block again that is no longer shared takes no new block.
yes D | head -c 65536 | dd of=/dev/mapper/snap bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup status pool
# Writing an unmapped block of the snapshot takes a new block, not shared with anyone.
yes E | head -c 65536 | dd of=/dev/mapper/snap bs=64K seek=40 iflag=fullblock oflag=direct status=noxfer
dmsetup status snap
dmsetup status origin
dmsetup status pool
# A snapshot of an inactive device needs no suspend.
dmsetup remove snap
dmsetup message pool 0 "create_snap 2 1"
# Errors: the new id exists, the origin does not, the same id twice.
dmsetup message pool 0 "create_snap 2 0"
dmsetup message pool 0 "create_snap 3 9"
dmsetup message pool 0 "create_snap 3 3"
dmsetup message pool 0 "create_snap 3"
# Deleting the origin keeps the snapshot's blocks.
dmsetup remove origin
dmsetup message pool 0 "delete 0"
dmsetup status pool
dmsetup create snap2 --table "0 8192 thin /dev/mapper/pool 2"
dd if=/dev/mapper/snap2 bs=64K count=1 skip=1 iflag=direct status=none | head -c 4
dmsetup remove snap2
dmsetup remove pool
