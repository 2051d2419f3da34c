# Filling 1504 blocks of one device (six leaves of the mapping btree), then discarding ranges that empty
# whole leaves and parts of others, and single blocks between: the btree merges and rebalances.
# disk: meta 4M
# disk: data 96M
dmsetup create pool --table "0 196608 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 1"
dmsetup create thin --table "0 196608 thin /dev/mapper/pool 1"
dd if=/dev/zero of=/dev/mapper/thin bs=1M count=94 oflag=direct status=noxfer
dmsetup status thin
dmsetup status pool
# Blocks 300..899.
blkdiscard -o 19660800 -l 39321600 /dev/mapper/thin
dmsetup status thin
dmsetup status pool
# Every fourth block from 1000 to 1399.
i=1000; while [ $i -lt 1400 ]; do blkdiscard -o $((i * 65536)) -l 65536 /dev/mapper/thin || break; i=$((i + 4)); done; echo $i
dmsetup status thin
dmsetup status pool
# The first 10 blocks and the last one.
blkdiscard -o 0 -l 655360 /dev/mapper/thin
blkdiscard -o 98500608 -l 65536 /dev/mapper/thin
dmsetup status thin
dmsetup status pool
dmsetup remove thin
dmsetup remove pool
thin_check $DISK_meta
thin_dump $DISK_meta | md5sum
thin_dump $DISK_meta | grep -c mapping
thin_rmap --region 0..1504 $DISK_meta | md5sum
thin_rmap --region 995..1010 $DISK_meta
