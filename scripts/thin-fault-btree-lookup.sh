# A mapping leaf that fails its checksum, met on lookup: each I/O through it fails with EIO and the
# pool logs the lookup's failure, but lookups do not abort the transaction: the pool stays in write
# mode, and the other thin, whose leaf is sound, works on.
# disk: meta 4M
# disk: data 64M
# The pool's metadata comes from thin_restore, so no commit timing shapes it: thin 0 maps virtual
# blocks 0-1 to data blocks 0-1 ("a"), thin 1 maps block 0 to data block 2 ("b").
printf '<superblock uuid="" time="0" transaction="1" flags="0" version="2" data_block_size="128" nr_data_blocks="1024">\n <device dev_id="0" mapped_blocks="2" transaction="0" creation_time="0" snap_time="0">\n  <range_mapping origin_begin="0" data_begin="0" length="2" time="0"/>\n </device>\n <device dev_id="1" mapped_blocks="1" transaction="0" creation_time="0" snap_time="0">\n  <single_mapping origin_block="0" data_block="2" time="0"/>\n </device>\n</superblock>\n' > /tmp/md.xml
thin_restore -i /tmp/md.xml -o $DISK_meta
yes a | head -c 131072 | dd of=$DISK_data bs=64K iflag=fullblock oflag=direct status=none
yes b | head -c 65536 | dd of=$DISK_data bs=64K seek=2 iflag=fullblock oflag=direct status=none
# The superblock: data_mapping_root and device_details_root.
dd if=$DISK_meta bs=4096 count=1 iflag=direct status=none | od -A d -t u8 -j 320 -N 16
root=$(dd if=$DISK_meta bs=4096 count=1 iflag=direct status=none | od -A n -t u8 -j 320 -N 8 | tr -d " ")
# The mapping root's values (at byte 2048) are the roots of thin 0's and thin 1's trees.
dd if=$DISK_meta bs=4096 skip=$root count=1 iflag=direct status=none | od -A d -t u8 -j 2048 -N 16
leaf=$(dd if=$DISK_meta bs=4096 skip=$root count=1 iflag=direct status=none | od -A n -t u8 -j 2048 -N 8 | tr -d " ")
# Thin 0's leaf gets one byte wrong, past its entries.
printf '\001' | dd of=$DISK_meta bs=1 seek=$((leaf * 4096 + 3996)) count=1 conv=notrunc status=none
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup create thin0 --table "0 8192 thin /dev/mapper/pool 0"
dmsetup create thin1 --table "0 8192 thin /dev/mapper/pool 1"
dd if=/dev/mapper/thin0 bs=64K count=1 iflag=direct status=none | od -c | head -2
dd if=/dev/mapper/thin1 bs=64K count=1 iflag=direct status=none | od -c | head -2
yes c | head -c 65536 | dd of=/dev/mapper/thin0 bs=64K seek=7 iflag=fullblock oflag=direct
dmsetup status thin0
dmsetup status thin1
dmsetup status pool
yes d | head -c 65536 | dd of=/dev/mapper/thin1 bs=64K seek=1 iflag=fullblock oflag=direct status=none
dmsetup status pool
dmsetup status thin1
dmsetup remove thin0
dmsetup remove thin1
dmsetup remove pool
thin_check $DISK_meta
