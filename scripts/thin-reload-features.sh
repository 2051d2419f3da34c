# Reloading a live pool with other features: error_if_no_space and back to queueing, no_discard_passdown and
# back, skip_block_zeroing; the status line after each resume, and what a thin device does with the change.
# disk: meta 4M
# disk: data 8M
dmsetup create pool --table "0 16384 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"
dmsetup status pool
dmsetup reload pool --table "0 16384 thin-pool $DISK_meta $DISK_data 128 0 1 error_if_no_space"
# Loaded, not live yet.
dmsetup status pool
dmsetup table --inactive pool
dmsetup suspend pool
dmsetup resume pool
dmsetup status pool
dmsetup table pool
dmsetup reload pool --table "0 16384 thin-pool $DISK_meta $DISK_data 128 0 2 no_discard_passdown skip_block_zeroing"
dmsetup suspend pool
dmsetup resume pool
dmsetup status pool
dmsetup table pool
cat /sys/block/dm-1/queue/discard_max_bytes
yes n | head -c 65536 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
blkdiscard -o 0 -l 65536 /dev/mapper/thin
dmsetup status pool
dd if=$DISK_data bs=64K count=1 iflag=direct status=none | head -c 2; echo
# Back to the defaults.
dmsetup reload pool --table "0 16384 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup suspend pool
dmsetup resume pool
dmsetup status pool
yes p | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=1 iflag=fullblock oflag=direct status=noxfer
blkdiscard -o 65536 -l 65536 /dev/mapper/thin
dmsetup status pool
dd if=$DISK_data bs=64K count=1 iflag=direct status=none | od -c | head -2
# A reload with the same features in another order, and a resume without a suspend.
dmsetup reload pool --table "0 16384 thin-pool $DISK_meta $DISK_data 128 0 2 skip_block_zeroing error_if_no_space"
dmsetup resume pool
dmsetup status pool
dmsetup info -c -o name,attr,events pool
dmsetup remove thin
dmsetup remove pool
