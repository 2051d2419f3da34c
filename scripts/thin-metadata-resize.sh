# Growing the metadata device: the pool notices at resume. Shrinking it is refused.
# disk: meta 8M
# disk: data 16M
# The metadata device is a linear slice of the meta disk: 2 MiB first.
dmsetup create metalv --table "0 4096 linear $DISK_meta 0"
dmsetup create pool --table "0 32768 thin-pool /dev/mapper/metalv $DISK_data 128 0"
dmsetup status pool
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"
yes m | head -c 131072 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup status pool
# Grow the slice to 6 MiB: the pool sees it when it is resumed.
dmsetup suspend pool
dmsetup reload metalv --table "0 12288 linear $DISK_meta 0"
dmsetup resume metalv
dmsetup status pool
dmsetup resume pool
dmsetup status pool
blockdev --getsz /dev/mapper/metalv
# Writes still work, and a thin created now works too.
yes n | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=5 iflag=fullblock oflag=direct status=noxfer
dmsetup message pool 0 "create_thin 1"
dmsetup status pool
# Shrinking back to 2 MiB: the pool refuses to resume.
dmsetup suspend pool
dmsetup reload metalv --table "0 4096 linear $DISK_meta 0"
dmsetup resume metalv
dmsetup resume pool
dmsetup info pool
dmsetup status pool
# Put the size back.
dmsetup suspend metalv
dmsetup reload metalv --table "0 12288 linear $DISK_meta 0"
dmsetup resume metalv
dmsetup resume pool
dmsetup status pool
# Growing only a little (less than one 4 KiB block) changes nothing.
dmsetup suspend pool
dmsetup reload metalv --table "0 12292 linear $DISK_meta 0"
dmsetup resume metalv
dmsetup resume pool
dmsetup status pool
dmsetup remove thin
dmsetup remove pool
dmsetup remove metalv
