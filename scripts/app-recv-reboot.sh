# thinsync: recv flushes before it reports success (a REQ_PREFLUSH commits the pool), so a power cut
# right after it loses nothing: after # reboot the received thin reads the source's md5.
# disk: meta 4M
# disk: data 64M
# disk: meta2 4M
# disk: data2 64M
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup create pool2 --table "0 131072 thin-pool $DISK_meta2 $DISK_data2 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"
seq 1 300000 | head -c 2097152 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup suspend thin
dmsetup message pool 0 "create_snap 1 0"
dmsetup resume thin
yes z | head -c 262144 | dd of=/dev/mapper/thin bs=64K seek=8 iflag=fullblock oflag=direct status=noxfer
dmsetup suspend thin
dmsetup message pool 0 "create_snap 2 0"
dmsetup resume thin
md5sum /dev/mapper/thin
thinsync send --pool pool --id 1 --size 8192 | thinsync recv --pool pool2 --id 1
thinsync send --pool pool --id 2 --base 1 --size 8192 | thinsync recv --pool pool2 --id 2 --base 1
dmsetup status pool2
# reboot
dmsetup create pool2 --table "0 131072 thin-pool $DISK_meta2 $DISK_data2 128 0"
dmsetup status pool2
dmsetup create r2 --readonly --table "0 8192 thin /dev/mapper/pool2 2"
md5sum /dev/mapper/r2
thinsync verify --dev /dev/mapper/r2 --size 8192 --granule 65536
dmsetup remove r2
