# Where metadata blocks land (1 GiB metadata device: 17 space-map bitmaps) over a 2 GiB data device
# (three data bitmaps): writes far apart, a snapshot, a metadata snapshot reserved, released and
# reserved again, a delete and a discard. After each step the first 8 MiB of the metadata device
# (where every block in use lies) is copied to an s disk, so that the kernel's images and dmsim's
# can be compared block by block (cmd/thin-blockdiff).
# Writes never depend on when the pool's periodic commit runs: `sleep 2` makes the first write
# commit at once (the pool commits a change made more than a second after its last periodic
# commit), the rest of the line takes well under a second, and `dmsetup status pool` commits them.
# disk: meta 1G
# disk: data 2G
# disk: s1 8M
# disk: s2 8M
# disk: s3 8M
# disk: s4 8M
# disk: s5 8M
@snap() { dd if=$DISK_meta of=$1 bs=1M count=8 iflag=direct oflag=direct status=none; }
@w() { dd if=/dev/zero of=/dev/mapper/$1 bs=64K seek=$2 count=$3 oflag=direct status=none; }
dmsetup create pool --table "0 4194304 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup status pool
@snap $DISK_s1
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 4194304 thin /dev/mapper/pool 0"
sleep 2; w thin 0 4; w thin 16000 4; w thin 32000 4; dmsetup status pool
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup status pool
@snap $DISK_s2
dmsetup suspend thin
dmsetup message pool 0 "create_snap 1 0"
dmsetup resume thin
sleep 2; w thin 1 2; w thin 20000 8; dmsetup status pool
@snap $DISK_s3
dmsetup message pool 0 "release_metadata_snap"
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup status pool
@snap $DISK_s4
dmsetup message pool 0 "delete 1"
sleep 2; w thin 30000 1; blkdiscard -o 0 -l 1048576 /dev/mapper/thin; dmsetup status pool
dmsetup message pool 0 "release_metadata_snap"
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup status pool
@snap $DISK_s5
thin_dump -m $DISK_meta
dmsetup remove thin
dmsetup remove pool
