# Discards after a metadata snapshot on a 32 MiB metadata device: the live metadata loses mappings the
# held copy still has, and thin_delta -m compares two devices of the held copy.
# disk: meta 32M
# disk: data 32M
dmsetup create pool --table "0 65536 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create t0 --table "0 16384 thin /dev/mapper/pool 0"
for b in 0 1 2 3 4 5 6 7; do yes d | head -c 65536 | dd of=/dev/mapper/t0 bs=64K seek=$b iflag=fullblock oflag=direct conv=fsync status=none; done
dmsetup status pool
dmsetup suspend t0
dmsetup message pool 0 "create_snap 1 0"
dmsetup resume t0
blkdiscard -o 131072 -l 131072 /dev/mapper/t0
dmsetup status pool
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup status pool
thin_delta -m --snap1 1 --snap2 0 $DISK_meta
# Discarding blocks only the live device 0 maps after the reservation.
dmsetup message pool 0 "delete 1"
blkdiscard -o 0 -l 131072 /dev/mapper/t0
dmsetup status pool
dmsetup status t0
thin_dump -m $DISK_meta
dmsetup message pool 0 "release_metadata_snap"
dmsetup status pool
dmsetup remove t0
dmsetup remove pool
thin_dump $DISK_meta
