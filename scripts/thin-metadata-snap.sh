# Metadata snapshots: reserve_metadata_snap keeps a frozen copy of the metadata that thin_dump -m,
# thin_ls -m and thin_delta -m can read while the pool runs.
# disk: meta 4M
# disk: data 16M
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
# Nothing to release yet, and no snapshot to dump.
dmsetup message pool 0 "release_metadata_snap"
thin_dump -m $DISK_meta
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup status pool
thin_dump -m $DISK_meta
dmsetup message pool 0 "release_metadata_snap"
dmsetup status pool
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"
yes a | head -c 196608 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup suspend thin
dmsetup message pool 0 "create_snap 1 0"
dmsetup resume thin
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup status pool
# Changes after the reservation do not show in the snapshot.
yes b | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=5 iflag=fullblock oflag=direct status=noxfer
dmsetup message pool 0 "create_thin 2"
dmsetup status pool
thin_dump -m $DISK_meta
thin_ls -m $DISK_meta
thin_delta -m --snap1 0 --snap2 1 $DISK_meta
# The live metadata cannot be read while the pool holds it.
thin_dump $DISK_meta
thin_check $DISK_meta
dmsetup message pool 0 "release_metadata_snap"
dmsetup message pool 0 "release_metadata_snap"
dmsetup status pool
thin_dump -m $DISK_meta
# A held snapshot survives deactivation and is on disk for the host's thin_dump.
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup remove thin
dmsetup remove pool
thin_dump -m $DISK_meta
thin_ls $DISK_meta
