# error_if_no_space: when the data runs out, writes fail at once with ENOSPC; growing the pool
# brings it back to write mode.
# disk: meta 4M
# disk: data 8M
# The pool uses 2 MiB (32 blocks) of the 8 MiB data disk, low water mark 4 blocks.
dmsetup create pool --table "0 4096 thin-pool $DISK_meta $DISK_data 128 4 1 error_if_no_space"
dmsetup status pool
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 16384 thin /dev/mapper/pool 0"
# 28 blocks: just past the low water mark, which sends an event.
yes a | head -c 1835008 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup status pool
dmsetup info pool
# 8 more blocks: 4 fit, then the pool is out of data space.
timeout 60 dd if=/dev/zero of=/dev/mapper/thin bs=64K seek=28 count=8 oflag=direct status=noxfer
dmsetup status pool
dmsetup status thin
dmsetup info pool
# Provisioned blocks can still be read and overwritten; new blocks cannot be written.
dd if=/dev/mapper/thin bs=64K count=1 iflag=direct status=none | head -c 2
yes b | head -c 65536 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
timeout 60 dd if=/dev/zero of=/dev/mapper/thin bs=64K seek=40 count=1 oflag=direct status=noxfer
# Unprovisioned blocks still read as zeroes.
dd if=/dev/mapper/thin bs=64K count=1 skip=40 iflag=direct status=none | md5sum
# Messages still work.
dmsetup message pool 0 "create_thin 1"
# Grow the pool to 4 MiB.
dmsetup reload pool --table "0 8192 thin-pool $DISK_meta $DISK_data 128 4 1 error_if_no_space"
dmsetup suspend pool
dmsetup resume pool
dmsetup status pool
timeout 60 dd if=/dev/zero of=/dev/mapper/thin bs=64K seek=40 count=1 oflag=direct status=noxfer
dmsetup status pool
dmsetup status thin
dmsetup info pool
dmsetup remove thin
dmsetup remove pool
