# A lying data disk (flakey with drop_writes, down for good): writes and flushes to thin blocks are
# acknowledged, conv=fsync and all, and the pool commits the mappings, but the data never reaches
# the disk. The kernel cannot see it; only a durability check can (negative control). After a
# reboot the committed mappings point at blocks that never got their data.
# disk: meta 4M
# disk: data 64M
dmsetup create data --table "0 131072 linear $DISK_data 0"
dmsetup create pool --table "0 131072 thin-pool $DISK_meta /dev/mapper/data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin0 --table "0 8192 thin /dev/mapper/pool 0"
yes a | head -c 65536 | dd of=/dev/mapper/thin0 bs=64K iflag=fullblock oflag=direct conv=fsync status=none
dmsetup reload data --table "0 131072 flakey $DISK_data 0 0 1 1 drop_writes"
dmsetup suspend data
dmsetup resume data
yes b | head -c 65536 | dd of=/dev/mapper/thin0 bs=64K seek=1 iflag=fullblock oflag=direct conv=fsync
yes c | head -c 65536 | dd of=/dev/mapper/thin0 bs=64K iflag=fullblock oflag=direct conv=fsync
dmsetup status pool
yes a | head -c 65536 | md5sum
yes b | head -c 65536 | md5sum
yes c | head -c 65536 | md5sum
dd if=/dev/mapper/thin0 bs=64K count=1 iflag=direct status=none | md5sum
dd if=/dev/mapper/thin0 bs=64K count=1 skip=1 iflag=direct status=none | md5sum
# reboot
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup create thin0 --table "0 8192 thin /dev/mapper/pool 0"
dmsetup status pool
dd if=/dev/mapper/thin0 bs=64K count=1 iflag=direct status=none | md5sum
dd if=/dev/mapper/thin0 bs=64K count=1 skip=1 iflag=direct status=none | md5sum
dmsetup remove thin0
dmsetup remove pool
