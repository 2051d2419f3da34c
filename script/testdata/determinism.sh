# determinism: timing-sensitive paths (virtual time, queued I/O, timers, pipelines, reboot);
# run twice by TestDeterministic, which wants the same bytes both times.
# disk: meta 4M
# disk: data 8M
echo 2 > /sys/module/dm_thin_pool/parameters/no_space_timeout
cat /sys/module/dm_thin_pool/parameters/no_space_timeout
dmsetup create pool --table "0 16384 thin-pool $DISK_meta $DISK_data 128 16"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 65536 thin /dev/mapper/pool 0"
sleep 3
timeout 30 dd if=/dev/zero of=/dev/mapper/thin bs=64K count=200 oflag=direct status=noxfer
dmsetup status pool
sleep 1; dmsetup status thin
timeout 1 dmsetup wait pool
yes x | head -c 100000 | md5sum
seq 1 5 | wc -l
dd if=/dev/mapper/thin bs=4K count=4 status=none | od -A x -t x1 | head -3
dmesg -c | head -3
# reboot
dmsetup ls
dmsetup create pool --table "0 16384 thin-pool $DISK_meta $DISK_data 128 16"
dmsetup status pool
dmsetup remove_all
