# A metadata snapshot reserved by dmsim: the kernel's pool still holds it, the tools read it, and
# releasing it frees its blocks.
# disk: meta 4M
# disk: data 16M
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"
yes a | head -c 196608 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup suspend thin
dmsetup message pool 0 "create_snap 1 0"
dmsetup resume thin
dmsetup message pool 0 "reserve_metadata_snap"
yes b | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=5 iflag=fullblock oflag=direct status=noxfer
dmsetup message pool 0 "create_thin 2"
dmsetup status pool
# reboot
thin_dump -m $DISK_meta
thin_ls -m $DISK_meta
thin_delta -m --snap1 0 --snap2 1 $DISK_meta
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup status pool
thin_dump -m $DISK_meta
dmsetup message pool 0 "release_metadata_snap"
dmsetup status pool
dmsetup message pool 0 "release_metadata_snap"
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"
dd if=/dev/mapper/thin bs=64K count=6 iflag=direct status=none | md5sum
yes c | head -c 131072 | dd of=/dev/mapper/thin bs=64K seek=6 iflag=fullblock oflag=direct status=noxfer
dmsetup status pool
dmsetup status thin
dmsetup remove thin
dmsetup remove pool
thin_check $DISK_meta
thin_dump $DISK_meta
