# A power cut while a metadata snapshot is held and thin devices are mid-workload: after the reboot the
# held snapshot is still there (thin_dump -m reads it), writes after the last commit are gone, and
# release_metadata_snap works on the reopened pool.
# disk: meta 4M
# disk: data 16M
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"
yes h | head -c 65536 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct conv=fsync status=noxfer
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup message pool 0 "create_thin 1"
yes i | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=1 iflag=fullblock oflag=direct conv=fsync status=noxfer
dmsetup status pool
# reboot
thin_dump -m $DISK_meta
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup status pool
thin_ls -m $DISK_meta
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup message pool 0 "release_metadata_snap"
dmsetup message pool 0 "release_metadata_snap"
dmsetup status pool
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup status pool
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"
dmsetup status thin
dmsetup suspend thin
dmsetup message pool 0 "create_snap 2 0"
dmsetup resume thin
# reboot
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0 1 read_only"
dmsetup status pool
thin_ls -m $DISK_meta
dmsetup message pool 0 "release_metadata_snap"
dmsetup remove pool
thin_ls $DISK_meta
