# Growing and shrinking the data of a pool, and the low water mark event.
# disk: meta 4M
# disk: data 16M
# A pool cannot be longer than its data disk.
dmsetup create pool --table "0 40960 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup create pool --table "0 8192 thin-pool $DISK_meta $DISK_data 128 60"
dmsetup status pool
dmsetup info pool
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 32768 thin /dev/mapper/pool 0"
# Low water mark 60 free blocks of 64: the fifth block crosses it, once.
yes w | head -c 327680 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup info pool
yes w | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=10 iflag=fullblock oflag=direct status=noxfer
dmsetup info pool
# A reloaded but not yet resumed table does not change the size.
dmsetup reload pool --table "0 16384 thin-pool $DISK_meta $DISK_data 128 60"
dmsetup status pool
dmsetup info pool
dmsetup suspend pool
dmsetup resume pool
dmsetup status pool
dmsetup info pool
# A size that is not a whole number of blocks: the tail is not used.
dmsetup reload pool --table "0 16400 thin-pool $DISK_meta $DISK_data 128 60"
dmsetup suspend pool
dmsetup resume pool
dmsetup status pool
# Shrinking is refused at resume, and the pool stays suspended.
dmsetup reload pool --table "0 8192 thin-pool $DISK_meta $DISK_data 128 60"
dmsetup suspend pool
dmsetup resume pool
dmsetup info pool
dmsetup reload pool --table "0 16384 thin-pool $DISK_meta $DISK_data 128 60"
dmsetup resume pool
dmsetup status pool
dmsetup info pool
dmsetup remove thin
dmsetup remove pool
