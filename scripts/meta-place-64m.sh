# Where metadata blocks land (64 MiB metadata device: two space-map bitmaps): three thins, a chain
# of snapshots, deletes and discards, with the metadata snapshot reserved and released several
# times; a second reserve while one is held (EBUSY: the kernel has already shadowed the superblock
# by then, and gives the block back) and a release with none held. After each step the metadata
# device is copied to an s disk, so that the kernel's images and dmsim's can be compared block by
# block (cmd/thin-blockdiff).
# Writes never depend on when the pool's periodic commit runs: `sleep 2` makes the first write
# commit at once (the pool commits a change made more than a second after its last periodic
# commit), the rest of the line takes well under a second, and `dmsetup status pool` commits them.
# disk: meta 64M
# disk: data 64M
# disk: s1 8M
# disk: s2 8M
# disk: s3 8M
# disk: s4 8M
# disk: s5 8M
# disk: s6 8M
@snap() { dd if=$DISK_meta of=$1 bs=1M count=8 iflag=direct oflag=direct status=none; }
@w() { dd if=/dev/zero of=/dev/mapper/$1 bs=64K seek=$2 count=$3 oflag=direct status=none; }
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "release_metadata_snap"
dmsetup message pool 0 "create_thin 0"
dmsetup message pool 0 "create_thin 1"
dmsetup message pool 0 "create_thin 2"
dmsetup create t0 --table "0 131072 thin /dev/mapper/pool 0"
dmsetup create t1 --table "0 131072 thin /dev/mapper/pool 1"
dmsetup create t2 --table "0 131072 thin /dev/mapper/pool 2"
sleep 2; w t0 0 10; w t1 20 10; dmsetup status pool
sleep 2; w t2 5 10; w t0 200 6; dmsetup status pool
@snap $DISK_s1
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup status pool
@snap $DISK_s2
dmsetup suspend t0
dmsetup message pool 0 "create_snap 10 0"
dmsetup resume t0
sleep 2; w t0 2 4; dmsetup status pool
dmsetup suspend t0
dmsetup message pool 0 "create_snap 11 0"
dmsetup resume t0
dmsetup message pool 0 "create_snap 12 10"
sleep 2; w t0 3 4; w t1 25 2; dmsetup status pool
@snap $DISK_s3
dmsetup message pool 0 "release_metadata_snap"
dmsetup message pool 0 "delete 10"
dmsetup status pool
@snap $DISK_s4
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup remove t2
dmsetup message pool 0 "delete 2"
sleep 2; w t1 40 2; blkdiscard -o 1310720 -l 655360 /dev/mapper/t1; dmsetup status pool
@snap $DISK_s5
dmsetup message pool 0 "delete 11"
dmsetup message pool 0 "release_metadata_snap"
dmsetup message pool 0 "set_transaction_id 0 7"
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup status pool
@snap $DISK_s6
thin_ls -m $DISK_meta
dmsetup remove t0 t1
dmsetup remove pool
