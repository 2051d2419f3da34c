# Discards and sharing: discarding a block still shared with a snapshot unmaps it from one device
# only and is not passed down; once nobody maps it, it is freed and passed down.
# disk: meta 4M
# disk: data 16M
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create origin --table "0 8192 thin /dev/mapper/pool 0"
yes S | head -c 262144 | dd of=/dev/mapper/origin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup suspend origin
dmsetup message pool 0 "create_snap 1 0"
dmsetup resume origin
dmsetup create snap --table "0 8192 thin /dev/mapper/pool 1"
dmsetup status pool
# Discard block 0 of the origin: still mapped by the snapshot, so not freed and not passed down.
blkdiscard -o 0 -l 65536 /dev/mapper/origin
dmsetup status origin
dmsetup status snap
dmsetup status pool
dd if=/dev/mapper/snap bs=64K count=1 iflag=direct status=none | head -c 2
dd if=$DISK_data bs=64K count=1 iflag=direct status=none | head -c 2
# Now the snapshot discards it too: freed, and the data disk is discarded.
blkdiscard -o 0 -l 65536 /dev/mapper/snap
dmsetup status pool
dd if=$DISK_data bs=64K count=1 iflag=direct status=none | md5sum
# Break the sharing of block 1 by writing the snapshot, then discard the origin's block 1:
# the origin's copy is no longer shared, so it is freed and passed down.
yes T | head -c 65536 | dd of=/dev/mapper/snap bs=64K seek=1 iflag=fullblock oflag=direct status=noxfer
dmsetup status pool
blkdiscard -o 65536 -l 65536 /dev/mapper/origin
dmsetup status pool
dd if=$DISK_data bs=64K count=1 skip=1 iflag=direct status=none | md5sum
dd if=/dev/mapper/snap bs=64K count=1 skip=1 iflag=direct status=none | head -c 2
# Discarding the whole origin leaves the snapshot intact.
blkdiscard /dev/mapper/origin
dmsetup status origin
dmsetup status snap
dmsetup status pool
for b in 0 1 2 3; do dd if=/dev/mapper/snap bs=64K count=1 skip=$b iflag=direct status=none | head -c 1 | tr "\000" .; done; echo
dmsetup remove snap origin
dmsetup remove pool
