# Discards with passdown (the default): whole blocks are unmapped, freed, and discarded on the
# data disk too, so the data disk reads zeroes there afterwards.
# disk: meta 4M
# disk: data 16M
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"
yes D | head -c 524288 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup status thin
dmsetup status pool
# Discard limits of the thin device (dm-1) and the pool (dm-0): one data block.
cat /sys/block/dm-1/queue/discard_granularity /sys/block/dm-1/queue/discard_max_bytes
cat /sys/block/dm-0/queue/discard_granularity /sys/block/dm-0/queue/discard_max_bytes
# Data block 1 on the data disk holds D before the discard.
dd if=$DISK_data bs=64K count=1 skip=1 iflag=direct status=none | head -c 2
# Discard blocks 0 and 1.
blkdiscard -o 0 -l 131072 /dev/mapper/thin
dmsetup status thin
dmsetup status pool
dd if=/dev/mapper/thin bs=64K count=1 iflag=direct status=none | md5sum
dd if=$DISK_data bs=64K count=1 skip=1 iflag=direct status=none | md5sum
# A discard that covers no whole block unmaps nothing.
blkdiscard -o 200704 -l 8192 /dev/mapper/thin
dmsetup status pool
dd if=/dev/mapper/thin bs=4K count=1 skip=49 iflag=direct status=none | head -c 2
# Only the whole block inside a partial range goes: 60 KiB + 64 KiB + 4 KiB starting at 4 KiB
# into block 2 unmaps block 3 alone.
blkdiscard -o 135168 -l 131072 /dev/mapper/thin
dmsetup status pool
dmsetup status thin
# Misaligned or out-of-range requests are refused before they reach the target.
blkdiscard -o 100 -l 4096 /dev/mapper/thin
blkdiscard -o 4194304 -l 65536 /dev/mapper/thin
blkdiscard -o 4128768 -l 131072 /dev/mapper/thin
# Discarding unmapped blocks is fine.
blkdiscard -o 0 -l 131072 /dev/mapper/thin
# The whole device.
blkdiscard /dev/mapper/thin
dmsetup status thin
dmsetup status pool
# Freed blocks are reused, the lowest first.
yes E | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=10 iflag=fullblock oflag=direct status=noxfer
dmsetup status thin
dmsetup status pool
dmsetup remove thin
dmsetup remove pool
