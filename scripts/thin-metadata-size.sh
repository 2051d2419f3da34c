# Metadata device sizes: too small, small, and bigger than the kernel can use.
# disk: meta 4M
# disk: data 16M
# disk: metabig 17G
# Linear slices of the meta disk make small metadata devices: 16 KiB, 64 KiB, 1 MiB.
dmsetup create m16k --table "0 32 linear $DISK_meta 0"
dmsetup create m64k --table "0 128 linear $DISK_meta 2048"
dmsetup create m1m --table "0 2048 linear $DISK_meta 4096"
dmsetup create pool --table "0 32768 thin-pool /dev/mapper/m16k $DISK_data 128 0"
dmsetup create pool --table "0 32768 thin-pool /dev/mapper/m64k $DISK_data 128 0"
dmsetup status pool
dmsetup remove pool
dmsetup create pool --table "0 32768 thin-pool /dev/mapper/m1m $DISK_data 128 0"
dmsetup status pool
dmsetup remove pool
# 17 GiB of metadata (a sparse disk): only the first 16 GiB minus a bit are used.
blockdev --getsz $DISK_metabig
dmsetup create pool --table "0 32768 thin-pool $DISK_metabig $DISK_data 128 0"
dmsetup status pool
dmsetup message pool 0 "create_thin 0"
dmsetup status pool
dmsetup remove pool
dmsetup remove m16k m64k m1m
