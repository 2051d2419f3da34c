# Table rules for pools: a pool is alone in its table, its target type is immutable, and a
# different pool cannot take over a pool device.
# disk: meta 4M
# disk: data 16M
# disk: meta2 4M
# Two pools in one table, or a pool next to a linear target.
printf '0 16384 thin-pool %s %s 128 0\n16384 16384 thin-pool %s %s 128 0\n' $DISK_meta $DISK_data $DISK_meta2 $DISK_data | dmsetup create pool
printf '0 16384 thin-pool %s %s 128 0\n16384 16384 linear %s 0\n' $DISK_meta $DISK_data $DISK_meta2 | dmsetup create pool
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
# The same pool can replace itself, with other features.
dmsetup reload pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0 1 skip_block_zeroing"
dmsetup resume pool
dmsetup table pool
# A pool on other metadata cannot replace it.
dmsetup reload pool --table "0 32768 thin-pool $DISK_meta2 $DISK_data 128 0"
dmsetup info pool
# Nor can a linear target.
dmsetup reload pool --table "0 32768 linear $DISK_data 0"
# A linear device can become a pool.
dmsetup create lin --table "0 8192 linear $DISK_meta2 0"
dmsetup reload lin --table "0 32768 thin-pool $DISK_meta2 $DISK_data 128 0"
dmsetup resume lin
dmsetup table lin
dmsetup status lin
# A thin device on a device that is not a pool, or on a pool's metadata.
dmsetup create thin --table "0 8192 thin $DISK_data 0"
dmsetup create thin --table "0 8192 thin /dev/mapper/lin 0"
dmsetup message lin 0 "create_thin 0"
dmsetup create thin --table "0 8192 thin /dev/mapper/lin 0"
# A thin device shares a table with other targets.
printf '0 8192 thin /dev/mapper/lin 0\n8192 8192 linear %s 0\n' $DISK_data | dmsetup create mixed
dmsetup table mixed
# Only the pool is immutable: a table with a thin target can be replaced by a linear one.
dmsetup reload mixed --table "0 8192 linear $DISK_data 0"
dmsetup resume mixed
dmsetup table mixed
dmsetup remove mixed thin
dmsetup remove lin
dmsetup remove pool
