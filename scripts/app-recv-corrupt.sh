# thinsync: a stream with one flipped byte, a truncated one, one without END and something that is
# not a stream at all are refused before anything is published: the new thin is deleted again and
# the pool is back where it was.
# disk: meta 4M
# disk: data 64M
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 4096 thin /dev/mapper/pool 0"
yes a | head -c 262144 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
seq 1 100000 | head -c 131072 | dd of=/dev/mapper/thin bs=64K seek=8 iflag=fullblock oflag=direct status=noxfer
dmsetup suspend thin
dmsetup message pool 0 "create_snap 1 0"
dmsetup resume thin
thinsync send --pool pool --id 1 --size 4096 --compress none -o /tmp/s
md5sum /tmp/s
dmsetup status pool
# One byte of a DATA payload.
cat /tmp/s > /tmp/flip
printf 'X' | dd of=/tmp/flip bs=1 seek=40000 conv=notrunc status=none
thinsync inspect /tmp/flip
thinsync recv --pool pool --id 5 -i /tmp/flip
# One byte of a record header.
cat /tmp/s > /tmp/flip2
printf 'X' | dd of=/tmp/flip2 bs=1 seek=200 conv=notrunc status=none
thinsync recv --pool pool --id 5 -i /tmp/flip2
# Cut short in the middle of a record, and just before END.
head -c 300000 /tmp/s > /tmp/short
thinsync recv --pool pool --id 5 -i /tmp/short
size=$(wc -c < /tmp/s)
head -c $((size - 144)) /tmp/s > /tmp/noend
thinsync recv --pool pool --id 5 -i /tmp/noend
# Not a stream at all.
thinsync recv --pool pool --id 5 -i /dev/mapper/thin
dmsetup status pool
# Nothing was left behind: thin 5 does not exist, so it can still be received whole.
thinsync recv --pool pool --id 5 -i /tmp/s
dmsetup create r5 --readonly --table "0 4096 thin /dev/mapper/pool 5"
md5sum /dev/mapper/r5 /dev/mapper/thin
dmsetup ls
dmsetup status pool
