# What survives a power cut: messages commit at once, and so does a flush (dd conv=fsync) to a
# thin device; the kernel's periodic commit (every second) catches the rest.
# disk: meta 4M
# disk: data 16M
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup message pool 0 "create_thin 1"
dmsetup create t0 --table "0 8192 thin /dev/mapper/pool 0"
# This write is flushed: the flush commits the pool's metadata before it completes.
yes f | head -c 65536 | dd of=/dev/mapper/t0 bs=64K seek=2 iflag=fullblock oflag=direct conv=fsync status=noxfer
# reboot
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup status pool
dmsetup create t0 --table "0 8192 thin /dev/mapper/pool 0"
dmsetup status t0
dd if=/dev/mapper/t0 bs=64K count=1 skip=2 iflag=direct status=none | head -c 2
# Deleting and creating devices: each message is its own transaction.
dmsetup message pool 0 "delete 1"
dmsetup message pool 0 "create_snap 2 0"
# reboot
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup status pool
dmsetup create t2 --table "0 8192 thin /dev/mapper/pool 2"
dmsetup status t2
dmsetup create t1 --table "0 8192 thin /dev/mapper/pool 1"
# A write followed by a two-second wait is committed by the periodic commit.
yes w | head -c 65536 | dd of=/dev/mapper/t2 bs=64K seek=5 iflag=fullblock oflag=direct status=noxfer
sleep 2
# reboot
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup status pool
dmsetup create t2 --table "0 8192 thin /dev/mapper/pool 2"
dmsetup status t2
