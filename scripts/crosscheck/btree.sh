# Trees of several nodes: 130 thin devices (the device details tree splits) and 320 mappings in
# one device (its mapping tree splits), shared with a snapshot, partly overwritten and discarded.
# The kernel walks them, reads the data back, and deletes most devices (nodes merge).
# disk: meta 4M
# disk: data 32M
dmsetup create pool --table "0 65536 thin-pool $DISK_meta $DISK_data 128 16"
for i in $(seq 0 129); do dmsetup message pool 0 "create_thin $i" || break; done
dmsetup create t0 --table "0 65536 thin /dev/mapper/pool 0"
yes a | head -c 20971520 | dd of=/dev/mapper/t0 bs=1M iflag=fullblock oflag=direct status=noxfer
dmsetup suspend t0
dmsetup message pool 0 "create_snap 200 0"
dmsetup resume t0
dmsetup create t200 --table "0 65536 thin /dev/mapper/pool 200"
# Every eighth block of the origin is rewritten: those blocks are no longer shared.
for i in $(seq 0 8 319); do yes b | head -c 65536 | dd of=/dev/mapper/t0 bs=64K seek=$i iflag=fullblock oflag=direct status=none || break; done
blkdiscard -o 6291456 -l 2097152 /dev/mapper/t200
dmsetup status pool
dmsetup status t0
dmsetup status t200
# reboot
thin_check $DISK_meta
thin_dump $DISK_meta
dmsetup create pool --table "0 65536 thin-pool $DISK_meta $DISK_data 128 16"
dmsetup status pool
dmsetup create t0 --table "0 65536 thin /dev/mapper/pool 0"
dmsetup create t200 --table "0 65536 thin /dev/mapper/pool 200"
dmsetup status t0
dmsetup status t200
dd if=/dev/mapper/t0 bs=1M count=20 iflag=direct status=none | md5sum
dd if=/dev/mapper/t200 bs=1M count=20 iflag=direct status=none | md5sum
# Deleting the origin frees the blocks only it held.
dmsetup remove t0
dmsetup message pool 0 "delete 0"
dmsetup status pool
yes c | head -c 1048576 | dd of=/dev/mapper/t200 bs=64K seek=96 iflag=fullblock oflag=direct status=noxfer
dmsetup status pool
dmsetup status t200
for i in $(seq 1 100); do dmsetup message pool 0 "delete $i" || break; done
dmsetup status pool
dmsetup remove t200
dmsetup remove pool
thin_check $DISK_meta
thin_dump $DISK_meta
