# thinsync migrate refuses, in one line and before copying anything: a target pool too small for
# what the source maps (exit 11), a thin id taken on the target (exit 6), a read-only or failed
# source pool and a target that needs_check (exit 12). The pools do not change; with free ids the
# same migration goes through.
# disk: meta 4M
# disk: data 64M
# disk: meta2 4M
# disk: data2 64M
# disk: meta3 4M
# disk: data3 64M
dmsetup create meta --table "0 8192 linear $DISK_meta 0"
dmsetup create pool --table "0 131072 thin-pool /dev/mapper/meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"
yes a | head -c 2097152 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=none
dmsetup suspend thin
dmsetup message pool 0 "create_snap 1 0"
dmsetup resume thin
yes b | head -c 1048576 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=none
dmsetup remove thin
# A target of 40 blocks for a family that needs 48.
dmsetup create pool2 --table "0 5120 thin-pool $DISK_meta2 $DISK_data2 128 0"
thinsync migrate --from pool:1,0 --to pool2:1,0 --size 8192
dmsetup status pool2
dmsetup reload pool2 --table "0 131072 thin-pool $DISK_meta2 $DISK_data2 128 0"
dmsetup suspend pool2
dmsetup resume pool2
# Thin 0 exists on the target.
dmsetup message pool2 0 "create_thin 0"
thinsync migrate --from pool:1,0 --to pool2:1,0 --size 8192
thinsync migrate --from pool:1,0 --to pool2:1,2 --size 8192
dmsetup status pool2
# A target that needs_check: a failed commit through flakey metadata.
dmsetup create meta3 --table "0 8192 linear $DISK_meta3 0"
dmsetup create pool3 --table "0 131072 thin-pool /dev/mapper/meta3 $DISK_data3 128 0"
dmsetup reload meta3 --table "0 8192 flakey $DISK_meta3 0 0 1 1 error_writes"
dmsetup suspend meta3
dmsetup resume meta3
dmsetup message pool3 0 "create_thin 0"
dmsetup status pool3
thinsync migrate --from pool:1,0 --to pool3:1,0 --size 8192
# A read-only source.
dmsetup reload pool --table "0 131072 thin-pool /dev/mapper/meta $DISK_data 128 0 1 read_only"
dmsetup suspend pool
dmsetup resume pool
dmsetup status pool
thinsync migrate --from pool:1,0 --to pool2:11,10 --size 8192
# A failed source: its metadata device turns into the error target.
dmsetup reload pool --table "0 131072 thin-pool /dev/mapper/meta $DISK_data 128 0"
dmsetup suspend pool
dmsetup resume pool
dmsetup reload meta --table "0 8192 error"
dmsetup suspend meta
dmsetup resume meta
dmsetup message pool 0 "create_thin 5"
dmsetup status pool
thinsync migrate --from pool:1,0 --to pool2:11,10 --size 8192
dmsetup status pool2
dmsetup remove_all
