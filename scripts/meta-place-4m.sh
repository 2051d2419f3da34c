# Where metadata blocks land (4 MiB metadata device): a metadata snapshot reserved, released and
# reserved again after messages, writes, a snapshot, a delete and discards. The held root in the
# status line is the block the superblock copy went to. After each step the metadata device is
# copied to one of the s disks, so the kernel's images and dmsim's can be compared block by block
# (cmd/thin-blockdiff).
# Writes never depend on when the pool's periodic commit runs: `sleep 2` makes the first write
# commit at once (the pool commits a change made more than a second after its last periodic
# commit), the rest of the line takes well under a second, and `dmsetup status pool` commits them.
# disk: meta 4M
# disk: data 64M
# disk: s1 4M
# disk: s2 4M
# disk: s3 4M
# disk: s4 4M
# disk: s5 4M
# disk: s6 4M
@snap() { dd if=$DISK_meta of=$1 bs=1M count=4 iflag=direct oflag=direct status=none; }
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "set_transaction_id 0 1"
dmsetup message pool 0 "create_thin 0"
dmsetup message pool 0 "create_thin 1"
dmsetup create thin0 --table "0 131072 thin /dev/mapper/pool 0"
dmsetup create thin1 --table "0 131072 thin /dev/mapper/pool 1"
sleep 2; dd if=/dev/zero of=/dev/mapper/thin0 bs=64K count=16 oflag=direct status=none; dmsetup status pool
@snap $DISK_s1
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup status pool
@snap $DISK_s2
sleep 2; dd if=/dev/zero of=/dev/mapper/thin1 bs=64K count=8 oflag=direct status=none; dd if=/dev/zero of=/dev/mapper/thin0 bs=64K seek=4 count=8 oflag=direct status=none; dmsetup status pool
@snap $DISK_s3
dmsetup suspend thin0
dmsetup message pool 0 "create_snap 2 0"
dmsetup resume thin0
dmsetup message pool 0 "release_metadata_snap"
dmsetup status pool
@snap $DISK_s4
dmsetup remove thin1
dmsetup message pool 0 "delete 1"
sleep 2; dd if=/dev/zero of=/dev/mapper/thin0 bs=64K seek=40 count=1 oflag=direct status=none; blkdiscard -o 0 -l 524288 /dev/mapper/thin0; dmsetup status pool
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup status pool
@snap $DISK_s5
dmsetup message pool 0 "set_transaction_id 1 2"
sleep 2; dd if=/dev/zero of=/dev/mapper/thin0 bs=64K seek=2 count=4 oflag=direct status=none; dmsetup status pool
dmsetup message pool 0 "release_metadata_snap"
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup status pool
@snap $DISK_s6
thin_dump -m $DISK_meta
dmsetup remove thin0
dmsetup remove pool
