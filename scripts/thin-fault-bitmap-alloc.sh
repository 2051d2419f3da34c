# A data space map bitmap that fails its checksum, found when a write needs a new data block: the
# allocation fails, so the pool aborts the transaction, sets needs_check and turns read-only. The
# flag outlives the pool: a new table stays read-only.
# disk: meta 4M
# disk: data 64M
# The pool's metadata comes from thin_restore, so no commit timing shapes it: thin 0 maps virtual
# blocks 0-1 to data blocks 0-1 ("a"), thin 1 maps block 0 to data block 2 ("b").
printf '<superblock uuid="" time="0" transaction="1" flags="0" version="2" data_block_size="128" nr_data_blocks="1024">\n <device dev_id="0" mapped_blocks="2" transaction="0" creation_time="0" snap_time="0">\n  <range_mapping origin_begin="0" data_begin="0" length="2" time="0"/>\n </device>\n <device dev_id="1" mapped_blocks="1" transaction="0" creation_time="0" snap_time="0">\n  <single_mapping origin_block="0" data_block="2" time="0"/>\n </device>\n</superblock>\n' > /tmp/md.xml
thin_restore -i /tmp/md.xml -o $DISK_meta
yes a | head -c 131072 | dd of=$DISK_data bs=64K iflag=fullblock oflag=direct status=none
yes b | head -c 65536 | dd of=$DISK_data bs=64K seek=2 iflag=fullblock oflag=direct status=none
# The data space map root (byte 64: nr_blocks, nr_allocated, index root, ref count root); the
# index root is a btree leaf of index entries whose first value (byte 1376) names the one bitmap.
dd if=$DISK_meta bs=4096 count=1 iflag=direct status=none | od -A d -t u8 -j 64 -N 32
index=$(dd if=$DISK_meta bs=4096 count=1 iflag=direct status=none | od -A n -t u8 -j 80 -N 8 | tr -d " ")
bitmap=$(dd if=$DISK_meta bs=4096 skip=$index count=1 iflag=direct status=none | od -A n -t u8 -j 1376 -N 8 | tr -d " "); echo $bitmap
# One byte of the bitmap, past the blocks the pool has, changes.
printf '\377' | dd of=$DISK_meta bs=1 seek=$((bitmap * 4096 + 2000)) count=1 conv=notrunc status=none
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup create thin0 --table "0 8192 thin /dev/mapper/pool 0"
dmsetup status pool
# Reads and overwrites of mapped blocks allocate nothing.
dd if=/dev/mapper/thin0 bs=64K count=1 iflag=direct status=none | od -c | head -2
yes c | head -c 65536 | dd of=/dev/mapper/thin0 bs=64K iflag=fullblock oflag=direct status=none
yes d | head -c 65536 | dd of=/dev/mapper/thin0 bs=64K seek=5 iflag=fullblock oflag=direct
dmsetup status pool
dmsetup status thin0
dd if=/dev/mapper/thin0 bs=64K count=1 iflag=direct status=none | od -c | head -2
dmsetup message pool 0 "create_thin 2"
dmsetup remove thin0
dmsetup remove pool
thin_check $DISK_meta
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup status pool
dmsetup remove pool
# The byte put back, the metadata checks clean; the flag stays until thin_check clears it.
printf '\000' | dd of=$DISK_meta bs=1 seek=$((bitmap * 4096 + 2000)) count=1 conv=notrunc status=none
thin_check $DISK_meta
