# thinsync: incremental backup of a thin volume into an archive directory over 4 cycles (snapshot,
# send from the previous snapshot, delete it: the new one is the next base), a restore of cycle 2,
# a prune that keeps 2 (the oldest kept becomes a consolidated full stream) and a consolidation of
# the chain into one synthetic full stream, from the archive alone. Each result reads the md5 the
# volume had when it was backed up.
# disk: meta 4M
# disk: data 64M
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create vol --table "0 8192 thin /dev/mapper/pool 0"
yes one | head -c 1048576 | dd of=/dev/mapper/vol bs=64K oflag=direct status=none
thinsync backup --pool pool --id 0 --dev vol --snap-id 101 --archive /tmp --volume vol
md5sum /dev/mapper/vol
yes two | head -c 131072 | dd of=/dev/mapper/vol bs=64K seek=4 oflag=direct status=none
thinsync backup --pool pool --id 0 --dev vol --snap-id 102 --archive /tmp --volume vol
md5sum /dev/mapper/vol
blkdiscard -o 0 -l 262144 /dev/mapper/vol
thinsync backup --pool pool --id 0 --dev vol --snap-id 103 --archive /tmp --volume vol
md5sum /dev/mapper/vol
seq 1 100000 | head -c 65536 | dd of=/dev/mapper/vol bs=64K seek=60 oflag=direct status=none
thinsync backup --pool pool --id 0 --dev vol --snap-id 104 --archive /tmp --volume vol
md5sum /dev/mapper/vol
cat /tmp/vol.chain
md5sum /tmp/vol.0001.full /tmp/vol.0002.incremental /tmp/vol.0003.incremental /tmp/vol.0004.incremental
# Only the newest snapshot is left on the pool: the base of the next backup.
dmsetup message pool 0 "reserve_metadata_snap"
thin_ls -m $DISK_meta
dmsetup message pool 0 "release_metadata_snap"
thinsync restore --archive /tmp --volume vol --seq 2 --pool pool --id 200
dmsetup create r200 --readonly --table "0 8192 thin /dev/mapper/pool 200"
md5sum /dev/mapper/r200
thinsync prune --archive /tmp --volume vol --keep 2
cat /tmp/vol.chain
md5sum /tmp/vol.0003.full /tmp/vol.0004.incremental
thinsync consolidate --archive /tmp --volume vol -o /tmp/synth
md5sum /tmp/synth
thinsync inspect /tmp/synth
thinsync recv --pool pool --id 201 -i /tmp/synth
dmsetup create r201 --readonly --table "0 8192 thin /dev/mapper/pool 201"
md5sum /dev/mapper/r201
thinsync restore --archive /tmp --volume vol --seq 3 --pool pool --id 202
dmsetup create r202 --readonly --table "0 8192 thin /dev/mapper/pool 202"
md5sum /dev/mapper/r202
# Cycle 2 is gone after the prune; a damaged archive stream is refused.
thinsync restore --archive /tmp --volume vol --seq 2 --pool pool --id 203
printf 'X' | dd of=/tmp/vol.0004.incremental bs=1 seek=400 conv=notrunc status=none
thinsync consolidate --archive /tmp --volume vol -o /tmp/synth2
dmsetup status pool
