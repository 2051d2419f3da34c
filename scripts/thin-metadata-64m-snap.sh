# A 64 MiB metadata device with four thin devices and snapshots: the held metadata snapshot answers
# thin_ls -m with every field and thin_delta -m between devices while the pool keeps changing.
# disk: meta 64M
# disk: data 64M
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 256 0"
dmsetup status pool
dmsetup message pool 0 "create_thin 0"
dmsetup message pool 0 "create_thin 1"
dmsetup create t0 --table "0 32768 thin /dev/mapper/pool 0"
dmsetup create t1 --table "0 32768 thin /dev/mapper/pool 1"
for b in 0 1 2 3; do yes 0 | head -c 131072 | dd of=/dev/mapper/t0 bs=128K seek=$b iflag=fullblock oflag=direct conv=fsync status=none; done
yes 1 | head -c 131072 | dd of=/dev/mapper/t1 bs=128K seek=9 iflag=fullblock oflag=direct conv=fsync status=none
dmsetup suspend t0
dmsetup message pool 0 "create_snap 10 0"
dmsetup resume t0
dmsetup message pool 0 "create_snap 11 10"
yes 0 | head -c 131072 | dd of=/dev/mapper/t0 bs=128K seek=4 iflag=fullblock oflag=direct conv=fsync status=none
dmsetup message pool 0 "set_transaction_id 0 64"
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup status pool
thin_ls -m -o DEV,MAPPED_BLOCKS,EXCLUSIVE_BLOCKS,SHARED_BLOCKS,MAPPED_SECTORS,EXCLUSIVE_SECTORS,SHARED_SECTORS,MAPPED_BYTES,TRANSACTION,CREATE_TIME,SNAP_TIME $DISK_meta
thin_ls -m --no-headers -o DEV,MAPPED $DISK_meta
thin_delta -m --snap1 0 --snap2 10 $DISK_meta
thin_delta -m --snap1 10 --snap2 11 $DISK_meta
thin_delta -m --verbose --snap1 1 --snap2 0 $DISK_meta
thin_delta -m --snap1 0 --snap2 99 $DISK_meta
# After the reservation: delete a snapshot and write more; the held copy does not change.
dmsetup message pool 0 "delete 11"
yes 1 | head -c 131072 | dd of=/dev/mapper/t1 bs=128K seek=2 iflag=fullblock oflag=direct conv=fsync status=none
dmsetup status pool
thin_ls -m $DISK_meta
dmsetup message pool 0 "release_metadata_snap"
dmsetup remove t0 t1
dmsetup remove pool
thin_ls $DISK_meta
