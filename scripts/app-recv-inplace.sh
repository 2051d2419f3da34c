# thinsync: receives in place onto a plain disk with an undo file (recv --to DEV --undo FILE). The undo
# file keeps the data each record overwrites, synced before the write: a receive cut short (the test
# hook --stop-after-records) is rolled back by --abort or finished by --resume, and a broken stream is
# rolled back at once. Refusals: a target in use (O_EXCL), a target of another size, a target that does
# not hold the stream's base, a pending undo file. The disk's md5 is checked after each step.
# disk: meta 4M
# disk: data 64M
# disk: target 4M
# disk: small 2M
# disk: undo 8M
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"
seq 1 300000 | head -c 2097152 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup suspend thin
dmsetup message pool 0 "create_snap 1 0"
dmsetup resume thin
thinsync send --pool pool --id 1 --size 8192 -o /tmp/s1
yes junk | head -c 4194304 | dd of=$DISK_target bs=64K iflag=fullblock oflag=direct status=noxfer
thinsync recv --to $DISK_target --undo $DISK_undo -i /tmp/s1
md5sum /dev/mapper/thin $DISK_target
yes b | head -c 327680 | dd of=/dev/mapper/thin bs=64K seek=3 iflag=fullblock oflag=direct status=noxfer
blkdiscard -o 1048576 -l 131072 /dev/mapper/thin
yes n | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=50 iflag=fullblock oflag=direct status=noxfer
dmsetup suspend thin
dmsetup message pool 0 "create_snap 2 0"
dmsetup resume thin
thinsync send --pool pool --id 2 --base 1 --size 8192 --checkpoint 65536 -o /tmp/s2
md5sum /tmp/s2
# Refusals: nothing is written.
dmsetup create hold --table "0 8 linear $DISK_target 0"
thinsync recv --to $DISK_target --undo $DISK_undo -i /tmp/s2
dmsetup remove hold
thinsync recv --to $DISK_small --undo $DISK_undo -i /tmp/s2
thinsync recv --to $DISK_target -i /tmp/s2
md5sum $DISK_target
# Cut short, then rolled back.
thinsync recv --to $DISK_target --undo $DISK_undo -i /tmp/s2 --stop-after-records 3
thinsync recv --to $DISK_target --undo $DISK_undo -i /tmp/s2
thinsync recv --to $DISK_target --undo $DISK_undo --abort
md5sum $DISK_target
# A truncated stream is rolled back at once.
head -c 600 /tmp/s2 | thinsync recv --to $DISK_target --undo $DISK_undo
md5sum $DISK_target
# Cut short twice, then resumed from the last checkpoint.
thinsync recv --to $DISK_target --undo $DISK_undo -i /tmp/s2 --stop-after-records 2
thinsync recv --to $DISK_target --undo $DISK_undo -i /tmp/s2 --resume --stop-after-records 2
thinsync recv --to $DISK_target --undo $DISK_undo -i /tmp/s2 --resume
md5sum /dev/mapper/thin $DISK_target
# The target holds snapshot 2 now, not the stream's base.
thinsync recv --to $DISK_target --undo $DISK_undo -i /tmp/s2
thinsync recv --to $DISK_target --undo $DISK_undo --abort
dmsetup status pool
dmsetup remove_all
