# Limits on thin device ids and on the thin device table.
# disk: meta 4M
# disk: data 16M
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
# Device ids are 24 bits: 2^24-1 is the largest.
dmsetup message pool 0 "create_thin 16777215"
dmsetup message pool 0 "create_thin 16777216"
dmsetup message pool 0 "create_snap 16777216 16777215"
# Ids are parsed as decimal, so a leading zero is fine and hex is not.
dmsetup message pool 0 "create_thin 010"
dmsetup message pool 0 "create_thin 0x10"
dmsetup message pool 0 "create_thin -1"
dmsetup message pool 0 "create_thin 1 2"
dmsetup message pool 0 "create_thin 10"
dmsetup status pool
# The biggest id can be activated; one more cannot.
dmsetup create big --table "0 2048 thin /dev/mapper/pool 16777215"
dmsetup create bad --table "0 2048 thin /dev/mapper/pool 16777216"
dmsetup create bad --table "0 2048 thin /dev/mapper/pool -1"
# Thin devices can be much bigger than the pool: 1 PiB here.
dmsetup create huge --table "0 2199023255552 thin /dev/mapper/pool 10"
blockdev --getsz /dev/mapper/huge
dmsetup status huge
# Writing at the very end of the huge device provisions a single block.
yes Z | head -c 4096 | dd of=/dev/mapper/huge bs=4K seek=274877906943 iflag=fullblock oflag=direct status=noxfer
dmsetup status huge
dmsetup status pool
# Two activations of the same thin id are allowed.
dmsetup create big2 --table "0 2048 thin /dev/mapper/pool 16777215"
dmsetup ls
# Many devices: 30 more thins, ids 100..129.
for i in $(seq 100 129); do dmsetup message pool 0 "create_thin $i" || break; done
dmsetup status pool
dmsetup remove big big2 huge
dmsetup remove pool
