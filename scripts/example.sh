# A tour: a thin pool, a thin volume, some writes, a snapshot, and what the status lines say.
#
# Two zero-filled disks: a small one for the pool's metadata, a bigger one for its data.
# disk: meta 4M
# disk: data 64M

# The pool: 131072 sectors (64 MiB) of the data disk, cut into 64 KiB blocks (128 sectors), with
# a low water mark of 16 free blocks. The metadata disk is all zeroes, so the kernel formats it.
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 16"
# transaction id, used/total metadata blocks (4 KiB each), used/total data blocks, held metadata
# root, mode, discard and no-space policy, needs_check, metadata low water mark.
dmsetup status pool

# Thin device 0, activated as a 1 GiB volume: bigger than the pool, which is the point.
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 2097152 thin /dev/mapper/pool 0"
# Nothing is mapped yet ("-" is the highest mapped sector), and it reads as zeroes.
dmsetup status thin
dd if=/dev/mapper/thin bs=4K count=1 iflag=direct status=none | od -A d -t x1

# Write 256 KiB at the start: four 64 KiB blocks get provisioned.
yes hello | head -c 262144 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup status thin
dmsetup status pool

# A snapshot: suspend the origin so that no write is in flight, take it, resume.
dmsetup suspend thin
dmsetup message pool 0 "create_snap 1 0"
dmsetup resume thin
dmsetup create snap --table "0 2097152 thin /dev/mapper/pool 1"
# The snapshot shares the four blocks with its origin: no new data block is used...
dmsetup status pool
# ...until one side is written: the origin gets a fresh block, the snapshot keeps the old one.
yes world | head -c 65536 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
dd if=/dev/mapper/thin bs=64K count=1 iflag=direct status=none | head -c 12
dd if=/dev/mapper/snap bs=64K count=1 iflag=direct status=none | head -c 12
dmsetup status pool

# Everything at once: names, tables (devices as major:minor) and status lines.
dmsetup ls
dmsetup table
dmsetup status

# Tear down: thin devices first (a pool with open thins cannot go), then the pool.
dmsetup remove pool
dmsetup remove snap thin
dmsetup remove pool
dmsetup ls
