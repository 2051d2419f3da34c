# thin_check, thin_dump, thin_ls, thin_rmap, thin_delta and thin_restore on metadata devices.
# disk: meta 4M
# disk: meta2 4M
# disk: data 16M
# Zeroed metadata is not metadata.
thin_check $DISK_meta
thin_dump $DISK_meta
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"
yes t | head -c 196608 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
yes t | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=7 iflag=fullblock oflag=direct status=noxfer
dmsetup suspend thin
dmsetup message pool 0 "create_snap 1 0"
dmsetup resume thin
yes u | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=1 iflag=fullblock oflag=direct status=noxfer
dmsetup message pool 0 "set_transaction_id 0 3"
dmsetup remove thin
dmsetup remove pool
# With the pool gone, every tool can read the metadata.
thin_check $DISK_meta
thin_dump $DISK_meta
thin_ls $DISK_meta
thin_rmap --region 0..8 $DISK_meta
thin_delta --snap1 0 --snap2 1 $DISK_meta
thin_delta --verbose --snap1 1 --snap2 0 $DISK_meta
# Write new metadata with thin_restore: one 3-block device over data blocks 10..12.
printf '<superblock uuid="" time="0" transaction="9" flags="0" version="2" data_block_size="128" nr_data_blocks="256">\n  <device dev_id="5" mapped_blocks="3" transaction="0" creation_time="0" snap_time="0">\n    <range_mapping origin_begin="0" data_begin="10" length="3" time="0"/>\n  </device>\n</superblock>\n' > /tmp/md.xml
thin_restore -i /tmp/md.xml -o $DISK_meta2
thin_check $DISK_meta2
# The version field of the superblock thin_restore wrote (byte 40).
dd if=$DISK_meta2 bs=4K count=1 iflag=direct status=none | od -A d -t u4 -j 40 -N 4
thin_dump $DISK_meta2
# The kernel takes the restored metadata: device 5 reads data blocks 10..12 of the data disk.
yes q | head -c 65536 | dd of=$DISK_data bs=64K seek=11 iflag=fullblock oflag=direct status=noxfer
dmsetup create pool --table "0 32768 thin-pool $DISK_meta2 $DISK_data 128 0"
dmsetup status pool
dmsetup create t5 --table "0 8192 thin /dev/mapper/pool 5"
dmsetup status t5
dd if=/dev/mapper/t5 bs=64K count=1 skip=1 iflag=direct status=none | head -c 2
# Tools refuse the metadata of an active pool.
thin_check $DISK_meta2
thin_ls $DISK_meta2
dmsetup remove t5
dmsetup remove pool
