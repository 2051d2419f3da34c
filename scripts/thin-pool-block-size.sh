# Data block sizes: multiples of 64 KiB (128 sectors) from 64 KiB to 1 GiB, powers of two or not.
# disk: meta 4M
# disk: data 16M
# Too small, not a multiple of 128, too big.
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 64 0"
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 0 0"
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 200 0"
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 2097280 0"
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data -128 0"
# A bad table never touched the metadata: it is still all zeroes.
dd if=$DISK_meta bs=4K count=1 iflag=direct status=none | od -A d -t x1
# 1 GiB blocks on a 16 MiB pool: the pool has no whole block at all.
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 2097152 0"
dmsetup status pool
dmsetup table pool
dmsetup remove pool
# Once formatted, the block size is fixed.
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
# 96 KiB (192 sectors) is not a multiple of 64 KiB.
dmsetup create pool2 --table "0 32768 thin-pool $DISK_meta $DISK_data 192 0"
# A non-power-of-two size (384 sectors = 192 KiB): 32768 sectors make 85 whole blocks. The old
# metadata says 1 GiB blocks, so zero its superblock by hand first.
dmsetup create pool2 --table "0 32768 thin-pool $DISK_meta $DISK_data 384 0"
dd if=/dev/zero of=$DISK_meta bs=4K count=1 oflag=direct status=none
dmsetup create pool2 --table "0 32768 thin-pool $DISK_meta $DISK_data 384 0"
dmsetup status pool2
dmsetup message pool2 0 "create_thin 0"
dmsetup create thin --table "0 4096 thin /dev/mapper/pool2 0"
# A 4 KiB write provisions one 192 KiB block.
yes b | head -c 4096 | dd of=/dev/mapper/thin bs=4K seek=30 iflag=fullblock oflag=direct status=noxfer
dmsetup status thin
dmsetup status pool2
cat /sys/block/dm-1/queue/discard_granularity /sys/block/dm-1/queue/minimum_io_size /sys/block/dm-1/queue/optimal_io_size
cat /sys/block/dm-0/queue/discard_granularity /sys/block/dm-0/queue/minimum_io_size /sys/block/dm-0/queue/optimal_io_size
dmsetup remove thin
dmsetup remove pool2
