# Metadata survives a power cut once committed: reopen the pool after `# reboot`.
# disk: meta 4M
# disk: data 16M
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 16"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"
yes r | head -c 196608 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup message pool 0 "set_transaction_id 0 7"
dmsetup suspend thin
dmsetup message pool 0 "create_snap 1 0"
dmsetup resume thin
# `dmsetup status` of the pool commits the metadata: the writes are now safe.
dmsetup status pool
# Power off without removing anything.
# reboot
dmsetup ls
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 16"
dmsetup status pool
dmsetup create snap --table "0 8192 thin /dev/mapper/pool 1"
dmsetup status snap
dd if=/dev/mapper/snap bs=64K count=1 skip=2 iflag=direct status=none | head -c 2
# Writes committed by the kernel's periodic commit (once a second) survive too.
yes s | head -c 65536 | dd of=/dev/mapper/snap bs=64K seek=3 iflag=fullblock oflag=direct status=noxfer
sleep 2
# reboot
# The old table is gone: reopen with a bigger pool and other features.
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 16 1 skip_block_zeroing"
dmsetup status pool
dmsetup create snap --table "0 8192 thin /dev/mapper/pool 1"
dmsetup status snap
dd if=/dev/mapper/snap bs=64K count=1 skip=3 iflag=direct status=none | head -c 2
# A smaller pool than the metadata knows is refused.
dmsetup remove snap
dmsetup remove pool
dmsetup create pool --table "0 16384 thin-pool $DISK_meta $DISK_data 128 16"
dmsetup ls
