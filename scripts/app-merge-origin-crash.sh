# thinsync merge-origin cut short: the test hook --stop-after-writes stops a merge after 2 of its 5 origin
# writes, with no cleanup (the freeze snapshot and its activation stay), and the machine powers off.
# After the reboot a rerun of the same command deletes the old snapshot, freezes the thin again, skips
# the 2 blocks already written and writes the other 3; another rerun writes nothing; --abort restores
# the origin from the journal (on the undo disk), and a last merge copies everything again.
# disk: meta 4M
# disk: data 64M
# disk: origin 2M
# disk: undo 4M
seq 1 400000 | head -c 2097152 | dd of=$DISK_origin bs=64K iflag=fullblock oflag=direct status=noxfer
md5sum $DISK_origin
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 4096 thin /dev/mapper/pool 0 $DISK_origin"
yes new | head -c 262144 | dd of=/dev/mapper/thin bs=64K seek=4 iflag=fullblock oflag=direct status=noxfer
yes end | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=30 iflag=fullblock oflag=direct conv=fsync status=noxfer
md5sum /dev/mapper/thin
thinsync merge-origin --pool pool --id 0 --snap-id 1 --dev thin --undo $DISK_undo --stop-after-writes 2
dmsetup status pool
# reboot
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup create thin --table "0 4096 thin /dev/mapper/pool 0 $DISK_origin"
dmsetup status pool thin
md5sum $DISK_origin /dev/mapper/thin
thinsync merge-origin --pool pool --id 0 --snap-id 1 --dev thin --undo $DISK_undo
md5sum $DISK_origin /dev/mapper/thin
thinsync merge-origin --pool pool --id 0 --snap-id 1 --dev thin --undo $DISK_undo
thinsync merge-origin --pool pool --id 0 --snap-id 1 --dev thin --undo $DISK_undo --abort
md5sum $DISK_origin /dev/mapper/thin
thinsync merge-origin --pool pool --id 0 --snap-id 1 --dev thin --undo $DISK_undo
md5sum $DISK_origin /dev/mapper/thin
dmsetup status pool thin
dmsetup remove_all
