# Snapshots of snapshots: a chain 0 <- 1 <- 2 <- 3, each level writing one block of its own.
# disk: meta 4M
# disk: data 16M
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create t0 --table "0 4096 thin /dev/mapper/pool 0"
yes 0 | head -c 262144 | dd of=/dev/mapper/t0 bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup remove t0
dmsetup message pool 0 "create_snap 1 0"
dmsetup create t1 --table "0 4096 thin /dev/mapper/pool 1"
yes 1 | head -c 65536 | dd of=/dev/mapper/t1 bs=64K seek=1 iflag=fullblock oflag=direct status=noxfer
dmsetup suspend t1
dmsetup message pool 0 "create_snap 2 1"
dmsetup resume t1
dmsetup create t2 --table "0 4096 thin /dev/mapper/pool 2"
yes 2 | head -c 65536 | dd of=/dev/mapper/t2 bs=64K seek=2 iflag=fullblock oflag=direct status=noxfer
dmsetup suspend t2
dmsetup message pool 0 "create_snap 3 2"
dmsetup resume t2
dmsetup create t3 --table "0 4096 thin /dev/mapper/pool 3"
yes 3 | head -c 65536 | dd of=/dev/mapper/t3 bs=64K seek=3 iflag=fullblock oflag=direct status=noxfer
dmsetup status pool
# Each level sees its own writes and its ancestors' older ones.
for d in t1 t2 t3; do for b in 0 1 2 3; do dd if=/dev/mapper/$d bs=64K count=1 skip=$b iflag=direct status=none | head -c 1; done; echo " $d"; done
# Deleting the middle of the chain frees only what nobody else maps.
dmsetup remove t2
dmsetup message pool 0 "delete 2"
dmsetup status pool
for b in 0 1 2 3; do dd if=/dev/mapper/t3 bs=64K count=1 skip=$b iflag=direct status=none | head -c 1; done; echo
# Ten snapshots of the same device cost no data blocks.
for i in $(seq 10 19); do dmsetup message pool 0 "create_snap $i 3" || break; done
dmsetup status pool
# Overwriting block 0 of t3 breaks sharing for t3 only.
yes x | head -c 65536 | dd of=/dev/mapper/t3 bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup status pool
dmsetup remove t1 t3
dmsetup remove pool
