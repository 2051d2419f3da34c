# thinsync merge-origin in rounds with discards between them. A discard unmaps: the thin reads the
# origin there again, which after round 1 holds the merged data, so discarding a merged block does not
# change what the thin reads, and round 2 leaves it as it is. A block written and discarded between the
# rounds reads the origin's own data again: nothing to copy either. Each round copies exactly what
# differs; the thin's md5 never changes in a round, and the origin ends as the thin reads.
# disk: meta 4M
# disk: data 64M
# disk: origin 2M
# disk: undo 4M
seq 1 400000 | head -c 2097152 | dd of=$DISK_origin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 4096 thin /dev/mapper/pool 0 $DISK_origin"
yes one | head -c 131072 | dd of=/dev/mapper/thin bs=64K seek=3 iflag=fullblock oflag=direct status=noxfer
yes ten | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=10 iflag=fullblock oflag=direct status=noxfer
md5sum /dev/mapper/thin
thinsync merge-origin --pool pool --id 0 --snap-id 1 --dev thin --undo $DISK_undo
md5sum $DISK_origin /dev/mapper/thin
dmsetup status pool thin
# Between the rounds: block 3 (merged) discarded, block 20 written then discarded, block 12 written, and
# a partial discard of block 10 (it does nothing).
blkdiscard -o 196608 -l 65536 /dev/mapper/thin
md5sum /dev/mapper/thin
yes twenty | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=20 iflag=fullblock oflag=direct status=noxfer
blkdiscard -o 1310720 -l 65536 /dev/mapper/thin
yes twelve | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=12 iflag=fullblock oflag=direct status=noxfer
blkdiscard -o 655360 -l 4096 /dev/mapper/thin
dmsetup status pool thin
md5sum /dev/mapper/thin
thinsync merge-origin --pool pool --id 0 --snap-id 1 --dev thin --undo $DISK_undo
md5sum $DISK_origin /dev/mapper/thin
dmsetup status pool thin
dmsetup remove_all
