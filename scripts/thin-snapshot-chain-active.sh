# A chain 30 deep of snapshots taken of an active, written device (suspended for each create_snap); then
# deletes in the middle while some are active (refused), a delete of the live head, and thin_delta
# between the ends of the chain.
# disk: meta 4M
# disk: data 16M
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 100"
dmsetup create head --table "0 4096 thin /dev/mapper/pool 100"
for i in $(seq 1 30); do yes $i | head -c 4096 | dd of=/dev/mapper/head bs=4K seek=$((i * 16)) iflag=fullblock oflag=direct status=none && dmsetup suspend head && dmsetup message pool 0 "create_snap $i 100" && dmsetup resume head || break; done; echo $i
dmsetup status pool
dmsetup status head
dmsetup create s5 --table "0 4096 thin /dev/mapper/pool 5"
dmsetup create s15 --table "0 4096 thin /dev/mapper/pool 15"
# An active device cannot be deleted.
dmsetup message pool 0 "delete 15"
for i in $(seq 10 20); do dmsetup message pool 0 "delete $i"; done
dmsetup status pool
# Snapshot 5 sees writes 1..5 only; snapshot 15 sees 1..15.
for b in 1 5 6 15 16; do dd if=/dev/mapper/s5 bs=4K skip=$((b * 16)) count=1 iflag=direct status=none | head -c 2 | tr '\n\000' ' .'; done; echo
for b in 1 5 6 15 16; do dd if=/dev/mapper/s15 bs=4K skip=$((b * 16)) count=1 iflag=direct status=none | head -c 2 | tr '\n\000' ' .'; done; echo
dmsetup remove s15
dmsetup message pool 0 "delete 15"
dmsetup remove head
dmsetup message pool 0 "delete 100"
dmsetup status pool
dmsetup remove s5
dmsetup remove pool
thin_delta --snap1 1 --snap2 30 $DISK_meta
thin_delta --snap1 5 --snap2 9 $DISK_meta
thin_ls -o DEV,MAPPED_BLOCKS,EXCLUSIVE_BLOCKS,SHARED_BLOCKS $DISK_meta
