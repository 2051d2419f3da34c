# log-writes logs a write only once a flush covers it, so that the log follows the order in which
# data reaches the media, not the disk's cache. Its status line counts the entries logged and gives
# the highest sector of the log device in use.
# disk: a 1M
# disk: log 1M
dmsetup create lw --table "0 2048 log-writes $DISK_a $DISK_log"
dmsetup status lw
# A direct write goes to the disk at once, but nothing is logged yet.
yes a | head -c 4096 | dd of=/dev/mapper/lw bs=4K iflag=fullblock oflag=direct status=none
dmsetup status lw
dd if=$DISK_a bs=4K count=1 iflag=direct status=none | head -c 4 | od -c
# Neither sync nor blockdev --flushbufs sends a flush to a block device; suspend does not either.
sync
blockdev --flushbufs /dev/mapper/lw
dmsetup suspend lw
dmsetup resume lw
dmsetup status lw
# fsync sends one: the write is logged (1 + 8 sectors), then the flush (1 sector).
dd if=/dev/null of=/dev/mapper/lw conv=fsync status=none
dmsetup status lw
# Two more writes and a flush in one dd; reads are never logged.
yes b | head -c 8192 | dd of=/dev/mapper/lw bs=4K seek=4 iflag=fullblock oflag=direct conv=fsync status=none
dd if=/dev/mapper/lw of=/dev/null bs=4K count=8 iflag=direct status=none
dmsetup status lw
# An empty flush is an entry of its own.
dd if=/dev/null of=/dev/mapper/lw conv=fsync status=none
dmsetup status lw
# Buffered writes reach the device when the page cache writes them back (at the last close), and
# are logged at the next flush.
yes c | head -c 4096 | dd of=/dev/mapper/lw bs=4K seek=16 iflag=fullblock status=none
dmsetup status lw
dd if=/dev/null of=/dev/mapper/lw conv=fsync status=none
dmsetup status lw
dmsetup remove lw
