# Marks: `dmsetup message DEV 0 mark TEXT` logs an entry holding TEXT, to replay a log up to it. A
# mark is queued when the message arrives, so it is logged before writes still waiting for a flush.
# disk: a 1M
# disk: log 1M
dmsetup create lw --table "0 2048 log-writes $DISK_a $DISK_log"
dmsetup message lw 0 mark one
dmsetup status lw
yes a | head -c 4096 | dd of=/dev/mapper/lw bs=4K iflag=fullblock oflag=direct status=none
# The verb is case-insensitive; a backslash keeps a space inside the text.
dmsetup message lw 0 MARK 'two\ words'
dmsetup status lw
dd if=/dev/null of=/dev/mapper/lw conv=fsync status=none
dmsetup status lw
# The text is cut to the sector size less the entry header and the NUL: 479 bytes.
dmsetup message lw 0 mark $(yes x | head -c 1200 | tr -d '\n')
dmsetup message lw 0 mark ""
dmsetup status lw
dmsetup remove lw
# The log: the superblock (magic, version, entries, sector size) in sector 0 is written after each
# mark (and FUA write) and at the end; entries (sector, sectors, flags, text length, text) follow.
dd if=$DISK_log bs=512 count=1 iflag=direct status=none | od -A d -t x1 | head -n 3
dd if=$DISK_log bs=512 skip=1 count=2 iflag=direct status=none | od -A d -c | grep -v '^\*'
dd if=$DISK_log bs=512 skip=3 count=1 iflag=direct status=none | od -A d -t x1 | head -n 3
dd if=$DISK_log bs=512 skip=12 count=3 iflag=direct status=none | od -A d -c | grep -v '^\*'
dd if=$DISK_log bs=1M iflag=direct status=none | md5sum
