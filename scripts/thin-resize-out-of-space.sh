# A queueing pool runs out of data space with a write held; `dmsetup wait` sees the event, and a resize at
# resume releases the write. Then the same with error_if_no_space, where the write fails at once.
# disk: meta 4M
# disk: data 16M
echo 0 > /sys/module/dm_thin_pool/parameters/no_space_timeout
dmsetup create pool --table "0 2048 thin-pool $DISK_meta $DISK_data 128 2"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 16384 thin /dev/mapper/pool 0"
yes a | head -c 1048576 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup info -c -o name,events pool
yes q | head -c 65536 | timeout 60 dd of=/dev/mapper/thin bs=64K seek=20 iflag=fullblock oflag=direct status=noxfer > /tmp/dd.out 2>&1 &
sleep 3
dmsetup status pool
dmsetup info -c -o name,events pool
timeout 1 dmsetup wait pool 1
dmsetup reload pool --table "0 4096 thin-pool $DISK_meta $DISK_data 128 2"
dmsetup suspend pool
dmsetup resume pool
wait; cat /tmp/dd.out
dmsetup status pool
dmsetup info -c -o name,events pool
dd if=/dev/mapper/thin bs=64K skip=20 count=1 iflag=direct status=none | head -c 2; echo
dmsetup reload pool --table "0 4096 thin-pool $DISK_meta $DISK_data 128 2 1 error_if_no_space"
dmsetup suspend pool
dmsetup resume pool
dd if=/dev/zero of=/dev/mapper/thin bs=64K seek=40 count=20 oflag=direct status=noxfer
dmsetup status pool
dmsetup info -c -o name,events pool
dmsetup reload pool --table "0 8192 thin-pool $DISK_meta $DISK_data 128 2 1 error_if_no_space"
dmsetup suspend pool
dmsetup resume pool
dmsetup status pool
dmsetup info -c -o name,events pool
dmsetup remove thin pool
echo 60 > /sys/module/dm_thin_pool/parameters/no_space_timeout
