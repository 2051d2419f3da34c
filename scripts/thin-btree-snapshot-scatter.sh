# A snapshot of a device with 500 scattered mappings, then 250 scattered overwrites through the snapshot:
# the two mapping btrees share nodes until the writes break the sharing leaf by leaf. thin_delta and
# thin_rmap show the result.
# disk: meta 4M
# disk: data 96M
dmsetup create pool --table "0 196608 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create t0 --table "0 131072 thin /dev/mapper/pool 0"
i=0; while [ $i -lt 500 ]; do echo o$i | dd of=/dev/mapper/t0 bs=512 seek=$(( (i * 173 % 1024) * 128 )) conv=sync oflag=direct status=none || break; i=$((i + 1)); done; echo $i
dmsetup status pool
dmsetup suspend t0
dmsetup message pool 0 "create_snap 1 0"
dmsetup resume t0
dmsetup status pool
dmsetup create t1 --table "0 131072 thin /dev/mapper/pool 1"
i=0; while [ $i -lt 500 ]; do echo s$i | dd of=/dev/mapper/t1 bs=512 seek=$(( (i * 173 % 1024) * 128 )) conv=sync oflag=direct status=none || break; i=$((i + 2)); done; echo $i
dmsetup status t0
dmsetup status t1
dmsetup status pool
for k in 0 1 2 3 498 499; do dd if=/dev/mapper/t1 bs=512 skip=$(( (k * 173 % 1024) * 128 )) count=1 iflag=direct status=none | tr -d '\000'; done
for k in 0 1 2 3; do dd if=/dev/mapper/t0 bs=512 skip=$(( (k * 173 % 1024) * 128 )) count=1 iflag=direct status=none | tr -d '\000'; done
dmsetup remove t0 t1
dmsetup remove pool
thin_check $DISK_meta
thin_delta --snap1 0 --snap2 1 $DISK_meta | md5sum
thin_delta --snap1 0 --snap2 1 $DISK_meta | head -8
thin_rmap --region 0..760 $DISK_meta | md5sum
thin_rmap --region 498..504 $DISK_meta
thin_ls -o DEV,MAPPED_BLOCKS,EXCLUSIVE_BLOCKS,SHARED_BLOCKS $DISK_meta
