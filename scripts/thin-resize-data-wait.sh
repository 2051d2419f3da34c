# Growing the data of a pool at resume, three times, on a linear data device that grows with it: the low
# water mark raises one event per crossing, and `dmsetup wait` returns with the event number.
# disk: meta 4M
# disk: data 16M
dmsetup create data --table "0 4096 linear $DISK_data 0"
dmsetup create pool --table "0 4096 thin-pool $DISK_meta /dev/mapper/data 128 24 1 error_if_no_space"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 32768 thin /dev/mapper/pool 0"
dmsetup info -c -o name,events pool
# 32 blocks, low water 24 free: the ninth block crosses it.
yes a | head -c 524288 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup info -c -o name,events pool
yes a | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=8 iflag=fullblock oflag=direct status=noxfer
dmsetup info -c -o name,events pool
timeout 1 dmsetup wait pool 0
timeout 1 dmsetup wait pool 1
# Grow the data device and the pool to 64 blocks: 55 free, above the mark again; a resume raises an event.
dmsetup reload data --table "0 8192 linear $DISK_data 0"
dmsetup resume data
dmsetup reload pool --table "0 8192 thin-pool $DISK_meta /dev/mapper/data 128 24 1 error_if_no_space"
dmsetup suspend pool
dmsetup resume pool
dmsetup status pool
dmsetup info -c -o name,events pool
timeout 1 dmsetup wait pool 1
yes b | head -c 1966080 | dd of=/dev/mapper/thin bs=64K seek=9 iflag=fullblock oflag=direct status=noxfer
dmsetup status pool
dmsetup info -c -o name,events pool
# Fill it: the pool runs out of space (error_if_no_space) and raises one more event.
dd if=/dev/zero of=/dev/mapper/thin bs=64K seek=40 count=30 oflag=direct status=noxfer
dmsetup status pool
dmsetup info -c -o name,events pool
# Grow to 128 blocks at once; the pool goes back to rw.
dmsetup reload data --table "0 16384 linear $DISK_data 0"
dmsetup resume data
dmsetup reload pool --table "0 16384 thin-pool $DISK_meta /dev/mapper/data 128 24 1 error_if_no_space"
dmsetup resume pool
dmsetup status pool
dmsetup info -c -o name,events pool
timeout 1 dmsetup wait pool 3
dmsetup remove thin pool data
