# External origins: a thin device reads unprovisioned blocks from a read-only origin device.
# disk: meta 4M
# disk: data 16M
# disk: origin 1M
yes O | head -c 1048576 | dd of=$DISK_origin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
# Same size as the origin (2048 sectors).
dmsetup create ext --table "0 2048 thin /dev/mapper/pool 0 $DISK_origin"
dmsetup table ext
dmsetup status ext
dd if=/dev/mapper/ext bs=4K count=1 iflag=direct status=none | head -c 4
# A 4 KiB write provisions a whole block: the rest of it is copied from the origin.
yes N | head -c 4096 | dd of=/dev/mapper/ext bs=4K seek=1 iflag=fullblock oflag=direct status=noxfer
dmsetup status ext
dmsetup status pool
dd if=/dev/mapper/ext bs=4K count=3 iflag=direct status=none | od -A d -c
# The origin itself is untouched.
dd if=$DISK_origin bs=4K count=1 skip=1 iflag=direct status=none | head -c 4
dmsetup remove ext
# A thin device bigger than its origin reads zeroes past the origin's end.
dmsetup message pool 0 "create_thin 1"
dmsetup create big --table "0 4096 thin /dev/mapper/pool 1 $DISK_origin"
dd if=/dev/mapper/big bs=4K count=1 skip=255 iflag=direct status=none | head -c 4; echo
dd if=/dev/mapper/big bs=4K count=1 skip=256 iflag=direct status=none | od -A d -c
# Writing a block past the end of the origin: nothing to copy.
yes P | head -c 4096 | dd of=/dev/mapper/big bs=4K seek=300 iflag=fullblock oflag=direct status=noxfer
dd if=/dev/mapper/big bs=4K count=2 skip=300 iflag=direct status=none | od -A d -c
dmsetup remove big
# An origin whose size is not a whole number of blocks (2040 sectors = 15 blocks + 120 sectors).
dmsetup create frac --table "0 2040 linear $DISK_origin 0"
dmsetup message pool 0 "create_thin 2"
dmsetup create tail --table "0 4096 thin /dev/mapper/pool 2 /dev/mapper/frac"
dd if=/dev/mapper/tail bs=512 count=16 skip=2032 iflag=direct status=none | od -A d -c
# A write into the last, partial block: the copy stops at the origin's end.
yes T | head -c 512 | dd of=/dev/mapper/tail bs=512 seek=2042 iflag=fullblock oflag=direct status=noxfer
dd if=/dev/mapper/tail bs=512 count=16 skip=2032 iflag=direct status=none | od -A d -c
dmsetup status tail
dmsetup remove tail
# A thin device smaller than its origin.
dmsetup message pool 0 "create_thin 3"
dmsetup create small --table "0 1024 thin /dev/mapper/pool 3 $DISK_origin"
dd if=/dev/mapper/small bs=4K count=1 skip=127 iflag=direct status=none | head -c 4; echo
dmsetup remove small
# The origin may not be the pool's own device, nor missing.
dmsetup create bad --table "0 2048 thin /dev/mapper/pool 3 /dev/mapper/pool"
dmsetup create bad --table "0 2048 thin /dev/mapper/pool 3 /dev/nonexistent"
dmsetup status pool
dmsetup remove frac
dmsetup remove pool
