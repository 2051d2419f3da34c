# A snapshot chain 30 deep: device i is a snapshot of device i-1 and writes block i of its own. Then
# devices 10..20 in the middle are deleted; the tail of the chain still reads every level's block.
# disk: meta 4M
# disk: data 16M
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create t --table "0 4096 thin /dev/mapper/pool 0"
yes 0 | head -c 65536 | dd of=/dev/mapper/t bs=64K iflag=fullblock oflag=direct status=none
dmsetup remove t
for i in $(seq 1 30); do dmsetup message pool 0 "create_snap $i $((i - 1))" && dmsetup create t --table "0 4096 thin /dev/mapper/pool $i" && yes $i | head -c 65536 | dd of=/dev/mapper/t bs=64K seek=$i iflag=fullblock oflag=direct status=none && dmsetup remove t || break; done; echo $i
dmsetup status pool
dmsetup create t30 --table "0 4096 thin /dev/mapper/pool 30"
for b in $(seq 0 31); do dd if=/dev/mapper/t30 bs=64K skip=$b count=1 iflag=direct status=none | head -c 2 | tr '\n\000' ' .'; done; echo
dmsetup status t30
# Delete the middle of the chain: nothing is freed, since every block is still mapped by device 30.
for i in $(seq 10 20); do dmsetup message pool 0 "delete $i" || break; done
dmsetup status pool
for b in $(seq 0 31); do dd if=/dev/mapper/t30 bs=64K skip=$b count=1 iflag=direct status=none | head -c 2 | tr '\n\000' ' .'; done; echo
# Device 9 still sees only blocks 0..9.
dmsetup create t9 --table "0 4096 thin /dev/mapper/pool 9"
for b in $(seq 0 11); do dd if=/dev/mapper/t9 bs=64K skip=$b count=1 iflag=direct status=none | head -c 2 | tr '\n\000' ' .'; done; echo
# A deleted id is gone for good: no device, and it can be created again.
dmsetup create t15 --table "0 4096 thin /dev/mapper/pool 15"
dmsetup message pool 0 "create_snap 15 30"
dmsetup message pool 0 "delete 30"
dmsetup remove t30
dmsetup message pool 0 "delete 30"
dmsetup status pool
dmsetup remove t9
dmsetup remove pool
thin_ls -o DEV,MAPPED_BLOCKS,EXCLUSIVE_BLOCKS,SHARED_BLOCKS $DISK_meta
