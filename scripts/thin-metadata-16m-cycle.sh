# A 16 MiB metadata device: reserve, release and reserve the metadata snapshot again after different mixes of
# messages (set_transaction_id, create_thin, create_snap, delete) and discards, dumping each held copy.
# disk: meta 16M
# disk: data 32M
dmsetup create pool --table "0 65536 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup message pool 0 "create_thin 1"
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup status pool
thin_ls -m $DISK_meta
dmsetup message pool 0 "release_metadata_snap"
dmsetup create t0 --table "0 8192 thin /dev/mapper/pool 0"
yes c | head -c 65536 | dd of=/dev/mapper/t0 bs=64K seek=1 iflag=fullblock oflag=direct conv=fsync status=none
yes c | head -c 65536 | dd of=/dev/mapper/t0 bs=64K seek=2 iflag=fullblock oflag=direct conv=fsync status=none
dmsetup message pool 0 "set_transaction_id 0 5"
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup status pool
thin_dump -m $DISK_meta
dmsetup message pool 0 "release_metadata_snap"
dmsetup message pool 0 "delete 1"
dmsetup suspend t0
dmsetup message pool 0 "create_snap 2 0"
dmsetup resume t0
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup status pool
thin_dump -m $DISK_meta
dmsetup message pool 0 "release_metadata_snap"
# A discard unmaps block 1 of device 0; the snapshot 2 keeps it.
blkdiscard -o 65536 -l 65536 /dev/mapper/t0
dmsetup status pool
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup status pool
thin_delta -m --snap1 2 --snap2 0 $DISK_meta
thin_ls -m -o DEV,MAPPED_BLOCKS,EXCLUSIVE_BLOCKS,SHARED_BLOCKS $DISK_meta
# A second reserve while one is held is refused; release twice.
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup message pool 0 "release_metadata_snap"
dmsetup message pool 0 "release_metadata_snap"
dmsetup status pool
dmsetup remove t0
dmsetup remove pool
thin_check $DISK_meta
thin_ls $DISK_meta
