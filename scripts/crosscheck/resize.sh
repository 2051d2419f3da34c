# A pool dmsim grew (data from 8 to 32 MiB, metadata from 2 to 6 MiB, both linear slices), then
# lost power with writes not yet committed. The kernel reopens it on the whole disks: it grows
# the metadata to 8 MiB, and only the committed writes are there.
# disk: meta 8M
# disk: data 32M
dmsetup create metalv --table "0 4096 linear $DISK_meta 0"
dmsetup create datalv --table "0 16384 linear $DISK_data 0"
dmsetup create pool --table "0 16384 thin-pool /dev/mapper/metalv /dev/mapper/datalv 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 65536 thin /dev/mapper/pool 0"
yes a | head -c 1048576 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup status pool
dmsetup suspend pool
dmsetup reload datalv --table "0 65536 linear $DISK_data 0"
dmsetup resume datalv
dmsetup reload metalv --table "0 12288 linear $DISK_meta 0"
dmsetup resume metalv
dmsetup reload pool --table "0 65536 thin-pool /dev/mapper/metalv /dev/mapper/datalv 128 0"
dmsetup resume pool
dmsetup status pool
yes b | head -c 20971520 | dd of=/dev/mapper/thin bs=1M seek=1 iflag=fullblock oflag=direct status=noxfer
dmsetup status pool
# Not committed: these blocks are lost at the power cut.
yes c | head -c 131072 | dd of=/dev/mapper/thin bs=64K seek=400 iflag=fullblock oflag=direct status=noxfer
# reboot
thin_check $DISK_meta
thin_ls $DISK_meta
dmsetup create pool --table "0 65536 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup status pool
dmsetup create thin --table "0 65536 thin /dev/mapper/pool 0"
dmsetup status thin
dd if=/dev/mapper/thin bs=1M count=21 iflag=direct status=none | md5sum
dd if=/dev/mapper/thin bs=64K count=2 skip=400 iflag=direct status=none | md5sum
yes d | head -c 131072 | dd of=/dev/mapper/thin bs=64K seek=400 iflag=fullblock oflag=direct status=noxfer
dmsetup status pool
dmsetup remove thin
dmsetup remove pool
thin_check $DISK_meta
thin_dump $DISK_meta
