# thinsync: incremental sends (thin_delta -m between two snapshots): an overwrite, a discard, then a
# shrink and a grow of the volume. Stale mappings beyond a shrunk end reappear when the table grows
# (the pool stores no size), so the grown region is sent whole. Every result is checked by md5.
# disk: meta 4M
# disk: data 64M
# disk: meta2 4M
# disk: data2 64M
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup create pool2 --table "0 131072 thin-pool $DISK_meta2 $DISK_data2 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"
yes a | head -c 4194304 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup suspend thin
dmsetup message pool 0 "create_snap 1 0"
dmsetup resume thin
thinsync send --pool pool --id 1 --size 8192 -o /tmp/s1
md5sum /tmp/s1
thinsync recv --pool pool2 --id 1 -i /tmp/s1
# An overwrite of one block and a part of another, and a discard of two blocks.
yes b | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=3 iflag=fullblock oflag=direct status=noxfer
yes c | head -c 4096 | dd of=/dev/mapper/thin bs=4K seek=100 iflag=fullblock oflag=direct status=noxfer
blkdiscard -o 1048576 -l 131072 /dev/mapper/thin
dmsetup suspend thin
dmsetup message pool 0 "create_snap 2 0"
dmsetup resume thin
thin_delta_out=$(dmsetup message pool 0 reserve_metadata_snap && thin_delta -m --snap1 1 --snap2 2 $DISK_meta; dmsetup message pool 0 release_metadata_snap)
echo "$thin_delta_out"
thinsync send --pool pool --id 2 --base 1 --size 8192 -o /tmp/s2
md5sum /tmp/s2
thinsync inspect -v /tmp/s2
thinsync recv --pool pool2 --id 2 --base 1 -i /tmp/s2
dmsetup create r2 --readonly --table "0 8192 thin /dev/mapper/pool2 2"
md5sum /dev/mapper/thin /dev/mapper/r2
dmsetup remove r2
# Shrink to 2 MiB, snapshot, send; then grow back to 4 MiB: the old blocks beyond 2 MiB are seen again.
dmsetup load thin --table "0 4096 thin /dev/mapper/pool 0"
dmsetup resume thin
dmsetup suspend thin
dmsetup message pool 0 "create_snap 3 0"
dmsetup resume thin
thinsync send --pool pool --id 3 --base 2 --base-size 8192 --dev thin -o /tmp/s3
md5sum /tmp/s3
thinsync inspect -v /tmp/s3
thinsync recv --pool pool2 --id 3 --base 2 -i /tmp/s3
dmsetup create r3 --readonly --table "0 4096 thin /dev/mapper/pool2 3"
md5sum /dev/mapper/thin /dev/mapper/r3
dmsetup remove r3
dmsetup load thin --table "0 8192 thin /dev/mapper/pool 0"
dmsetup resume thin
yes d | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=60 iflag=fullblock oflag=direct status=noxfer
dmsetup suspend thin
dmsetup message pool 0 "create_snap 4 0"
dmsetup resume thin
thinsync send --pool pool --id 4 --base 3 --base-size 4096 --dev thin -o /tmp/s4
md5sum /tmp/s4
thinsync inspect -v /tmp/s4
thinsync recv --pool pool2 --id 4 --base 3 -i /tmp/s4
dmsetup create r4 --readonly --table "0 8192 thin /dev/mapper/pool2 4"
md5sum /dev/mapper/thin /dev/mapper/r4
dmsetup status pool pool2
dmsetup remove_all
