# Two pools: not on the same metadata; on the same data disk (nobody checks); stacked.
# disk: meta 4M
# disk: meta2 4M
# disk: data 16M
dmsetup create pool --table "0 16384 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup create pool2 --table "0 16384 thin-pool $DISK_meta $DISK_data 128 0"
# Kernel: another pool may take the first pool's metadata disk as its data device.
dmsetup create pool2 --table "0 8192 thin-pool $DISK_meta2 $DISK_meta 128 0"
dmsetup status pool2
dmsetup remove pool2
# Same data disk, other metadata: accepted.
dmsetup create pool2 --table "0 16384 thin-pool $DISK_meta2 $DISK_data 128 0"
dmsetup remove pool2
# A pool stacked on a thin device of another pool.
dmsetup message pool 0 "create_thin 0"
dmsetup create lower --table "0 16384 thin /dev/mapper/pool 0"
dmsetup create upper --table "0 16384 thin-pool $DISK_meta2 /dev/mapper/lower 128 0"
dmsetup message upper 0 "create_thin 0"
dmsetup create top --table "0 32768 thin /dev/mapper/upper 0"
yes u | head -c 131072 | dd of=/dev/mapper/top bs=64K seek=3 iflag=fullblock oflag=direct status=noxfer
dmsetup status top
dmsetup status upper
dmsetup status lower
dmsetup status pool
dmsetup deps
dmsetup remove pool lower
dmsetup remove top upper lower pool
