# thinsync: what a stream costs. A `yes` volume's stream is a tiny fraction of the changed bytes
# (zstd per DATA record), text shrinks about 3 times, data that is already compressed (a stream)
# barely shrinks, and a record whose frame would not be smaller is stored raw.
# disk: meta 4M
# disk: data 64M
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 16384 thin /dev/mapper/pool 0"
yes | head -c 4194304 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup suspend thin
dmsetup message pool 0 "create_snap 1 0"
dmsetup resume thin
thinsync send --pool pool --id 1 --size 16384 -o /tmp/yes
thinsync send --pool pool --id 1 --size 16384 --compress zstd:better -o /tmp/yes-better
thinsync send --pool pool --id 1 --size 16384 --compress none -o /tmp/yes-raw
wc -c /tmp/yes /tmp/yes-better /tmp/yes-raw
md5sum /tmp/yes /tmp/yes-better /tmp/yes-raw
# Text, then a compressed stream written onto the volume.
seq 1 1000000 | head -c 2097152 | dd of=/dev/mapper/thin bs=64K seek=64 iflag=fullblock oflag=direct status=noxfer
dmsetup suspend thin
dmsetup message pool 0 "create_snap 2 0"
dmsetup resume thin
thinsync send --pool pool --id 2 --base 1 --size 16384 -o /tmp/text
wc -c /tmp/text
md5sum /tmp/text
dd if=/tmp/text of=/dev/mapper/thin bs=64K seek=100 oflag=direct status=noxfer
dmsetup suspend thin
dmsetup message pool 0 "create_snap 3 0"
dmsetup resume thin
thinsync send --pool pool --id 3 --base 2 --size 16384 -o /tmp/rand
wc -c /tmp/rand
md5sum /tmp/rand
thinsync inspect /tmp/rand
dmsetup status pool
