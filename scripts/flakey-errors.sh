# flakey's constructor errors flakey-basic leaves out, and what its down interval does to flushes:
# drop_writes completes them without reaching the device (a disk that lies about its cache),
# error_writes fails them. A log-writes device under flakey shows what got through.
# disk: a 1M
# disk: log 1M
dmsetup create f --table "0 8 flakey $DISK_a 0 1 1 5 corrupt_bio_byte 1 r 0 x"
# Kernel: a mask of 2^32 is read as %u, which keeps the low 32 bits: 0.
dmsetup create f --table "0 8 flakey $DISK_a 0 1 1 5 corrupt_bio_byte 1 r 0 4294967296"
dmsetup table f
dmsetup remove f
dmsetup create f --table "0 8 flakey $DISK_a 0 1 1 4 corrupt_bio_byte 1 r 0"
dmsetup create f --table "0 8 flakey $DISK_a 0 1 1 2 error_writes drop_writes"
dmsetup create f --table "0 8 flakey $DISK_a 0 1 1 2 error_writes error_writes"
dmsetup create f --table "0 8 flakey $DISK_a 0 1 1 2 corrupt_bio_byte"
dmsetup create f --table "0 8 flakey $DISK_a 0 1 1 6 error_writes corrupt_bio_byte 1 w 0 0"
dmsetup create f --table "0 8 flakey $DISK_a 0 1 1 -1"
dmsetup create f --table "0 8 flakey $DISK_a 0 1 1 1 error_reads"
dmsetup create lw --table "0 2048 log-writes $DISK_a $DISK_log"
# Always down, dropping writes: the write and the flush of fsync succeed, and nothing reaches log-writes.
dmsetup create drop --table "0 2048 flakey /dev/mapper/lw 0 0 1 1 drop_writes"
yes a | head -c 4096 | dd of=/dev/mapper/drop bs=4K iflag=fullblock oflag=direct conv=fsync status=none
dmsetup status lw
dmsetup remove drop
# Always down, failing writes: the write fails, and fsync's flush fails too.
dmsetup create errw --table "0 2048 flakey /dev/mapper/lw 0 0 1 1 error_writes"
yes b | head -c 4096 | dd of=/dev/mapper/errw bs=4K iflag=fullblock oflag=direct status=none
dd if=/dev/null of=/dev/mapper/errw conv=fsync status=none
dmsetup status lw
dmsetup remove errw
# Up: everything goes through.
dmsetup create up --table "0 2048 flakey /dev/mapper/lw 0 1000 1"
yes c | head -c 4096 | dd of=/dev/mapper/up bs=4K iflag=fullblock oflag=direct conv=fsync status=none
dmsetup status lw
dmsetup remove up lw
dd if=$DISK_a bs=4K count=1 iflag=direct status=none | head -c 4 | od -c
