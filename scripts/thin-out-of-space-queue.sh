# queue_if_no_space (the default): when the data runs out, writes are queued until the pool grows
# or no_space_timeout (seconds) runs out; then they fail.
# disk: meta 4M
# disk: data 8M
cat /sys/module/dm_thin_pool/parameters/no_space_timeout
# Queued writes wait uninterruptibly, so `timeout` alone could not stop them: shorten the wait.
echo 2 > /sys/module/dm_thin_pool/parameters/no_space_timeout
dmsetup create pool --table "0 4096 thin-pool $DISK_meta $DISK_data 128 4"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 16384 thin /dev/mapper/pool 0"
yes a | head -c 1835008 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup status pool
# 8 more blocks: 4 fit, the fifth waits 2 s and fails.
timeout 60 dd if=/dev/zero of=/dev/mapper/thin bs=64K seek=28 count=8 oflag=direct status=noxfer
dmsetup status pool
dmsetup status thin
# After the timeout the pool errors new writes at once, though its table still says queue.
timeout 60 dd if=/dev/zero of=/dev/mapper/thin bs=64K seek=40 count=1 oflag=direct status=noxfer
dmsetup table pool
dmsetup info pool
# Growing the pool brings it back to write mode and to queueing.
dmsetup reload pool --table "0 8192 thin-pool $DISK_meta $DISK_data 128 4"
dmsetup suspend pool
dmsetup resume pool
dmsetup status pool
timeout 60 dd if=/dev/zero of=/dev/mapper/thin bs=64K seek=40 count=1 oflag=direct status=noxfer
dmsetup status thin
dmsetup status pool
dmsetup remove thin
dmsetup remove pool
echo 60 > /sys/module/dm_thin_pool/parameters/no_space_timeout
