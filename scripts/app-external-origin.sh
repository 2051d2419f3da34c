# thinsync: a thin with an external origin (a read-only disk of 2 MiB under a 4 MiB thin). Its unmapped
# ranges read the origin (zeros past its end), so send reads them through the device: a full stream is
# all DATA up to the origin's end, and a discard of a mapped block (left_only in thin_delta) is sent as
# the origin's data, not as ZERO. The received thins, on a pool with no origin, read the source's md5.
# disk: meta 4M
# disk: data 64M
# disk: meta2 4M
# disk: data2 64M
# disk: origin 2M
yes origin | head -c 2097152 | dd of=$DISK_origin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup create pool2 --table "0 131072 thin-pool $DISK_meta2 $DISK_data2 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0 $DISK_origin"
yes new | head -c 131072 | dd of=/dev/mapper/thin bs=64K seek=5 iflag=fullblock oflag=direct status=noxfer
yes far | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=50 iflag=fullblock oflag=direct status=noxfer
dmsetup suspend thin
dmsetup message pool 0 "create_snap 1 0"
dmsetup resume thin
thinsync send --pool pool --id 1 --dev thin -o /tmp/s1
md5sum /tmp/s1
thinsync inspect -v /tmp/s1
thinsync recv --pool pool2 --id 1 -i /tmp/s1
dmsetup create r1 --readonly --table "0 8192 thin /dev/mapper/pool2 1"
md5sum /dev/mapper/thin /dev/mapper/r1
dmsetup remove r1
# A discard of block 5 (mapped: the origin shows through again) and an overwrite of block 20.
blkdiscard -o 327680 -l 65536 /dev/mapper/thin
yes two | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=20 iflag=fullblock oflag=direct status=noxfer
dmsetup suspend thin
dmsetup message pool 0 "create_snap 2 0"
dmsetup resume thin
thinsync send --pool pool --id 2 --base 1 --dev thin -o /tmp/s2
md5sum /tmp/s2
thinsync inspect -v /tmp/s2
thinsync recv --pool pool2 --id 2 --base 1 -i /tmp/s2
dmsetup create r2 --readonly --table "0 8192 thin /dev/mapper/pool2 2"
md5sum /dev/mapper/thin /dev/mapper/r2
dmsetup remove r2
# Without the origin, send sees only the pool: the unmapped ranges become ZERO.
thinsync send --pool pool --id 2 --size 8192 -o /tmp/s3
thinsync inspect /tmp/s3
dmsetup status pool pool2
dmsetup remove_all
