# thinsync migrate: a family (snapshots 1, 2, 3 of thin 0, oldest first, then thin 0) moves to
# another pool as a full stream and a chain of incrementals received into create_snap children, so
# the sharing is kept: at an equal block size the target uses exactly as many data blocks as the
# source. Then to a pool of 256-sector blocks (every 128 KiB granule holding a changed 64 KiB block
# is new) and back to 128-sector blocks (a changed 128 KiB block's unchanged half stays shared).
# disk: meta 4M
# disk: data 64M
# disk: meta2 4M
# disk: data2 64M
# disk: meta3 4M
# disk: data3 64M
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup create pool2 --table "0 131072 thin-pool $DISK_meta2 $DISK_data2 128 0"
dmsetup create pool3 --table "0 131072 thin-pool $DISK_meta3 $DISK_data3 256 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"
yes a | head -c 2097152 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=none
dmsetup suspend thin
dmsetup message pool 0 "create_snap 1 0"
dmsetup resume thin
yes b | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=3 iflag=fullblock oflag=direct status=none
yes c | head -c 4096 | dd of=/dev/mapper/thin bs=4K seek=200 iflag=fullblock oflag=direct status=none
dmsetup suspend thin
dmsetup message pool 0 "create_snap 2 0"
dmsetup resume thin
blkdiscard -o 1048576 -l 131072 /dev/mapper/thin
yes d | head -c 196608 | dd of=/dev/mapper/thin bs=64K seek=40 iflag=fullblock oflag=direct status=none
dmsetup suspend thin
dmsetup message pool 0 "create_snap 3 0"
dmsetup resume thin
yes e | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=5 iflag=fullblock oflag=direct status=none
dmsetup remove thin
dmsetup status pool pool2 pool3
# Equal block size: 128 -> 128.
thinsync migrate --from pool:1,2,3,0 --to pool2:1,2,3,0 --size 8192
dmsetup status pool pool2
for i in 1 2 3 0; do dmsetup create s$i --readonly --table "0 8192 thin /dev/mapper/pool $i"; dmsetup create r$i --readonly --table "0 8192 thin /dev/mapper/pool2 $i"; md5sum /dev/mapper/s$i /dev/mapper/r$i; dmsetup remove r$i; done
# Double block size: 128 -> 256.
thinsync migrate --from pool:1,2,3,0 --to pool3:1,2,3,0 --size 8192
dmsetup status pool3
for i in 1 2 3 0; do dmsetup create r$i --readonly --table "0 8192 thin /dev/mapper/pool3 $i"; md5sum /dev/mapper/s$i /dev/mapper/r$i; dmsetup remove r$i; done
# And back: 256 -> 128, into new ids of pool2.
thinsync migrate --from pool3:1,2,3,0 --to pool2:11,12,13,10 --size 8192
dmsetup status pool2
for i in 1 2 3 0; do dmsetup create r$i --readonly --table "0 8192 thin /dev/mapper/pool2 1$i"; md5sum /dev/mapper/s$i /dev/mapper/r$i; dmsetup remove r$i; done
dmsetup remove_all
