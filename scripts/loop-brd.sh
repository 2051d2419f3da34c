# A pool on RAM disks and loop devices (files in /tmp) instead of virtio disks.
modprobe brd rd_nr=2 rd_size=8192
blockdev --getsz /dev/ram0
cat /sys/block/ram0/queue/discard_max_bytes
truncate -s 8M /tmp/data.img
modprobe loop
losetup -f
losetup /dev/loop0 /tmp/data.img
losetup /dev/loop0
blockdev --getsz /dev/loop0
cat /sys/block/loop0/queue/discard_granularity /sys/block/loop0/queue/discard_max_bytes
dmsetup create pool --table "0 16384 thin-pool /dev/ram0 /dev/loop0 128 0"
dmsetup status pool
dmsetup table pool
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 16384 thin /dev/mapper/pool 0"
yes l | head -c 131072 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
blkdiscard -o 0 -l 65536 /dev/mapper/thin
dmsetup status pool
dmsetup deps
# The loop device is busy while the pool uses it... but detaching is only deferred.
losetup -d /dev/loop0
dmsetup remove thin
dmsetup remove pool
losetup -d /dev/loop0
losetup -f
# A ram disk can be a pool's data device too (without discard): the same metadata, other data.
dmsetup create pool --table "0 16384 thin-pool /dev/ram0 /dev/ram1 128 0"
dmsetup status pool
dmsetup remove pool
thin_dump /dev/ram0
