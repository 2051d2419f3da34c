# thinsync migrate --live: thin 0 stays in use (a linear device "user" on top of it holds it open
# and writes through it) while pre-copy rounds of snapshot plus delta copy it to pool2; writes go
# on between the rounds (the test hook --between-rounds stands for the device's users). After 3
# rounds the final round runs under dmsetup suspend: the last snapshot and delta, a flush, a load of
# the same dm device with a thin table on pool2, and a resume. Same device, same minor, same opener:
# now served by pool2, which uses as many data blocks as the source did.
# disk: meta 4M
# disk: data 64M
# disk: meta2 4M
# disk: data2 64M
# disk: state 1M
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup create pool2 --table "0 131072 thin-pool $DISK_meta2 $DISK_data2 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 16384 thin /dev/mapper/pool 0"
yes a | head -c 4194304 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=none
yes 1 | head -c 262144 > w1
yes 2 | head -c 131072 > w2
yes 3 | head -c 65536 > w3
dmsetup create user --table "0 16384 linear /dev/mapper/thin 0"
dmsetup info -c -o name,major,minor,open,attr thin
dmsetup status pool pool2
thinsync migrate --live thin --from pool:0 --to pool2:0 --rounds 3 --final-below 64K --state $DISK_state --between-rounds "dd if=w{round} of=/dev/mapper/user bs=64K seek={round}0 oflag=direct status=none"
dmsetup info -c -o name,major,minor,open,attr thin
dmsetup table thin
dmsetup status pool pool2
dmsetup create s0 --readonly --table "0 16384 thin /dev/mapper/pool 0"
md5sum /dev/mapper/s0 /dev/mapper/thin /dev/mapper/user
dmsetup remove s0
# Writes through the same device now land in pool2; thin 0 of pool is left as it was.
yes 4 | head -c 65536 | dd of=/dev/mapper/user bs=64K seek=100 iflag=fullblock oflag=direct status=none
dmsetup status pool pool2
dd if=/dev/mapper/thin bs=64K skip=100 count=1 iflag=direct status=none | od -c | head -2
dmsetup remove user
dmsetup info -c -o name,major,minor,open thin
dmsetup message pool 0 "delete 0"
dmsetup status pool
dmsetup remove_all
