# A thin-pool whose metadata superblock fails its checksum: the table is refused with EILSEQ (the
# block manager names the validator), and thin_check and thin_dump say the superblock is corrupt.
# disk: meta 4M
# disk: data 64M
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup remove pool
# Byte 100 of the superblock is a high byte of the data space map's reference-count root: 0.
dd if=$DISK_meta bs=1 skip=100 count=1 status=none | od -A n -t u1
printf '\377' | dd of=$DISK_meta bs=1 seek=100 count=1 conv=notrunc status=none
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0 1 read_only"
dmsetup ls
thin_check $DISK_meta
thin_dump $DISK_meta
# The byte put back, the pool opens again with its thin.
printf '\000' | dd of=$DISK_meta bs=1 seek=100 count=1 conv=notrunc status=none
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup status pool
dmsetup remove pool
thin_check $DISK_meta
