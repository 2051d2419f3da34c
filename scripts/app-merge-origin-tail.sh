# thinsync merge-origin with a fractional tail block: the origin is 2 MiB + 8 KiB (a linear table), the
# thin 4 MiB. A write into the block that straddles the origin's end (the kernel copies the origin's
# 8 KiB and zeroes the rest) merges the 8 KiB inside the origin. Data past the origin's end (in that
# block, and in a block wholly past it) is refused, then dropped with --truncate.
# disk: meta 4M
# disk: data 64M
# disk: origin 4M
# disk: undo 4M
yes origin | head -c 4194304 | dd of=$DISK_origin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup create origin --table "0 4112 linear $DISK_origin 0"
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0 /dev/mapper/origin"
yes one | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=2 iflag=fullblock oflag=direct status=noxfer
yes edge | head -c 2048 | dd of=/dev/mapper/thin bs=512 seek=4100 iflag=fullblock oflag=direct status=noxfer
md5sum /dev/mapper/origin /dev/mapper/thin
head -c 2105344 /dev/mapper/thin | md5sum
thinsync merge-origin --pool pool --id 0 --snap-id 1 --dev thin --origin /dev/mapper/origin --undo $DISK_undo
md5sum /dev/mapper/origin /dev/mapper/thin
head -c 2105344 /dev/mapper/thin | md5sum
# Data past the end: in the straddling block and in block 40.
yes past | head -c 1024 | dd of=/dev/mapper/thin bs=512 seek=4200 iflag=fullblock oflag=direct status=noxfer
yes far | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=40 iflag=fullblock oflag=direct status=noxfer
yes two | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=5 iflag=fullblock oflag=direct status=noxfer
thinsync merge-origin --pool pool --id 0 --snap-id 1 --dev thin --origin /dev/mapper/origin --undo $DISK_undo
md5sum /dev/mapper/origin
thinsync merge-origin --pool pool --id 0 --snap-id 1 --dev thin --origin /dev/mapper/origin --undo $DISK_undo --truncate
md5sum /dev/mapper/origin /dev/mapper/thin
head -c 2105344 /dev/mapper/thin | md5sum
dmsetup status pool thin
md5sum $DISK_origin
dmsetup remove_all
