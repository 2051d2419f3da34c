# 300 thin devices: the device details btree and the top-level mapping btree split past one leaf; then
# every other one of ids 50..249 is deleted and the trees rebalance. thin_ls lists what is left.
# disk: meta 4M
# disk: data 16M
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
i=0; while [ $i -lt 300 ]; do dmsetup message pool 0 "create_thin $((i * 7))" || break; i=$((i + 1)); done; echo $i
dmsetup status pool
dmsetup create t --table "0 8192 thin /dev/mapper/pool 2093"
yes m | head -c 65536 | dd of=/dev/mapper/t bs=64K seek=3 iflag=fullblock oflag=direct status=noxfer
dmsetup status t
dmsetup remove t
i=50; while [ $i -lt 250 ]; do dmsetup message pool 0 "delete $((i * 7))" || break; i=$((i + 2)); done; echo $i
dmsetup status pool
dmsetup message pool 0 "delete 357"
dmsetup message pool 0 "create_thin 350"
dmsetup message pool 0 "create_thin 357"
dmsetup status pool
dmsetup remove pool
thin_check $DISK_meta
thin_ls --no-headers -o DEV $DISK_meta | wc -l
thin_ls --no-headers -o DEV $DISK_meta | tr '\n' ' '
thin_ls -o DEV,MAPPED_BLOCKS,TRANSACTION $DISK_meta | head -4
thin_dump $DISK_meta | md5sum
