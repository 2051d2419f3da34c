# needs_check across a reboot: a failed commit (metadata writes failing through flakey) sets the
# flag; with writes working again by the time the pool goes, the flag reaches the disk. After a
# reboot every table stays read-only until thin_check --clear-needs-check-flag clears it.
# disk: meta 4M
# disk: data 64M
dmsetup create meta --table "0 8192 linear $DISK_meta 0"
dmsetup create pool --table "0 131072 thin-pool /dev/mapper/meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin0 --table "0 8192 thin /dev/mapper/pool 0"
yes a | head -c 131072 | dd of=/dev/mapper/thin0 bs=64K iflag=fullblock oflag=direct status=none
dmsetup status pool
dmsetup reload meta --table "0 8192 flakey $DISK_meta 0 0 1 1 error_writes"
dmsetup suspend meta
dmsetup resume meta
dmsetup message pool 0 "create_thin 1"
dmsetup status pool
dmsetup reload meta --table "0 8192 linear $DISK_meta 0"
dmsetup suspend meta
dmsetup resume meta
dmsetup status pool
dmsetup remove thin0
dmsetup remove pool
dmsetup remove meta
# reboot
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup status pool
dmsetup message pool 0 "create_thin 1"
dmsetup remove pool
thin_check $DISK_meta
thin_check --clear-needs-check-flag $DISK_meta
thin_check $DISK_meta
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup status pool
dmsetup message pool 0 "create_thin 1"
dmsetup create thin0 --table "0 8192 thin /dev/mapper/pool 0"
dd if=/dev/mapper/thin0 bs=64K count=1 skip=1 iflag=direct status=none | od -c | head -2
dmsetup status pool
dmsetup remove thin0
dmsetup remove pool
