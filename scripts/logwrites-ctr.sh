# The log-writes target (dm-log-writes 1.1.0): maps every bio to the data device and logs each write,
# discard and flush, in the order they reach the disk's media, onto a log device. Table:
# <start> <len> log-writes <dev> <log dev>.
# disk: a 1M
# disk: log 1M
# Every way a log-writes table can be wrong. The first table naming log-writes loads dm-log-writes.
dmsetup create lw --table "0 2048 log-writes"
dmsetup create lw --table "0 2048 log-writes $DISK_a"
dmsetup create lw --table "0 2048 log-writes /dev/nonexistent $DISK_log"
dmsetup create lw --table "0 2048 log-writes $DISK_a /dev/nonexistent"
# Only the data device is checked against the table's length.
dmsetup create lw --table "0 4096 log-writes $DISK_a $DISK_log"
dmsetup create lw --table "0 2048 log-writes $DISK_log $DISK_a"
dmsetup remove lw
# Kernel: arguments after the two devices are ignored.
dmsetup create lw --table "0 1024 log-writes $DISK_a $DISK_log extra arguments"
dmsetup create ro --readonly --table "0 2048 log-writes $DISK_a $DISK_log"
dmsetup targets | grep log-writes
dmsetup table
dmsetup status
dmsetup deps
dmsetup info -c -o name,attr
cat /sys/block/dm-1/queue/logical_block_size /sys/block/dm-1/queue/discard_max_bytes /sys/block/dm-1/queue/write_cache
# A fresh log: no entry, and the highest sector in use is the superblock's (0).
dmsetup status lw
dmsetup remove ro lw
dmsetup create lw --table "0 2048 log-writes $DISK_a $DISK_log"
dmsetup reload lw --table "0 2048 log-writes $DISK_a /dev/nonexistent"
dmsetup table lw
dmsetup remove lw
