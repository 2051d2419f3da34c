# thinsync: a full send of a thin snapshot into a new thin of another pool, and back through a pipe.
# The stream carries the volume size; holes become ZERO records; DATA records are zstd frames when
# that shrinks them. recv publishes only after END, a flush and a check of the image root.
# disk: meta 4M
# disk: data 64M
# disk: meta2 4M
# disk: data2 64M
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup create pool2 --table "0 131072 thin-pool $DISK_meta2 $DISK_data2 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 16384 thin /dev/mapper/pool 0"
yes a | head -c 196608 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
seq 1 20000 | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=10 iflag=fullblock oflag=direct status=noxfer
dd if=/dev/zero of=/dev/mapper/thin bs=64K seek=20 count=1 oflag=direct status=noxfer
printf 'tail' | dd of=/dev/mapper/thin bs=512 seek=16383 conv=notrunc status=noxfer
dmsetup suspend thin
dmsetup message pool 0 "create_snap 1 0"
dmsetup resume thin
md5sum /dev/mapper/thin
thinsync send --pool pool --id 1 --dev thin -o /tmp/full
md5sum /tmp/full
thinsync inspect -v /tmp/full
thinsync verify --stream /tmp/full
dmsetup status pool
thinsync recv --pool pool2 --id 7 -i /tmp/full
dmsetup create copy --readonly --table "0 16384 thin /dev/mapper/pool2 7"
md5sum /dev/mapper/copy
thinsync verify --dev /dev/mapper/copy --size 16384 --granule 65536
# The received thin stays sparse: the zero block and the holes map nothing.
dmsetup status pool2 copy
# The same through a pipe, uncompressed, into a third thin.
thinsync send --pool pool --id 1 --size 16384 --compress none | thinsync recv --pool pool2 --id 8
dmsetup create copy8 --readonly --table "0 16384 thin /dev/mapper/pool2 8"
md5sum /dev/mapper/copy8
# Receiving into an id that exists is refused.
thinsync recv --pool pool2 --id 8 -i /tmp/full
dmsetup ls
dmsetup status pool pool2
dmsetup remove_all
