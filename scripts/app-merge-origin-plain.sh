# thinsync merge-origin: a thin over an external origin (a 2 MiB disk, the thin as big) is written: whole
# blocks, a partial block (the kernel copies the origin's block first) and a block written twice. A
# merge freezes the thin (suspend, create_snap, resume), copies the snapshot's mapped blocks onto the
# origin, journals the old data on the undo disk, flushes and reads back. The thin reads the same
# before and after, the origin reads what the thin reads, and a rerun writes nothing.
# disk: meta 4M
# disk: data 64M
# disk: origin 2M
# disk: undo 4M
yes origin | head -c 2097152 | dd of=$DISK_origin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 4096 thin /dev/mapper/pool 0 $DISK_origin"
md5sum $DISK_origin /dev/mapper/thin
yes new | head -c 131072 | dd of=/dev/mapper/thin bs=64K seek=3 iflag=fullblock oflag=direct status=noxfer
yes part | head -c 4096 | dd of=/dev/mapper/thin bs=512 seek=1000 iflag=fullblock oflag=direct status=noxfer
yes last | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=31 iflag=fullblock oflag=direct status=noxfer
seq 1 20000 | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=31 iflag=fullblock oflag=direct status=noxfer
dmsetup status pool thin
md5sum /dev/mapper/thin
thinsync merge-origin --pool pool --id 0 --snap-id 1 --dev thin --undo $DISK_undo
md5sum $DISK_origin /dev/mapper/thin
dmsetup status pool thin
# A rerun finds every block merged: nothing is written.
thinsync merge-origin --pool pool --id 0 --snap-id 1 --dev thin --undo $DISK_undo
md5sum $DISK_origin /dev/mapper/thin
# The journal rolls the origin back (--abort), and a merge copies it again.
thinsync merge-origin --pool pool --id 0 --snap-id 1 --dev thin --undo $DISK_undo --abort
md5sum $DISK_origin /dev/mapper/thin
thinsync merge-origin --pool pool --id 0 --snap-id 1 --dev thin --undo $DISK_undo
md5sum $DISK_origin /dev/mapper/thin
dmsetup status pool
dmsetup remove_all
