# Discards are logged like writes, in completion order, when a flush covers them: an entry with the
# range and no data. Over a disk without discard support, log-writes still takes discards (with the
# disk's sector as granularity) and completes them itself, without touching the disk.
# disk: a 1M
# disk: n 1M nodiscard
# disk: loga 1M
# disk: logn 1M
dmsetup create lwa --table "0 2048 log-writes $DISK_a $DISK_loga"
dmsetup create lwn --table "0 2048 log-writes $DISK_n $DISK_logn"
cat /sys/block/dm-0/queue/discard_max_bytes /sys/block/dm-0/queue/discard_granularity
cat /sys/block/dm-1/queue/discard_max_bytes /sys/block/dm-1/queue/discard_granularity
yes a | head -c 16384 | dd of=/dev/mapper/lwa bs=4K iflag=fullblock oflag=direct status=none
yes n | head -c 16384 | dd of=/dev/mapper/lwn bs=4K iflag=fullblock oflag=direct status=none
blkdiscard -o 4096 -l 8192 /dev/mapper/lwa
blkdiscard -o 4096 -l 8192 /dev/mapper/lwn
dmsetup status
dd if=/dev/null of=/dev/mapper/lwa conv=fsync status=none
dd if=/dev/null of=/dev/mapper/lwn conv=fsync status=none
# Each log: the write (1 + 32 sectors), the discard (1 sector), the flush.
dmsetup status
dd if=$DISK_a bs=4K count=4 iflag=direct status=none | od -A d -c | grep -v '^\*'
dd if=$DISK_n bs=4K count=4 iflag=direct status=none | od -A d -c | grep -v '^\*'
# Discarding the whole device is one discard.
blkdiscard /dev/mapper/lwn
dd if=/dev/null of=/dev/mapper/lwn conv=fsync status=none
dmsetup status lwn
dmsetup remove lwa lwn
dd if=$DISK_loga bs=512 skip=34 count=3 iflag=direct status=none | od -A d -t x1 | grep -v '^\*'
dd if=$DISK_logn bs=512 skip=34 count=5 iflag=direct status=none | od -A d -t x1 | grep -v '^\*'
dd if=$DISK_loga bs=1M iflag=direct status=none | md5sum
dd if=$DISK_logn bs=1M iflag=direct status=none | md5sum
