# Two thin devices, a snapshot and a transaction id, built by dmsim; the kernel reopens the pool,
# reads the data back, writes more, deletes a device and leaves metadata thin_check accepts.
# disk: meta 4M
# disk: data 32M
dmsetup create pool --table "0 65536 thin-pool $DISK_meta $DISK_data 128 16"
dmsetup message pool 0 "create_thin 0"
dmsetup message pool 0 "create_thin 7"
dmsetup create t0 --table "0 16384 thin /dev/mapper/pool 0"
dmsetup create t7 --table "0 16384 thin /dev/mapper/pool 7"
yes a | head -c 327680 | dd of=/dev/mapper/t0 bs=64K iflag=fullblock oflag=direct status=noxfer
yes b | head -c 131072 | dd of=/dev/mapper/t7 bs=64K seek=20 iflag=fullblock oflag=direct status=noxfer
# A partial write to a new block: the rest of the block is zeroed.
printf partial | dd of=/dev/mapper/t7 bs=512 seek=1000 conv=fsync status=none
dmsetup suspend t0
dmsetup message pool 0 "create_snap 1 0"
dmsetup resume t0
yes c | head -c 65536 | dd of=/dev/mapper/t0 bs=64K seek=2 iflag=fullblock oflag=direct status=noxfer
dmsetup message pool 0 "set_transaction_id 0 42"
dmsetup status pool
dmsetup status t0
dmsetup status t7
# Power off with everything active; the kernel boots on dmsim's images.
# reboot
thin_check $DISK_meta
thin_ls $DISK_meta
thin_dump $DISK_meta
dmsetup create pool --table "0 65536 thin-pool $DISK_meta $DISK_data 128 16"
dmsetup status pool
dmsetup create t0 --table "0 16384 thin /dev/mapper/pool 0"
dmsetup create t1 --table "0 16384 thin /dev/mapper/pool 1"
dmsetup create t7 --table "0 16384 thin /dev/mapper/pool 7"
dmsetup status t0
dmsetup status t1
dmsetup status t7
dd if=/dev/mapper/t0 bs=64K count=8 iflag=direct status=none | md5sum
dd if=/dev/mapper/t1 bs=64K count=8 iflag=direct status=none | md5sum
dd if=/dev/mapper/t7 bs=64K count=32 iflag=direct status=none | md5sum
dd if=/dev/mapper/t7 bs=512 skip=1000 count=2 iflag=direct status=none | od -c
# New blocks come from the free space dmsim's space map recorded.
yes d | head -c 131072 | dd of=/dev/mapper/t1 bs=64K seek=10 iflag=fullblock oflag=direct status=noxfer
dmsetup status pool
dmsetup status t1
dmsetup remove t0 t1 t7
dmsetup message pool 0 "delete 7"
dmsetup message pool 0 "set_transaction_id 42 43"
dmsetup status pool
dmsetup remove pool
thin_check $DISK_meta
thin_dump $DISK_meta
