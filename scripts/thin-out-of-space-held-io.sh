# A write queued while the pool is out of data space completes once the pool grows.
# (The write runs in the background, so this scenario needs two things at once.)
# disk: meta 4M
# disk: data 8M
echo 0 > /sys/module/dm_thin_pool/parameters/no_space_timeout
dmsetup create pool --table "0 2048 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 16384 thin /dev/mapper/pool 0"
yes a | head -c 1048576 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup status pool
# Block 16 does not fit: the write waits (no_space_timeout 0 means for ever).
yes b | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=16 iflag=fullblock oflag=direct status=noxfer >/tmp/dd.out 2>&1 &
sleep 3
dmsetup status pool
dmsetup status thin
# Grow the pool: the held write goes through.
dmsetup reload pool --table "0 4096 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup suspend pool
dmsetup resume pool
wait; cat /tmp/dd.out
dmsetup status pool
dmsetup status thin
dd if=/dev/mapper/thin bs=64K count=1 skip=16 iflag=direct status=none | head -c 2
dmsetup remove thin
dmsetup remove pool
echo 60 > /sys/module/dm_thin_pool/parameters/no_space_timeout
