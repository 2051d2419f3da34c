# thinsync replicate to another machine: each cycle's stream goes to a device (or to files, %d
# being the cycle) that the other side reads with recv, applying the cycles in order as
# snapshots of its previous replica. The source keeps only the last cycle's snapshot, the next
# base. Several cycles into one device are refused.
# disk: meta 4M
# disk: data 64M
# disk: meta2 4M
# disk: data2 64M
# disk: xfer 8M
# disk: state 1M
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup create pool2 --table "0 131072 thin-pool $DISK_meta2 $DISK_data2 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create vol --table "0 8192 thin /dev/mapper/pool 0"
seq 1 300000 | head -c 1048576 | dd of=/dev/mapper/vol bs=64K iflag=fullblock oflag=direct status=none
md5sum /dev/mapper/vol
thinsync replicate --pool pool --id 0 --dev vol --snap-ids 1 --state $DISK_state -o $DISK_xfer
thinsync inspect $DISK_xfer
thinsync recv --pool pool2 --id 1 -i $DISK_xfer
yes two | head -c 196608 | dd of=/dev/mapper/vol bs=64K seek=30 iflag=fullblock oflag=direct status=none
md5sum /dev/mapper/vol
thinsync replicate --pool pool --id 0 --dev vol --snap-ids 1 --state $DISK_state -o $DISK_xfer
thinsync recv --pool pool2 --id 2 --base 1 -i $DISK_xfer
dmsetup create r2 --readonly --table "0 8192 thin /dev/mapper/pool2 2"
md5sum /dev/mapper/r2
dmsetup remove r2
thinsync replicate --pool pool --id 0 --dev vol --snap-ids 1 --state $DISK_state -o $DISK_xfer --count 2
blkdiscard -o 1966080 -l 131072 /dev/mapper/vol
md5sum /dev/mapper/vol
thinsync replicate --pool pool --id 0 --dev vol --snap-ids 1 --state $DISK_state -o /tmp/c.%d --count 2 --every 5
thinsync recv --pool pool2 --id 3 --base 2 -i /tmp/c.3
thinsync recv --pool pool2 --id 4 --base 3 -i /tmp/c.4
md5sum /tmp/c.3 /tmp/c.4
dmsetup create r4 --readonly --table "0 8192 thin /dev/mapper/pool2 4"
md5sum /dev/mapper/r4
dmsetup remove r4
# A cycle skipped on the receiving side is refused there: thin 2 is not cycle 4's base.
thinsync recv --pool pool2 --id 9 --base 2 -i /tmp/c.4
dmsetup message pool 0 "reserve_metadata_snap"
thin_ls -m $DISK_meta
dmsetup message pool 0 "release_metadata_snap"
dmsetup status pool pool2
