# An 8 MiB metadata device with skip_block_zeroing: transaction ids, single-block flushed writes, then a
# metadata snapshot read with thin_dump -m, thin_ls -m and thin_delta -m, released and reserved again.
# disk: meta 8M
# disk: data 32M
dmsetup create pool --table "0 65536 thin-pool $DISK_meta $DISK_data 128 0 1 skip_block_zeroing"
dmsetup status pool
dmsetup message pool 0 "set_transaction_id 0 1"
dmsetup message pool 0 "set_transaction_id 1 2"
dmsetup message pool 0 "create_thin 0"
dmsetup create t0 --table "0 16384 thin /dev/mapper/pool 0"
# Each write provisions one block and is flushed, which commits.
for b in 0 3 7 12; do yes a | head -c 65536 | dd of=/dev/mapper/t0 bs=64K seek=$b iflag=fullblock oflag=direct conv=fsync status=none; done
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup status pool
thin_dump -m $DISK_meta
thin_ls -m $DISK_meta
dmsetup suspend t0
dmsetup message pool 0 "create_snap 1 0"
dmsetup resume t0
for b in 3 20; do yes b | head -c 65536 | dd of=/dev/mapper/t0 bs=64K seek=$b iflag=fullblock oflag=direct conv=fsync status=none; done
dmsetup status pool
# The held snapshot still has one device only.
thin_dump -m $DISK_meta
thin_delta -m --snap1 0 --snap2 1 $DISK_meta
dmsetup message pool 0 "release_metadata_snap"
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup status pool
thin_ls -m -o DEV,MAPPED_BLOCKS,EXCLUSIVE_BLOCKS,SHARED_BLOCKS $DISK_meta
thin_delta -m --snap1 1 --snap2 0 $DISK_meta
thin_delta -m --verbose --snap1 1 --snap2 0 $DISK_meta
thin_dump -m $DISK_meta
dmsetup remove t0
dmsetup remove pool
