# ignore_discard: the pool and its thin devices do not take discards at all.
# disk: meta 4M
# disk: data 16M
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0 1 ignore_discard"
dmsetup status pool
dmsetup table pool
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"
yes D | head -c 131072 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
cat /sys/block/dm-1/queue/discard_granularity /sys/block/dm-1/queue/discard_max_bytes
blkdiscard -o 0 -l 65536 /dev/mapper/thin
dmsetup status pool
# Feature words can be combined and repeated, and their case does not matter.
dmsetup reload pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0 3 IGNORE_DISCARD no_discard_passdown ignore_discard"
dmsetup table pool --inactive
dmsetup clear pool
# Discards cannot be switched back on by a reload while the pool is active.
dmsetup reload pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup suspend thin
dmsetup suspend pool
dmsetup resume pool
dmsetup resume thin
dmsetup status pool
dmsetup info pool
dmsetup remove thin
dmsetup remove pool
# A new activation of the same metadata may choose again.
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup status pool
dmsetup remove pool
