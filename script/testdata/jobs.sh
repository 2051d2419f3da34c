# jobs: background jobs and pipelines racing the pool's timers; TestJobsDeterministic runs it
# many times at once and wants the same bytes every time.
# disk: meta 4M
# disk: data 8M
echo 1 > /sys/module/dm_thin_pool/parameters/no_space_timeout
dmsetup create pool --table "0 2048 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 16384 thin /dev/mapper/pool 0"
yes a | head -c 1048576 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
# Held until the no-space timeout (1 s) fails it; meanwhile the periodic commit runs.
yes b | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=16 iflag=fullblock oflag=direct status=noxfer >/tmp/dd.out 2>&1 &
dmsetup status pool
sleep 0.2; dmsetup status pool
(sleep 0.2; dmsetup status thin) | cat & (yes c | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=17 iflag=fullblock oflag=direct status=none; echo $? > /tmp/c) &
wait; cat /tmp/dd.out /tmp/c
dmsetup status pool
# Grow the pool, fill it again, and hold a write for ever (timeout 0) until it grows once more.
dmsetup reload pool --table "0 4096 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup suspend pool; dmsetup resume pool
echo 0 > /sys/module/dm_thin_pool/parameters/no_space_timeout
yes e | head -c 1048576 | dd of=/dev/mapper/thin bs=64K seek=16 iflag=fullblock oflag=direct status=noxfer
yes d | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=32 iflag=fullblock oflag=direct status=noxfer >/tmp/dd.out 2>&1 &
sleep 2; dmsetup status pool
dmsetup reload pool --table "0 6144 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup suspend pool; dmsetup resume pool
wait; cat /tmp/dd.out
dd if=/dev/mapper/thin bs=64K count=1 skip=32 iflag=direct status=none | head -c 2; echo
for i in 1 2 3; do (sleep 0.$i; dmsetup status pool) & done; wait
dmsetup remove thin
dmsetup remove pool
echo 60 > /sys/module/dm_thin_pool/parameters/no_space_timeout
