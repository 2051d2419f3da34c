# thinsync: a receive cut short (the test hook --stop-after-records exits without any cleanup, as a
# kill would), then a power cut (# reboot). The stream lives on a disk and the resume state on
# another, since /tmp does not survive. --resume continues after the last CHECKPOINT the receiver
# flushed and ends at the source's md5; a second cut receive is thrown away with --abort.
# disk: meta 4M
# disk: data 64M
# disk: xfer 8M
# disk: state 1M
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"
seq 1 400000 | head -c 1048576 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
yes r | head -c 524288 | dd of=/dev/mapper/thin bs=64K seek=32 iflag=fullblock oflag=direct status=noxfer
dmsetup suspend thin
dmsetup message pool 0 "create_snap 1 0"
dmsetup resume thin
md5sum /dev/mapper/thin
thinsync send --pool pool --id 1 --size 8192 --checkpoint 262144 -o $DISK_xfer
thinsync inspect -v $DISK_xfer
# Nothing to resume yet.
thinsync recv --pool pool --id 5 --state $DISK_state --resume -i $DISK_xfer
thinsync recv --pool pool --id 5 --state $DISK_state -i $DISK_xfer --stop-after-records 10
dmsetup ls
dmsetup status pool
# reboot
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup status pool
# A resume of another thin id is refused.
thinsync recv --pool pool --id 6 --state $DISK_state --resume -i $DISK_xfer
thinsync recv --pool pool --id 5 --state $DISK_state --resume -i $DISK_xfer
dmsetup create r5 --readonly --table "0 8192 thin /dev/mapper/pool 5"
dmsetup create thin --readonly --table "0 8192 thin /dev/mapper/pool 1"
md5sum /dev/mapper/r5 /dev/mapper/thin
# Resuming a published receive is refused.
thinsync recv --pool pool --id 5 --state $DISK_state --resume -i $DISK_xfer
# Cut again, then abort: thin 6 is deleted.
thinsync recv --pool pool --id 6 --state $DISK_state -i $DISK_xfer --stop-after-records 3
dmsetup remove thinsync-pool-6-recv
thinsync recv --pool pool --id 6 --state $DISK_state --abort
thinsync recv --pool pool --id 6 --state $DISK_state --abort
dmsetup status pool
dmsetup remove_all
