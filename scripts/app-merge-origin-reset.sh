# thinsync merge-origin --reset: after a live merge the thin is deactivated; --reset merges again
# (nothing left to copy), deletes the thin and creates it empty over the origin. The thin, activated
# again, reads the same md5, and the pool's used data blocks drop by the thin's mapped count. --reset
# refuses while the thin is active.
# disk: meta 4M
# disk: data 64M
# disk: origin 2M
# disk: undo 4M
seq 1 400000 | head -c 2097152 | dd of=$DISK_origin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 4096 thin /dev/mapper/pool 0 $DISK_origin"
yes new | head -c 327680 | dd of=/dev/mapper/thin bs=64K seek=7 iflag=fullblock oflag=direct status=noxfer
yes tail | head -c 1024 | dd of=/dev/mapper/thin bs=512 seek=4094 iflag=fullblock oflag=direct status=noxfer
md5sum $DISK_origin /dev/mapper/thin
thinsync merge-origin --pool pool --id 0 --snap-id 1 --dev thin --undo $DISK_undo
md5sum $DISK_origin /dev/mapper/thin
thinsync merge-origin --pool pool --id 0 --snap-id 1 --dev thin --undo $DISK_undo --reset
dmsetup status pool thin
dmsetup remove thin
thinsync merge-origin --pool pool --id 0 --snap-id 1 --size 4096 --origin $DISK_origin --undo $DISK_undo --reset
dmsetup status pool
dmsetup create thin --table "0 4096 thin /dev/mapper/pool 0 $DISK_origin"
dmsetup status thin
md5sum $DISK_origin /dev/mapper/thin
# The session is over: nothing to roll back.
thinsync merge-origin --pool pool --id 0 --snap-id 1 --dev thin --undo $DISK_undo --abort
dmsetup remove_all
