# no_discard_passdown: discards unmap and free thin blocks, but the data disk keeps the old bytes.
# disk: meta 4M
# disk: data 16M
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0 1 no_discard_passdown"
dmsetup status pool
dmsetup table pool
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"
yes D | head -c 262144 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
cat /sys/block/dm-1/queue/discard_granularity /sys/block/dm-1/queue/discard_max_bytes
blkdiscard -o 0 -l 131072 /dev/mapper/thin
dmsetup status thin
dmsetup status pool
dd if=/dev/mapper/thin bs=64K count=1 iflag=direct status=none | md5sum
# The data disk still has D in block 0.
dd if=$DISK_data bs=64K count=1 iflag=direct status=none | head -c 2
# Passdown can be switched on again by a reload.
dmsetup reload pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup suspend thin
dmsetup suspend pool
dmsetup resume pool
dmsetup resume thin
dmsetup status pool
blkdiscard -o 131072 -l 65536 /dev/mapper/thin
dmsetup status pool
dd if=$DISK_data bs=64K count=1 skip=2 iflag=direct status=none | md5sum
dmsetup remove thin
dmsetup remove pool
