# Where metadata blocks land (8 MiB metadata device, skip_block_zeroing): transaction-id messages,
# writes, then a metadata snapshot; a snapshot of the thin and its deletion while the metadata
# snapshot is held; release and reserve again. The held root in the status line is the block the
# superblock copy went to. After each step the metadata device is copied to an s disk, so that the
# kernel's images and dmsim's can be compared block by block (cmd/thin-blockdiff).
# Writes never depend on when the pool's periodic commit runs: `sleep 2` makes the first write
# commit at once (the pool commits a change made more than a second after its last periodic
# commit), the rest of the line takes well under a second, and `dmsetup status pool` commits them.
# (Writes fed by `yes | head` take seconds under qemu, so the periodic commits that land among them
# depend on the recording machine's speed: two recordings put the held root at 67 and 88.)
# disk: meta 8M
# disk: data 64M
# disk: s1 8M
# disk: s2 8M
# disk: s3 8M
# disk: s4 8M
# disk: s5 8M
@snap() { dd if=$DISK_meta of=$1 bs=1M iflag=direct oflag=direct status=none; }
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0 1 skip_block_zeroing"
dmsetup message pool 0 "set_transaction_id 0 1"
dmsetup message pool 0 "set_transaction_id 1 2"
dmsetup message pool 0 "set_transaction_id 2 3"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 131072 thin /dev/mapper/pool 0"
sleep 2; dd if=/dev/zero of=/dev/mapper/thin bs=64K count=16 oflag=direct status=none; dmsetup status pool
@snap $DISK_s1
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup status pool
@snap $DISK_s2
dmsetup message pool 0 "set_transaction_id 3 4"
sleep 2; dd if=/dev/zero of=/dev/mapper/thin bs=64K seek=32 count=16 oflag=direct status=none; dmsetup status pool
dmsetup suspend thin
dmsetup message pool 0 "create_snap 1 0"
dmsetup resume thin
sleep 2; dd if=/dev/zero of=/dev/mapper/thin bs=64K seek=8 count=4 oflag=direct status=none; dmsetup status pool
@snap $DISK_s3
dmsetup message pool 0 "delete 1"
dmsetup status pool
@snap $DISK_s4
dmsetup message pool 0 "release_metadata_snap"
dmsetup message pool 0 "set_transaction_id 4 5"
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup status pool
@snap $DISK_s5
thin_dump -m $DISK_meta
dmsetup remove thin
dmsetup remove pool
