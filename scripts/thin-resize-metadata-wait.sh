# Growing the metadata device under a live pool at resume, in steps, through a linear device: the status
# line's metadata total follows, each resume raises an event, and a shrink is refused.
# disk: meta 16M
# disk: data 16M
dmsetup create meta --table "0 1024 linear $DISK_meta 0"
dmsetup create pool --table "0 32768 thin-pool /dev/mapper/meta $DISK_data 128 0"
dmsetup status pool
dmsetup info -c -o name,events pool
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 32768 thin /dev/mapper/pool 0"
yes m | head -c 1048576 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup status pool
# To 1 MiB, then 8 MiB, then 16 MiB.
dmsetup reload meta --table "0 2048 linear $DISK_meta 0"
dmsetup resume meta
dmsetup suspend pool
dmsetup resume pool
dmsetup status pool
dmsetup info -c -o name,events pool
timeout 1 dmsetup wait pool 0
dmsetup reload meta --table "0 16384 linear $DISK_meta 0"
dmsetup resume meta
dmsetup reload pool --table "0 32768 thin-pool /dev/mapper/meta $DISK_data 128 0"
dmsetup resume pool
dmsetup status pool
dmsetup reload meta --table "0 32768 linear $DISK_meta 0"
dmsetup resume meta
dmsetup suspend pool
dmsetup resume pool
dmsetup status pool
dmsetup info -c -o name,events pool
# Shrinking the metadata device back is refused at resume; the pool stays suspended until it grows again.
dmsetup reload meta --table "0 8192 linear $DISK_meta 0"
dmsetup resume meta
dmsetup suspend pool
dmsetup resume pool
dmsetup info -c -o name,suspended,events pool
dmsetup reload meta --table "0 32768 linear $DISK_meta 0"
dmsetup resume meta
dmsetup resume pool
dmsetup status pool
dmsetup remove thin pool meta
