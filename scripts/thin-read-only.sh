# read_only pools: reads work, nothing that changes the metadata does.
# disk: meta 4M
# disk: data 16M
# A read-only pool cannot format fresh metadata.
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0 1 read_only"
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"
yes r | head -c 131072 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup remove thin
dmsetup remove pool
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0 1 read_only"
dmsetup status pool
dmsetup table pool
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"
# Provisioned and unprovisioned regions can be read.
dd if=/dev/mapper/thin bs=64K count=1 iflag=direct status=none | head -c 2
dd if=/dev/mapper/thin bs=64K count=1 skip=10 iflag=direct status=none | md5sum
# A provisioned block can be overwritten; a new block cannot be provisioned.
yes s | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=1 iflag=fullblock oflag=direct status=noxfer
dd if=/dev/mapper/thin bs=64K count=1 skip=1 iflag=direct status=none | head -c 2
timeout 60 dd if=/dev/zero of=/dev/mapper/thin bs=64K seek=10 count=1 oflag=direct status=noxfer
blkdiscard -o 0 -l 65536 /dev/mapper/thin
# No messages at all.
dmsetup message pool 0 "create_thin 1"
dmsetup message pool 0 "delete 0"
dmsetup message pool 0 "set_transaction_id 0 1"
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup status pool
# Reloading without read_only switches it back to write mode.
dmsetup reload pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup suspend thin
dmsetup suspend pool
dmsetup resume pool
dmsetup resume thin
dmsetup status pool
timeout 60 dd if=/dev/zero of=/dev/mapper/thin bs=64K seek=10 count=1 oflag=direct status=noxfer
dmsetup message pool 0 "create_thin 1"
dmsetup status pool
# And back to read-only.
dmsetup reload pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0 1 read_only"
dmsetup suspend thin
dmsetup suspend pool
dmsetup resume pool
dmsetup resume thin
dmsetup status pool
dmsetup remove thin
dmsetup remove pool
