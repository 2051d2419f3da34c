# What a live pool refuses in a reload: ignore_discard on and off once loaded, another block size, another
# metadata device, a metadata device already in use by another pool, unknown and repeated features,
# wrong feature counts; and what it takes after a refusal.
# disk: meta 4M
# disk: meta2 4M
# disk: data 8M
# disk: data2 8M
dmsetup create pool --table "0 16384 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup reload pool --table "0 16384 thin-pool $DISK_meta $DISK_data 128 0 1 ignore_discard"
dmsetup reload pool --table "0 16384 thin-pool $DISK_meta $DISK_data 256 0"
dmsetup reload pool --table "0 16384 thin-pool $DISK_meta2 $DISK_data 128 0"
dmsetup create other --table "0 16384 thin-pool $DISK_meta $DISK_data2 128 0"
dmsetup create other --table "0 16384 thin-pool $DISK_meta2 $DISK_data 128 0"
dmsetup reload pool --table "0 16384 thin-pool $DISK_meta $DISK_data 128 0 1 discard_on"
dmsetup reload pool --table "0 16384 thin-pool $DISK_meta $DISK_data 128 0 2 error_if_no_space"
dmsetup reload pool --table "0 16384 thin-pool $DISK_meta $DISK_data 128 0 1 error_if_no_space error_if_no_space"
dmsetup reload pool --table "0 16384 thin-pool $DISK_meta $DISK_data 128 0 2 error_if_no_space error_if_no_space"
dmsetup table --inactive pool
dmsetup resume pool
dmsetup status pool
dmsetup remove other
dmsetup remove pool
# A pool created with ignore_discard cannot take discards back either.
dmsetup create pool --table "0 16384 thin-pool $DISK_meta $DISK_data 128 0 1 ignore_discard"
dmsetup status pool
dmsetup reload pool --table "0 16384 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup reload pool --table "0 16384 thin-pool $DISK_meta $DISK_data 128 0 2 ignore_discard no_discard_passdown"
dmsetup resume pool
dmsetup status pool
dmsetup remove pool
