# Block zeroing: a partial write to a new block zeroes the rest of it first, unless the pool has
# skip_block_zeroing, in which case the rest shows whatever the data disk held.
# disk: meta 4M
# disk: data 16M
# Fill the start of the data disk with X.
yes X | head -c 1048576 | dd of=$DISK_data bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"
yes a | head -c 4096 | dd of=/dev/mapper/thin bs=4K seek=1 iflag=fullblock oflag=direct status=noxfer
dd if=/dev/mapper/thin bs=4K count=3 iflag=direct status=none | od -A d -c
dmsetup remove thin
dmsetup reload pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0 1 skip_block_zeroing"
dmsetup suspend pool
dmsetup resume pool
dmsetup table pool
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"
# Block 1 of the thin device is data block 1 of the disk, which still holds X.
yes b | head -c 4096 | dd of=/dev/mapper/thin bs=4K seek=17 iflag=fullblock oflag=direct status=noxfer
dd if=/dev/mapper/thin bs=4K count=3 skip=16 iflag=direct status=none | od -A d -c
# Reads of unprovisioned blocks are zeroes either way.
dd if=/dev/mapper/thin bs=4K count=1 skip=40 iflag=direct status=none | od -A d -c
dmsetup status pool
dmsetup remove thin
dmsetup remove pool
