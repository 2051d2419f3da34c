# Where metadata blocks land (16 MiB metadata device): enough writes that a device's mapping leaves
# split (275 mappings), a metadata snapshot held across a snapshot, writes to both sides (shared
# leaves shadowed) and a discard of half the device, then released and reserved again. After each
# step the metadata device is copied to an s disk, so that the kernel's images and dmsim's can be
# compared block by block (cmd/thin-blockdiff).
# Writes never depend on when the pool's periodic commit runs: `sleep 2` makes the first write
# commit at once (the pool commits a change made more than a second after its last periodic
# commit), the rest of the line takes well under a second, and `dmsetup status pool` commits them.
# disk: meta 16M
# disk: data 64M
# disk: s1 8M
# disk: s2 8M
# disk: s3 8M
# disk: s4 8M
# disk: s5 8M
@snap() { dd if=$DISK_meta of=$1 bs=1M count=8 iflag=direct oflag=direct status=none; }
@w() { dd if=/dev/zero of=/dev/mapper/$1 bs=64K seek=$2 count=$3 oflag=direct status=none; }
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 131072 thin /dev/mapper/pool 0"
sleep 2; w thin 0 25; dmsetup status pool
sleep 2; w thin 400 25; dmsetup status pool
sleep 2; w thin 800 25; dmsetup status pool
sleep 2; w thin 100 25; dmsetup status pool
sleep 2; w thin 500 25; dmsetup status pool
sleep 2; w thin 900 25; dmsetup status pool
sleep 2; w thin 200 25; dmsetup status pool
sleep 2; w thin 600 25; dmsetup status pool
sleep 2; w thin 300 25; dmsetup status pool
sleep 2; w thin 700 25; dmsetup status pool
sleep 2; w thin 25 25; dmsetup status pool
@snap $DISK_s1
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup status pool
@snap $DISK_s2
dmsetup suspend thin
dmsetup message pool 0 "create_snap 1 0"
dmsetup resume thin
dmsetup create snap --table "0 131072 thin /dev/mapper/pool 1"
sleep 2; w snap 100 8; w thin 400 8; dmsetup status pool
@snap $DISK_s3
sleep 2; w thin 50 1; blkdiscard -o 0 -l 33554432 /dev/mapper/thin; dmsetup status pool
@snap $DISK_s4
dmsetup message pool 0 "release_metadata_snap"
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup status pool
@snap $DISK_s5
thin_ls -m $DISK_meta
dmsetup remove snap thin
dmsetup remove pool
