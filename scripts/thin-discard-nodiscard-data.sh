# A data disk that does not take discards: passdown is switched off (with a warning), but the
# thin devices still take discards and unmap blocks.
# disk: meta 4M
# disk: data 16M nodiscard
cat /sys/block/vdb/queue/discard_granularity /sys/block/vdb/queue/discard_max_bytes
blkdiscard $DISK_data
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup status pool
dmsetup table pool
cat /sys/block/dm-0/queue/discard_granularity /sys/block/dm-0/queue/discard_max_bytes
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"
cat /sys/block/dm-1/queue/discard_granularity /sys/block/dm-1/queue/discard_max_bytes
yes D | head -c 196608 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
blkdiscard -o 65536 -l 65536 /dev/mapper/thin
dmsetup status thin
dmsetup status pool
dd if=$DISK_data bs=64K count=1 skip=1 iflag=direct status=none | head -c 2
# Asking for no_discard_passdown explicitly gives the same status, without the warning.
dmsetup remove thin
dmsetup remove pool
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0 1 no_discard_passdown"
dmsetup status pool
dmsetup remove pool
