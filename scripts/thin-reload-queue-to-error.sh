# A pool out of data space queues a write; reloading it with error_if_no_space fails the queued write at
# once; reloading back to queue_if_no_space queues again, and growing the pool lets writes through.
# disk: meta 4M
# disk: data 16M
echo 0 > /sys/module/dm_thin_pool/parameters/no_space_timeout
dmsetup create pool --table "0 1024 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 16384 thin /dev/mapper/pool 0"
yes a | head -c 524288 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
yes q | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=8 iflag=fullblock oflag=direct status=noxfer >/tmp/dd.out 2>&1 &
sleep 3
dmsetup status pool
dmsetup reload pool --table "0 1024 thin-pool $DISK_meta $DISK_data 128 0 1 error_if_no_space"
dmsetup suspend pool
dmsetup resume pool
wait; cat /tmp/dd.out
dmsetup status pool
dmsetup status thin
yes r | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=9 iflag=fullblock oflag=direct status=noxfer
dmsetup reload pool --table "0 1024 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup suspend pool
dmsetup resume pool
dmsetup status pool
yes s | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=10 iflag=fullblock oflag=direct status=noxfer >/tmp/dd.out 2>&1 &
sleep 3
dmsetup status pool
dmsetup reload pool --table "0 2048 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup suspend pool
dmsetup resume pool
wait; cat /tmp/dd.out
dmsetup status pool
dmsetup status thin
dd if=/dev/mapper/thin bs=64K skip=10 count=1 iflag=direct status=none | head -c 2
dmsetup remove thin pool
echo 60 > /sys/module/dm_thin_pool/parameters/no_space_timeout
