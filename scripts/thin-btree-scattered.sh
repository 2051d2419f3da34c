# Hundreds of scattered writes: 600 single-sector writes to blocks 397 apart (mod 2048) fill the mapping
# btree of one thin device past a leaf (252 entries), then 200 of them are discarded so leaves shrink
# and rebalance. Status lines along the way, then thin_dump and thin_rmap of the metadata.
# disk: meta 4M
# disk: data 128M
dmsetup create pool --table "0 262144 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 262144 thin /dev/mapper/pool 0"
i=0; while [ $i -lt 600 ]; do echo $i | dd of=/dev/mapper/thin bs=512 seek=$(( (i * 397 % 2048) * 128 )) conv=sync oflag=direct status=none || break; i=$((i + 1)); done; echo $i
dmsetup status thin
dmsetup status pool
# Where some of them landed: virtual block 397*k mod 2048 holds k.
for k in 0 1 2 300 599; do dd if=/dev/mapper/thin bs=512 skip=$(( (k * 397 % 2048) * 128 )) count=1 iflag=direct status=none | tr -d '\000'; done
# Discard every third written block.
i=0; while [ $i -lt 600 ]; do blkdiscard -o $(( (i * 397 % 2048) * 65536 )) -l 65536 /dev/mapper/thin || break; i=$((i + 3)); done; echo $i
dmsetup status thin
dmsetup status pool
for k in 0 1 2 300 599; do dd if=/dev/mapper/thin bs=512 skip=$(( (k * 397 % 2048) * 128 )) count=1 iflag=direct status=none | tr -d '\000' | od -c | head -1; done
# New writes reuse the freed blocks once the discards are committed.
i=600; while [ $i -lt 700 ]; do echo $i | dd of=/dev/mapper/thin bs=512 seek=$(( (i * 397 % 2048) * 128 )) conv=sync oflag=direct status=none || break; i=$((i + 1)); done; echo $i
dmsetup status thin
dmsetup status pool
dmsetup remove thin
dmsetup remove pool
thin_check $DISK_meta
thin_dump $DISK_meta | md5sum
thin_dump $DISK_meta | wc -l
thin_dump $DISK_meta | head -5
thin_rmap --region 0..2048 $DISK_meta | md5sum
thin_rmap --region 0..2048 $DISK_meta | wc -l
thin_rmap --region 390..410 $DISK_meta
thin_ls $DISK_meta
