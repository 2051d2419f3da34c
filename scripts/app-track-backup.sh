# thinsync track drives incremental backups without keeping old snapshots: each track run snapshots
# the live volume, adds the delta from the previous snapshot to a changed-block map (on the state
# file) and deletes the previous snapshot, so the blocks the volume overwrote go back to the pool
# (pool used blocks: field 6). send --track then sends the newest snapshot as an incremental from
# the last one sent (gone from the pool) by reading only the granules of the map, with the base's
# root from its manifest, and empties the map. Each received thin reads its source's md5.
# disk: meta 4M
# disk: data 64M
# disk: meta2 4M
# disk: data2 64M
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup create pool2 --table "0 131072 thin-pool $DISK_meta2 $DISK_data2 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create vol --table "0 8192 thin /dev/mapper/pool 0"
yes one | head -c 2097152 | dd of=/dev/mapper/vol bs=64K oflag=direct status=none
mkdir /tmp/m
# Tracking starts at snapshot 1, which is sent whole.
thinsync track --pool pool --id 0 --dev vol --snap-id 1 --state /tmp/track
thinsync send --pool pool --id 1 --size 8192 --manifests /tmp/m -o /tmp/s1
md5sum /tmp/s1
thinsync recv --pool pool2 --id 1 --manifests /tmp/m -i /tmp/s1
dmsetup status pool
# Cycle 1: two rounds of overwrites, each followed by track.
yes two | head -c 1048576 | dd of=/dev/mapper/vol bs=64K oflag=direct status=none
dmsetup status pool
thinsync track --pool pool --id 0 --dev vol --snap-id 2 --state /tmp/track
dmsetup status pool
yes three | head -c 1048576 | dd of=/dev/mapper/vol bs=64K seek=8 oflag=direct status=none
dmsetup status pool
thinsync track --pool pool --id 0 --dev vol --snap-id 3 --state /tmp/track
dmsetup status pool
dmsetup message pool 0 "reserve_metadata_snap"
thin_ls -m $DISK_meta
dmsetup message pool 0 "release_metadata_snap"
# The map is for snapshot 3, not 2.
thinsync send --pool pool --id 2 --track /tmp/track --manifests /tmp/m -o /tmp/s2
thinsync send --pool pool --id 3 --track /tmp/track --manifests /tmp/m -o /tmp/s2
md5sum /tmp/s2
thinsync recv --pool pool2 --id 2 --base 1 --manifests /tmp/m -i /tmp/s2
dmsetup create src --readonly --table "0 8192 thin /dev/mapper/pool 3"
dmsetup create dst --readonly --table "0 8192 thin /dev/mapper/pool2 2"
md5sum /dev/mapper/src /dev/mapper/dst
dmsetup remove src
dmsetup remove dst
# Cycle 2: a discard, a write, and a track run with the map emptied by the send.
blkdiscard -o 0 -l 262144 /dev/mapper/vol
thinsync track --pool pool --id 0 --dev vol --snap-id 4 --state /tmp/track
seq 1 100000 | head -c 65536 | dd of=/dev/mapper/vol bs=64K seek=60 oflag=direct status=none
thinsync track --pool pool --id 0 --dev vol --snap-id 5 --state /tmp/track
dmsetup status pool
thinsync send --pool pool --id 5 --track /tmp/track --manifests /tmp/m -o /tmp/s3
md5sum /tmp/s3
thinsync recv --pool pool2 --id 3 --base 2 --manifests /tmp/m -i /tmp/s3
dmsetup create src --readonly --table "0 8192 thin /dev/mapper/pool 5"
dmsetup create dst --readonly --table "0 8192 thin /dev/mapper/pool2 3"
md5sum /dev/mapper/vol /dev/mapper/src /dev/mapper/dst
dmsetup remove src
dmsetup remove dst
dmsetup status pool
dmsetup status pool2
