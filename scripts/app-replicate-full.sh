# thinsync replicate into a target pool that is too small: a cycle is refused before anything is
# received (exit 16; a DATA record of the stream maps at most one new block of the replica), the
# cycle's snapshot is deleted again and the last published cycle stays the base. After the target
# pool grows, the next run replicates from that base. A state for another source is refused.
# disk: meta 4M
# disk: data 64M
# disk: meta2 4M
# disk: data2 64M
# disk: meta3 4M
# disk: data3 8M
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup create pool2 --table "0 2560 thin-pool $DISK_meta2 $DISK_data2 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create vol --table "0 8192 thin /dev/mapper/pool 0"
seq 1 300000 | head -c 1048576 | dd of=/dev/mapper/vol bs=64K iflag=fullblock oflag=direct status=none
md5sum /dev/mapper/vol
thinsync replicate --pool pool --id 0 --dev vol --snap-ids 11 --to-pool pool2 --to-ids 21 --state /tmp/rs --keep 2
dmsetup status pool2
yes more | head -c 524288 | dd of=/dev/mapper/vol bs=64K seek=20 iflag=fullblock oflag=direct status=none
md5sum /dev/mapper/vol
thinsync replicate --pool pool --id 0 --dev vol --snap-ids 11 --to-pool pool2 --to-ids 21 --state /tmp/rs --keep 2
dmsetup status pool pool2
# Only the published cycle's snapshot (11) is left on the source.
dmsetup message pool 0 "reserve_metadata_snap"
thin_ls -m $DISK_meta
dmsetup message pool 0 "release_metadata_snap"
# The target grows; the next run replicates from cycle 1.
dmsetup suspend pool2
dmsetup reload pool2 --table "0 131072 thin-pool $DISK_meta2 $DISK_data2 128 0"
dmsetup resume pool2
thinsync replicate --pool pool --id 0 --dev vol --snap-ids 11 --to-pool pool2 --to-ids 21 --state /tmp/rs --keep 2
dmsetup create r22 --readonly --table "0 8192 thin /dev/mapper/pool2 22"
md5sum /dev/mapper/r22
dmsetup remove r22
# A state for another source, a missing option, a target with another block size.
thinsync replicate --pool pool --id 0 --dev vol --snap-ids 51 --to-pool pool2 --to-ids 21 --state /tmp/rs --keep 2
thinsync replicate --pool pool --id 0 --dev vol --to-pool pool2 --state /tmp/rs
dmsetup create pool3 --table "0 16384 thin-pool $DISK_meta3 $DISK_data3 256 0"
thinsync replicate --pool pool --id 0 --dev vol --snap-ids 11 --to-pool pool3 --to-ids 21 --state /tmp/rs3 --keep 2
dmsetup status pool pool2
dmsetup ls
