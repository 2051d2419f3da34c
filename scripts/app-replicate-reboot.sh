# thinsync replicate: asynchronous replication of a live thin into a second pool on the same
# machine, keeping the newest 2 replicas. Each cycle snapshots the thin, sends the snapshot
# incrementally from the previous one (staged on the xfer disk) and receives it as a snapshot of
# the previous replica; only then is the cycle published, the source's previous snapshot deleted
# and the oldest replica pruned. Cycle 4's receive is cut (the test hook --stop-after-records exits
# without any cleanup, as a kill would) and the machine loses power (# reboot): the next run
# resumes cycle 4's receive after its last checkpoint, publishes it, then runs cycle 5. Every
# replica reads the md5 the thin had at its cycle.
# disk: meta 4M
# disk: data 64M
# disk: meta2 4M
# disk: data2 64M
# disk: xfer 16M
# disk: state 1M
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup create pool2 --table "0 131072 thin-pool $DISK_meta2 $DISK_data2 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create vol --table "0 8192 thin /dev/mapper/pool 0"
seq 1 300000 | head -c 2097152 | dd of=/dev/mapper/vol bs=64K iflag=fullblock oflag=direct status=none
md5sum /dev/mapper/vol
thinsync replicate --pool pool --id 0 --dev vol --snap-ids 101 --to-pool pool2 --to-ids 201 --xfer $DISK_xfer --state $DISK_state --keep 2 --checkpoint 131072
yes two | head -c 262144 | dd of=/dev/mapper/vol bs=64K seek=4 iflag=fullblock oflag=direct status=none
md5sum /dev/mapper/vol
thinsync replicate --pool pool --id 0 --dev vol --snap-ids 101 --to-pool pool2 --to-ids 201 --xfer $DISK_xfer --state $DISK_state --keep 2 --checkpoint 131072
blkdiscard -o 0 -l 131072 /dev/mapper/vol
yes three | head -c 65536 | dd of=/dev/mapper/vol bs=64K seek=60 iflag=fullblock oflag=direct status=none
md5sum /dev/mapper/vol
thinsync replicate --pool pool --id 0 --dev vol --snap-ids 101 --to-pool pool2 --to-ids 201 --xfer $DISK_xfer --state $DISK_state --keep 2 --checkpoint 131072
seq 5 400000 | head -c 524288 | dd of=/dev/mapper/vol bs=64K seek=10 iflag=fullblock oflag=direct status=none
md5sum /dev/mapper/vol
thinsync replicate --pool pool --id 0 --dev vol --snap-ids 101 --to-pool pool2 --to-ids 201 --xfer $DISK_xfer --state $DISK_state --keep 2 --checkpoint 131072 --stop-after-records 5
dmsetup ls
dmsetup status pool pool2
# reboot
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup create pool2 --table "0 131072 thin-pool $DISK_meta2 $DISK_data2 128 0"
dmsetup create vol --table "0 8192 thin /dev/mapper/pool 0"
md5sum /dev/mapper/vol
yes five | head -c 131072 | dd of=/dev/mapper/vol bs=64K seek=50 iflag=fullblock oflag=direct status=none
md5sum /dev/mapper/vol
# Another source for the same state is refused.
thinsync replicate --pool pool --id 7 --dev vol --snap-ids 101 --to-pool pool2 --to-ids 201 --xfer $DISK_xfer --state $DISK_state --keep 2
thinsync replicate --pool pool --id 0 --dev vol --snap-ids 101 --to-pool pool2 --to-ids 201 --xfer $DISK_xfer --state $DISK_state --keep 2 --checkpoint 131072 --count 2 --every 1
dmsetup create r204 --readonly --table "0 8192 thin /dev/mapper/pool2 204"
dmsetup create r205 --readonly --table "0 8192 thin /dev/mapper/pool2 205"
md5sum /dev/mapper/r204 /dev/mapper/r205
dmsetup remove r204
dmsetup remove r205
# The source keeps only the next base (105); the target the newest 2 replicas (204, 205).
dmsetup message pool 0 "reserve_metadata_snap"
thin_ls -m $DISK_meta
dmsetup message pool 0 "release_metadata_snap"
dmsetup message pool2 0 "reserve_metadata_snap"
thin_ls -m $DISK_meta2
dmsetup message pool2 0 "release_metadata_snap"
dmsetup status pool pool2
