# Metadata and data grown together in one resume, on linear devices spanning two disks each: the pool
# reads both new sizes at once; then a pool whose table is longer than its data device.
# disk: meta 2M
# disk: meta_b 2M
# disk: data 8M
# disk: data_b 8M
dmsetup create m --table "0 2048 linear $DISK_meta 0"
dmsetup create d --table "0 8192 linear $DISK_data 0"
dmsetup create pool --table "0 8192 thin-pool /dev/mapper/m /dev/mapper/d 128 4"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 32768 thin /dev/mapper/pool 0"
yes x | head -c 3932160 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup status pool
dmsetup info -c -o name,events pool
printf '0 4096 linear %s 0\n4096 4096 linear %s 0\n' $DISK_meta $DISK_meta_b | dmsetup reload m
printf '0 16384 linear %s 0\n16384 16384 linear %s 0\n' $DISK_data $DISK_data_b | dmsetup reload d
dmsetup resume m
dmsetup resume d
dmsetup table d
dmsetup reload pool --table "0 32768 thin-pool /dev/mapper/m /dev/mapper/d 128 4"
dmsetup suspend pool
dmsetup resume pool
dmsetup status pool
dmsetup info -c -o name,events pool
yes y | head -c 2097152 | dd of=/dev/mapper/thin bs=64K seek=60 iflag=fullblock oflag=direct status=noxfer
dmsetup status pool
dmsetup deps pool
# A table longer than the data device.
dmsetup reload pool --table "0 40960 thin-pool /dev/mapper/m /dev/mapper/d 128 4"
dmsetup remove thin pool m d
