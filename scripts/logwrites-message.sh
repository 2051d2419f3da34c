# log-writes has one message, `mark TEXT`: exactly two words, the verb in any case.
# disk: a 1M
# disk: log 1M
dmsetup create lw --table "0 2048 log-writes $DISK_a $DISK_log"
dmsetup message lw 0 mark
dmsetup message lw 0 mark a b
dmsetup message lw 0 unmark a
dmsetup message lw 0 mark-it a
dmsetup message lw 0 "" a
# The sector only picks the target: any sector of the device does, one past its end does not.
dmsetup message lw 2047 mark last
dmsetup message lw 2048 mark past
dmsetup status lw
# A suspended device still takes marks (the log is written by the target's thread, not through the
# device).
dmsetup suspend lw
dmsetup message lw 0 mark suspended
dmsetup status lw
dmsetup resume lw
dmsetup remove lw
dd if=$DISK_log bs=512 count=4 iflag=direct status=none | od -A d -c | grep -v '^\*'
