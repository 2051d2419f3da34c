# A 1 GiB metadata device (262144 blocks of 4 KiB, a sparse image): the status line, a metadata snapshot
# and thin_dump -m, thin_ls -m, thin_delta -m on it, and a reopen of the pool.
# disk: meta 1G
# disk: data 64M
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup status pool
dmsetup message pool 0 "create_thin 7"
dmsetup create t7 --table "0 65536 thin /dev/mapper/pool 7"
yes g | head -c 65536 | dd of=/dev/mapper/t7 bs=64K seek=100 iflag=fullblock oflag=direct conv=fsync status=none
yes g | head -c 65536 | dd of=/dev/mapper/t7 bs=64K seek=500 iflag=fullblock oflag=direct conv=fsync status=none
dmsetup suspend t7
dmsetup message pool 0 "create_snap 8 7"
dmsetup resume t7
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup status pool
thin_dump -m $DISK_meta
thin_ls -m $DISK_meta
thin_delta -m --snap1 7 --snap2 8 $DISK_meta
yes h | head -c 65536 | dd of=/dev/mapper/t7 bs=64K seek=100 iflag=fullblock oflag=direct conv=fsync status=none
dmsetup status pool
thin_delta -m --snap1 7 --snap2 8 $DISK_meta
dmsetup remove t7
dmsetup remove pool
# The held snapshot survives a reopen.
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup status pool
dmsetup message pool 0 "release_metadata_snap"
dmsetup status pool
dmsetup remove pool
thin_ls $DISK_meta
