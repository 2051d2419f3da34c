# Big disks: a pool with 16 GiB of metadata over a 64 TiB data disk (both sparse files), a 64 TiB
# thin device written near 0, 1 TiB, 63 TiB and its very end, and what the status lines and the
# thin tools say; then the pool reopens after a power cut.
# disk: meta 16G
# disk: data 64T
# disk: spare 1M
blockdev --getsz $DISK_meta
blockdev --getsize64 $DISK_data
# Kernel: only the first THIN_METADATA_MAX_SECTORS (33292800) sectors of the metadata device are
# used (4161600 blocks in the status line), but there is no warning: that comes only for devices
# larger than THIN_METADATA_MAX_SECTORS_WARNING, which is exactly 16 GiB (see the end).
dmsetup create pool --table "0 137438953472 thin-pool $DISK_meta $DISK_data 2048 0"
dmsetup status pool
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 137438953472 thin /dev/mapper/pool 0"
blockdev --getsize64 /dev/mapper/thin
yes a | head -c 1048576 | dd of=/dev/mapper/thin bs=1M iflag=fullblock oflag=direct conv=fsync status=noxfer
yes b | head -c 1048576 | dd of=/dev/mapper/thin bs=1M seek=1048576 iflag=fullblock oflag=direct conv=fsync status=noxfer
yes c | head -c 1048576 | dd of=/dev/mapper/thin bs=1M seek=66060288 iflag=fullblock oflag=direct conv=fsync status=noxfer
# Each write commits (conv=fsync flushes the thin device), so the metadata snapshot below lands
# where it does whatever the pace of the kernel's periodic commit.
# A partial block at the very end of the thin: the rest of its 1 MiB block is zeroed.
yes d | head -c 4096 | dd of=/dev/mapper/thin bs=4096 seek=17179869183 iflag=fullblock oflag=direct conv=fsync status=noxfer
dmsetup status pool
dmsetup status thin
dd if=/dev/mapper/thin bs=1M skip=1048576 count=1 iflag=direct status=none | md5sum
dd if=/dev/mapper/thin bs=1M skip=67108863 count=1 iflag=direct status=none | md5sum
dd if=/dev/mapper/thin bs=1M skip=33554432 count=1 iflag=direct status=none | md5sum
# The data blocks were allocated at the start of the data disk.
dd if=$DISK_data bs=1M count=4 iflag=direct status=none | md5sum
dd if=$DISK_data bs=1M skip=67108863 count=1 iflag=direct status=none | md5sum
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup status pool
thin_dump -m $DISK_meta
thin_ls -m $DISK_meta
dmsetup message pool 0 "release_metadata_snap"
dmsetup remove thin
dmsetup remove pool
thin_check $DISK_meta
thin_dump $DISK_meta
thin_ls $DISK_meta
thin_rmap --region 0..8 $DISK_meta
# reboot
dmsetup create pool --table "0 137438953472 thin-pool $DISK_meta $DISK_data 2048 0"
dmsetup status pool
dmsetup create thin --table "0 137438953472 thin /dev/mapper/pool 0"
dmsetup status thin
dd if=/dev/mapper/thin bs=1M skip=66060288 count=1 iflag=direct status=none | md5sum
dmsetup remove thin
dmsetup remove pool
# 16 GiB and 4 KiB of metadata (the meta disk and a bit of the spare one): now the kernel warns.
printf '0 33554432 linear %s 0\n33554432 8 linear %s 0\n' $DISK_meta $DISK_spare | dmsetup create meta
dmsetup create pool --table "0 137438953472 thin-pool /dev/mapper/meta $DISK_data 2048 0"
dmsetup status pool
dmsetup remove pool
dmsetup remove meta
