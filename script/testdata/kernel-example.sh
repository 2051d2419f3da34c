# kernel-example: the Linux 6.1 recording of /work/shared/spec/kernel-example.sh, kept as a fixture;
# its disks are the # disk: lines below (the recording called them /dev/oracle/meta and /dev/oracle/data).
# disk: meta 4M
# disk: data 64M
# == versions
dmsetup version
dmsetup targets
# == devices: meta = 4 MiB virtio disk, data = 64 MiB virtio disk
META=$DISK_meta
DATA=$DISK_data
blockdev --getsz $META
blockdev --getsz $DATA
# == pool creation: 64 KiB (128 sector) blocks, low water mark 16 blocks
dmsetup create pool --table "0 131072 thin-pool $META $DATA 128 16"
dmsetup status pool
dmsetup table pool
dmsetup info pool
dmsetup info -c pool
dmsetup ls
# == thin device 0
dmsetup message pool 0 "create_thin 0"
dmsetup create thin0 --table "0 2097152 thin /dev/mapper/pool 0"
dmsetup status thin0
dmsetup table thin0
dmsetup status pool
# == writes: 4 x 64 KiB at offset 0, 1 x 64 KiB at 10 MiB, 1 x 4 KiB at 20 MiB
yes A | head -c 262144 | dd of=/dev/mapper/thin0 bs=64K iflag=fullblock oflag=direct status=noxfer
yes B | head -c 65536 | dd of=/dev/mapper/thin0 bs=64K seek=160 iflag=fullblock oflag=direct status=noxfer
yes C | head -c 4096 | dd of=/dev/mapper/thin0 bs=4K seek=5120 iflag=fullblock oflag=direct status=noxfer
dmsetup status thin0
dmsetup status pool
dd if=/dev/mapper/thin0 bs=64K count=1 skip=320 iflag=direct status=none | md5sum
dd if=/dev/mapper/thin0 bs=4K count=2 skip=5120 iflag=direct status=none | od -A d -c | head -4
# == snapshot 1 of thin 0 (origin suspended while the snapshot is taken)
dmsetup suspend thin0
dmsetup info thin0
dmsetup status thin0
dmsetup message pool 0 "create_snap 1 0"
dmsetup resume thin0
dmsetup create snap1 --table "0 2097152 thin /dev/mapper/pool 1"
dmsetup status snap1
dmsetup status pool
yes D | head -c 65536 | dd of=/dev/mapper/snap1 bs=64K iflag=fullblock oflag=direct status=noxfer
yes E | head -c 65536 | dd of=/dev/mapper/snap1 bs=64K seek=1000 iflag=fullblock oflag=direct status=noxfer
dmsetup status snap1
dmsetup status thin0
dmsetup status pool
dd if=/dev/mapper/thin0 bs=64K count=1 iflag=direct status=none | head -c 8; echo
dd if=/dev/mapper/snap1 bs=64K count=1 iflag=direct status=none | head -c 8; echo
# == transaction id and metadata snapshot
dmsetup message pool 0 "set_transaction_id 0 1"
dmsetup status pool
dmsetup message pool 0 "set_transaction_id 0 2"
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup status pool
dmsetup message pool 0 "reserve_metadata_snap"
thin_dump -m $META
thin_ls -m $META
dmsetup message pool 0 "release_metadata_snap"
dmsetup message pool 0 "release_metadata_snap"
dmsetup status pool
thin_dump -m $META
# == linear target on top of thin0
dmsetup create lin --table "0 2048 linear /dev/mapper/thin0 40960"
dmsetup status lin
dmsetup table lin
dd if=/dev/mapper/lin bs=4K count=1 iflag=direct status=none | head -c 4; echo
printf '0 1024 linear %s 0\n1024 1024 linear %s 2048\n' $META $DATA | dmsetup create lin2
dmsetup table lin2
dmsetup status
dmsetup table
dmsetup remove lin lin2
# == bad tables
dmsetup create bad --table "0 2048 linear /dev/mapper/thin0"
dmsetup create bad --table "0 2048 linear /dev/mapper/thin0 abc"
dmsetup create bad --table "0 16384 linear $META 0"
dmsetup create bad --table "0 2048 linear /dev/nonexistent 0"
printf '0 1024 linear %s 0\n2048 1024 linear %s 0\n' $DATA $DATA | dmsetup create bad
dmsetup create bad --table "0 131072 thin-pool $META $DATA 128"
dmsetup create bad --table "0 131072 thin-pool $META $DATA 100 16"
dmsetup create bad --table "0 131072 thin-pool $META $DATA 64 16"
dmsetup create bad --table "0 131072 thin-pool $META $DATA 128 16 1 frobnicate"
dmsetup create bad --table "0 131072 thin-pool $META $DATA 128 16 2 skip_block_zeroing"
dmsetup create bad --table "0 131072 thin-pool $META $DATA 128 xyz"
dmsetup create bad --table "0 131072 thin-pool $META $DATA 128 16"
dmsetup create bad --table "0 2097152 thin /dev/mapper/pool 7"
dmsetup create bad --table "0 2097152 thin /dev/mapper/pool"
dmsetup create bad --table "0 2097152 thin /dev/mapper/pool abc"
dmsetup create bad --table "0 2097152 thin /dev/mapper/thin0 0"
dmsetup create bad --table "0 2097152 frobnicate /dev/mapper/pool 0"
dmsetup ls
# == bad messages
dmsetup message pool 0 "frobnicate 1"
dmsetup message pool 0 "create_thin 0"
dmsetup message pool 0 "create_thin"
dmsetup message pool 0 "create_thin abc"
dmsetup message pool 0 "create_snap 2 42"
dmsetup message pool 0 "create_snap 1 0"
dmsetup message pool 0 "delete 42"
dmsetup message pool 0 "delete 1"
dmsetup message pool 0 "set_transaction_id 1"
dmsetup message thin0 0 "create_thin 5"
dmsetup message pool 1 "create_thin 5"
# == feature arguments on a second pool (brd ramdisks, 64 MiB each), 32 MiB long
modprobe brd rd_nr=2 rd_size=65536
dmsetup create pool2 --table "0 65536 thin-pool /dev/ram0 /dev/ram1 128 16 1 skip_block_zeroing"
dmsetup status pool2
dmsetup table pool2
dmsetup reload pool2 --table "0 65536 thin-pool /dev/ram0 /dev/ram1 128 16 2 skip_block_zeroing error_if_no_space"
dmsetup resume pool2
dmsetup status pool2
dmsetup table pool2
dmsetup message pool2 0 "create_thin 0"
dmsetup create t2 --table "0 262144 thin /dev/mapper/pool2 0"
timeout 120 dd if=/dev/zero of=/dev/mapper/t2 bs=1M count=31 oflag=direct status=noxfer
dmsetup status pool2
timeout 120 dd if=/dev/zero of=/dev/mapper/t2 bs=1M count=8 seek=31 oflag=direct status=noxfer
dmsetup status pool2
dmsetup status t2
# == grow pool2 to the whole 64 MiB data device
dmsetup reload pool2 --table "0 131072 thin-pool /dev/ram0 /dev/ram1 128 16 2 skip_block_zeroing error_if_no_space"
dmsetup resume pool2
dmsetup status pool2
dmsetup remove t2
dmsetup remove pool2
# == reopen existing metadata with another block size / other features
dmsetup create pool2 --table "0 131072 thin-pool /dev/ram0 /dev/ram1 256 16"
dmsetup create pool2 --table "0 131072 thin-pool /dev/ram0 /dev/ram1 128 16 3 ignore_discard no_discard_passdown read_only"
dmsetup status pool2
dmsetup table pool2
dmsetup message pool2 0 "create_thin 9"
dmsetup remove pool2
# == teardown
dmsetup remove snap1
dmsetup message pool 0 "delete 1"
dmsetup status pool
dmsetup remove thin0
dmsetup remove_all
dmsetup ls
