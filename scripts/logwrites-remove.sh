# At remove (the target's destructor) log-writes logs the writes no flush covered yet, then the mark
# "dm-log-writes-end", and rewrites the log's superblock. The log device then holds a sequential
# workload byte for byte.
# disk: a 1M
# disk: log 2M
dmsetup create lw --table "0 2048 log-writes $DISK_a $DISK_log"
yes a | head -c 4096 | dd of=/dev/mapper/lw bs=4K iflag=fullblock oflag=direct status=none
yes b | head -c 1024 | dd of=/dev/mapper/lw bs=512 seek=100 iflag=fullblock oflag=direct conv=fsync status=none
yes c | head -c 65536 | dd of=/dev/mapper/lw bs=64K seek=2 iflag=fullblock oflag=direct status=none
yes d | head -c 8192 | dd of=/dev/mapper/lw bs=4K seek=3 iflag=fullblock oflag=direct status=none
dmsetup status lw
# Replacing the table destroys the old target: its end mark goes to the log, and the new target
# starts again at the log's first entry.
dmsetup suspend lw
dmsetup reload lw --table "0 2048 log-writes $DISK_a $DISK_log"
dmsetup resume lw
dmsetup status lw
dd if=$DISK_log bs=512 count=1 iflag=direct status=none | od -A d -t x1 | head -n 3
dd if=$DISK_log bs=1M count=1 iflag=direct status=none | md5sum
yes e | head -c 4096 | dd of=/dev/mapper/lw bs=4K seek=7 iflag=fullblock oflag=direct status=none
dmsetup remove lw
dd if=$DISK_log bs=512 count=1 iflag=direct status=none | od -A d -t x1 | head -n 3
dd if=$DISK_log bs=512 skip=1 count=1 iflag=direct status=none | od -A d -t x1 | head -n 3
dd if=$DISK_log bs=512 skip=10 count=1 iflag=direct status=none | od -A d -c | grep -v '^\*'
dd if=$DISK_log bs=1M iflag=direct status=none | md5sum
dd if=$DISK_a bs=1M iflag=direct status=none | md5sum
