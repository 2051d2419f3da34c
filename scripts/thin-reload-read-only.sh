# Switching a pool to read_only with a reload and back: writes to unprovisioned blocks fail while it is
# read-only, messages are refused, provisioned blocks stay writable; then rw again.
# disk: meta 4M
# disk: data 8M
dmsetup create pool --table "0 16384 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"
yes a | head -c 65536 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup reload pool --table "0 16384 thin-pool $DISK_meta $DISK_data 128 0 1 read_only"
dmsetup suspend pool
dmsetup resume pool
dmsetup status pool
dmsetup status thin
yes b | head -c 4096 | dd of=/dev/mapper/thin bs=4K iflag=fullblock oflag=direct status=noxfer
yes b | head -c 4096 | dd of=/dev/mapper/thin bs=4K seek=64 iflag=fullblock oflag=direct status=noxfer
dd if=/dev/mapper/thin bs=4K count=1 iflag=direct status=none | head -c 2; echo
dmsetup message pool 0 "create_thin 1"
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup message pool 0 "set_transaction_id 0 1"
blkdiscard -o 0 -l 65536 /dev/mapper/thin
dmsetup status pool
dmsetup status thin
# A second read_only reload with other features, then rw.
dmsetup reload pool --table "0 16384 thin-pool $DISK_meta $DISK_data 128 0 2 read_only error_if_no_space"
dmsetup suspend pool
dmsetup resume pool
dmsetup status pool
dmsetup reload pool --table "0 16384 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup suspend pool
dmsetup resume pool
dmsetup status pool
yes c | head -c 4096 | dd of=/dev/mapper/thin bs=4K seek=64 iflag=fullblock oflag=direct status=noxfer
dmsetup message pool 0 "create_thin 1"
dmsetup status pool
dmsetup status thin
dmsetup remove thin
dmsetup remove pool
