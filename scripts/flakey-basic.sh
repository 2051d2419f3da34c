# The flakey target: like linear, but unreliable. Counted from the table load, it is up (maps like
# linear) for <up interval> seconds, then down for <down interval> seconds, and so on; while down it
# fails all I/O, or, with features, drops or fails writes or corrupts one byte of matching bios.
# disk: a 1M
# Every way a flakey table can be wrong. The first table naming flakey loads dm-flakey.
dmsetup create f --table "0 8 flakey $DISK_a 0 1"
dmsetup create f --table "0 8 flakey $DISK_a x 1 1"
dmsetup create f --table "0 8 flakey $DISK_a 0 x 1"
# Kernel: a bad down interval is an "Invalid up interval" too.
dmsetup create f --table "0 8 flakey $DISK_a 0 1 x"
dmsetup create f --table "0 8 flakey $DISK_a 0 0 0"
dmsetup create f --table "0 8 flakey $DISK_a 0 4294967295 2"
dmsetup create f --table "0 8 flakey /dev/nonexistent 0 1 1"
dmsetup create f --table "0 8 flakey $DISK_a 0 1 1 7 drop_writes"
dmsetup create f --table "0 8 flakey $DISK_a 0 1 1 2 drop_writes"
dmsetup create f --table "0 8 flakey $DISK_a 0 1 1 1 bogus"
dmsetup create f --table "0 8 flakey $DISK_a 0 1 1 2 drop_writes drop_writes"
dmsetup create f --table "0 8 flakey $DISK_a 0 1 1 2 drop_writes error_writes"
dmsetup create f --table "0 8 flakey $DISK_a 0 1 1 1 corrupt_bio_byte"
dmsetup create f --table "0 8 flakey $DISK_a 0 1 1 5 corrupt_bio_byte 0 r 0 0"
dmsetup create f --table "0 8 flakey $DISK_a 0 1 1 5 corrupt_bio_byte 1 x 0 0"
dmsetup create f --table "0 8 flakey $DISK_a 0 1 1 5 corrupt_bio_byte 1 r 256 0"
# corrupt_bio_byte takes four parameters: a group too short to hold them ends in the middle of them...
dmsetup create f --table "0 8 flakey $DISK_a 0 1 1 2 corrupt_bio_byte 1"
# ...or runs past its end, and the parser looks for more features after the group.
dmsetup create f --table "0 8 flakey $DISK_a 0 1 1 2 corrupt_bio_byte 1 r 0 0"
dmsetup create f --table "0 8 flakey $DISK_a 0 1 1 6 drop_writes corrupt_bio_byte 1 w 0 0"
dmsetup create f --table "0 8 flakey $DISK_a 0 1 1 6 corrupt_bio_byte 1 w 0 0 error_writes"
# random_read_corrupt and random_write_corrupt came after Linux 6.1.
dmsetup create f --table "0 8 flakey $DISK_a 0 1 1 1 random_read_corrupt"
# Good tables: feature names in any case, extra arguments after the features, a feature count of 0.
dmsetup create f1 --table "0 8 flakey $DISK_a 0 1 1"
dmsetup create f2 --table "0 8 flakey $DISK_a 8 1 1 1 DROP_WRITES"
dmsetup create f3 --table "0 8 flakey $DISK_a 0 1 1 5 corrupt_bio_byte 32 R 1 0"
dmsetup create f4 --table "0 8 flakey $DISK_a 0 1 1 0 extra"
dmsetup create f5 --table "0 8 flakey $DISK_a 0 1 1 6 error_writes Corrupt_Bio_Byte 512 r 255 4294967295"
# Kernel: an interval of 2^32 seconds is read as %u, which keeps the low 32 bits: 0.
dmsetup create f6 --table "0 8 flakey $DISK_a 0 4294967296 3"
# Kernel: table lines end with a space, and status lines have nothing after the target type.
dmsetup table
dmsetup status
dmsetup remove_all
# I/O. The disk's first 4 KiB hold "a\n" over and over.
yes a | head -c 4096 | dd of=$DISK_a bs=4K iflag=fullblock oflag=direct status=none
# Up 0 seconds, down 1: always down. With no features, every read and write fails.
dmsetup create down --table "0 8 flakey $DISK_a 0 0 1"
dd if=/dev/mapper/down of=/dev/null bs=4K count=1 iflag=direct
yes b | head -c 4096 | dd of=/dev/mapper/down bs=4K iflag=fullblock oflag=direct
# drop_writes: writes (and discards) succeed but never reach the disk; reads work.
dmsetup create drop --table "0 8 flakey $DISK_a 0 0 1 1 drop_writes"
yes b | head -c 4096 | dd of=/dev/mapper/drop bs=4K iflag=fullblock oflag=direct
blkdiscard /dev/mapper/drop
dd if=/dev/mapper/drop bs=4K count=1 iflag=direct status=none | head -c 8 | od -c
# error_writes: writes (and discards) fail; reads work.
dmsetup create errw --table "0 8 flakey $DISK_a 0 0 1 1 error_writes"
yes b | head -c 4096 | dd of=/dev/mapper/errw bs=4K iflag=fullblock oflag=direct
blkdiscard /dev/mapper/errw
dd if=/dev/mapper/errw bs=4K count=1 iflag=direct status=none | head -c 8 | od -c
# corrupt_bio_byte on reads: byte 3 of every read is to become 88 ('X'); writes go through untouched.
# Kernel: the read is not corrupted. flakey_end_io() corrupts the bio's data as its iterator stands
# when the bio has completed, and the disk's driver (blk-mq) has advanced the iterator to the end.
dmsetup create cr --table "0 8 flakey $DISK_a 0 0 1 5 corrupt_bio_byte 3 r 88 0"
dd if=/dev/mapper/cr bs=4K count=1 iflag=direct status=none | head -c 8 | od -c
dd if=$DISK_a bs=4K count=1 iflag=direct status=none | head -c 8 | od -c
yes c | head -c 4096 | dd of=/dev/mapper/cr bs=4K iflag=fullblock oflag=direct status=none
dd if=$DISK_a bs=4K count=1 iflag=direct status=none | head -c 8 | od -c
# The flags mask must match the bio's flags: 1 is the bit of REQ_OP_WRITE, which reads never have.
dmsetup create cr1 --table "0 8 flakey $DISK_a 0 0 1 5 corrupt_bio_byte 3 r 88 1"
dd if=/dev/mapper/cr1 bs=4K count=1 iflag=direct status=none | head -c 8 | od -c
# corrupt_bio_byte on writes: byte 2 of every write becomes 89 ('Y') on the disk; reads go through.
dmsetup create cw --table "0 8 flakey $DISK_a 0 0 1 5 corrupt_bio_byte 2 w 89 1"
yes d | head -c 4096 | dd of=/dev/mapper/cw bs=4K iflag=fullblock oflag=direct status=none
dd if=$DISK_a bs=4K count=1 iflag=direct status=none | head -c 8 | od -c
dd if=/dev/mapper/cw bs=4K count=1 iflag=direct status=none | head -c 8 | od -c
dmsetup remove_all
# Kernel: on a device that completes bios without advancing their iterator (another dm device, a
# RAM disk), reads are corrupted; a loop device is blk-mq, like the disk.
dmsetup create lin --table "0 8 linear $DISK_a 0"
dmsetup create crlin --table "0 8 flakey /dev/mapper/lin 0 0 1 5 corrupt_bio_byte 3 r 88 0"
dd if=/dev/mapper/crlin bs=4K count=1 iflag=direct status=none | head -c 8 | od -c
modprobe brd rd_nr=1 rd_size=1024
yes r | head -c 4096 | dd of=/dev/ram0 bs=4K iflag=fullblock oflag=direct status=none
dmsetup create crram --table "0 8 flakey /dev/ram0 0 0 1 5 corrupt_bio_byte 3 r 88 0"
dd if=/dev/mapper/crram bs=4K count=1 iflag=direct status=none | head -c 8 | od -c
modprobe loop
yes l | head -c 1048576 >/tmp/loop.img
losetup /dev/loop0 /tmp/loop.img
dmsetup create crloop --table "0 8 flakey /dev/loop0 0 0 1 5 corrupt_bio_byte 3 r 88 0"
dd if=/dev/mapper/crloop bs=4K count=1 iflag=direct status=none | head -c 8 | od -c
dmsetup remove_all
losetup -d /dev/loop0
# Up 4 seconds, down 4, up again: reads work, fail, work. (Intervals run from the table load; each
# read is far from an interval's edge whatever a command line takes.)
dmsetup create updown --table "0 8 flakey $DISK_a 0 4 4" && dd if=/dev/mapper/updown of=/dev/null bs=4K count=1 iflag=direct status=none && echo up
sleep 5; dd if=/dev/mapper/updown of=/dev/null bs=4K count=1 iflag=direct status=none && echo up
sleep 4; dd if=/dev/mapper/updown of=/dev/null bs=4K count=1 iflag=direct status=none && echo up
dmsetup remove updown
