# An external origin larger than the thin device: the thin device sees only its own length of it; writes
# copy from the origin; a snapshot of the external-origin device shares it; discards fall back to the origin.
# disk: meta 4M
# disk: data 16M
# disk: origin 4M
yes O | head -c 4194304 | dd of=$DISK_origin bs=1M iflag=fullblock oflag=direct status=none
dmsetup create ro --readonly --table "0 8192 linear $DISK_origin 0"
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create ext --table "0 2048 thin /dev/mapper/pool 0 /dev/mapper/ro"
dmsetup table ext
dmsetup status ext
blockdev --getsz /dev/mapper/ext
dd if=/dev/mapper/ext bs=64K skip=15 count=1 iflag=direct status=none | head -c 2; echo
dd if=/dev/mapper/ext bs=64K skip=16 count=1 iflag=direct status=noxfer | wc -c
# A write in the middle of block 3: the rest of the block comes from the origin.
yes w | head -c 4096 | dd of=/dev/mapper/ext bs=4K seek=50 iflag=fullblock oflag=direct status=noxfer
dd if=/dev/mapper/ext bs=4K skip=48 count=4 iflag=direct status=none | od -A d -c | head -8
dmsetup status ext
# A snapshot of the external-origin device keeps the origin too.
dmsetup suspend ext
dmsetup message pool 0 "create_snap 1 0"
dmsetup resume ext
dmsetup create snap --table "0 2048 thin /dev/mapper/pool 1 /dev/mapper/ro"
yes s | head -c 4096 | dd of=/dev/mapper/snap bs=4K seek=50 iflag=fullblock oflag=direct status=noxfer
dd if=/dev/mapper/ext bs=4K skip=50 count=1 iflag=direct status=none | head -c 2; echo
dd if=/dev/mapper/snap bs=4K skip=50 count=1 iflag=direct status=none | head -c 2; echo
dd if=/dev/mapper/snap bs=4K skip=100 count=1 iflag=direct status=none | head -c 2; echo
dmsetup status pool
# Discarding the written block: reads come from the origin again.
blkdiscard -o 196608 -l 65536 /dev/mapper/ext
dmsetup status ext
dd if=/dev/mapper/ext bs=4K skip=50 count=1 iflag=direct status=none | head -c 2; echo
# A table swap to a longer thin device over the same origin, and one past the origin's end.
dmsetup reload ext --table "0 8192 thin /dev/mapper/pool 0 /dev/mapper/ro"
dmsetup resume ext
dd if=/dev/mapper/ext bs=64K skip=63 count=1 iflag=direct status=none | head -c 2; echo
dmsetup reload ext --table "0 10240 thin /dev/mapper/pool 0 /dev/mapper/ro"
dmsetup resume ext
dd if=/dev/mapper/ext bs=64K skip=64 count=1 iflag=direct status=none | od -c | head -2
dmsetup status pool
dmsetup remove ext snap pool ro
