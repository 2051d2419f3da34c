# thinsync merge-origin refuses when anything else uses the origin: a second thin over the same origin
# (its unmapped blocks would change under it) and a plain linear table on it. Nothing is written; once
# they are gone, the merge runs.
# disk: meta 4M
# disk: data 64M
# disk: origin 2M
# disk: undo 4M
yes origin | head -c 2097152 | dd of=$DISK_origin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup message pool 0 "create_thin 5"
dmsetup create thin --table "0 4096 thin /dev/mapper/pool 0 $DISK_origin"
dmsetup create other --table "0 4096 thin /dev/mapper/pool 5 $DISK_origin"
yes new | head -c 131072 | dd of=/dev/mapper/thin bs=64K seek=2 iflag=fullblock oflag=direct status=noxfer
md5sum $DISK_origin /dev/mapper/thin /dev/mapper/other
thinsync merge-origin --pool pool --id 0 --snap-id 1 --dev thin --undo $DISK_undo
dmsetup remove other
dmsetup create hold --table "0 8 linear $DISK_origin 0"
thinsync merge-origin --pool pool --id 0 --snap-id 1 --dev thin --undo $DISK_undo
dmsetup remove hold
md5sum $DISK_origin
dmsetup status pool
thinsync merge-origin --pool pool --id 0 --snap-id 1 --dev thin --undo $DISK_undo
md5sum $DISK_origin /dev/mapper/thin
dmsetup status pool
dmsetup remove_all
