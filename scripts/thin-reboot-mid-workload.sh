# A power cut in the middle of a workload, with and without a commit. The metadata device is a flakey
# device: once its table drops writes, nothing the pool commits reaches the disk, exactly as if the power
# had gone before the commit. Committed writes, snapshots and transaction ids survive; the rest do not.
# disk: meta 4M
# disk: data 16M
dmsetup create fmeta --table "0 8192 linear $DISK_meta 0"
dmsetup create pool --table "0 32768 thin-pool /dev/mapper/fmeta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 16384 thin /dev/mapper/pool 0"
yes 1 | head -c 262144 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup message pool 0 "set_transaction_id 0 1"
dmsetup status pool
# From here on the metadata disk takes no writes.
dmsetup reload fmeta --table "0 8192 flakey $DISK_meta 0 0 3600 1 drop_writes"
dmsetup suspend fmeta
dmsetup resume fmeta
yes 2 | head -c 262144 | dd of=/dev/mapper/thin bs=64K seek=4 iflag=fullblock oflag=direct status=noxfer
yes 3 | head -c 65536 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup suspend thin
dmsetup message pool 0 "create_snap 1 0"
dmsetup resume thin
dmsetup message pool 0 "set_transaction_id 1 2"
dmsetup status pool
dmsetup status thin
for b in 0 1 4 5; do dd if=/dev/mapper/thin bs=64K skip=$b count=1 iflag=direct status=none | head -c 1; done; echo
# reboot
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup status pool
dmsetup create thin --table "0 16384 thin /dev/mapper/pool 0"
dmsetup status thin
for b in 0 1 4 5; do dd if=/dev/mapper/thin bs=64K skip=$b count=1 iflag=direct status=none | head -c 1 | tr '\000' .; done; echo
dmsetup create snap --table "0 16384 thin /dev/mapper/pool 1"
# The same workload again, committed this time by a flush.
yes 2 | head -c 262144 | dd of=/dev/mapper/thin bs=64K seek=4 iflag=fullblock oflag=direct conv=fsync status=noxfer
dmsetup suspend thin
dmsetup message pool 0 "create_snap 1 0"
dmsetup resume thin
yes 4 | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=8 iflag=fullblock oflag=direct status=noxfer
dmsetup status pool
# reboot
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup status pool
dmsetup create snap --table "0 16384 thin /dev/mapper/pool 1"
dmsetup create thin --table "0 16384 thin /dev/mapper/pool 0"
dmsetup status thin
dmsetup status snap
for b in 0 1 4 5 8; do dd if=/dev/mapper/thin bs=64K skip=$b count=1 iflag=direct status=none | head -c 1 | tr '\000' .; done; echo
dmsetup remove thin snap
dmsetup remove pool
