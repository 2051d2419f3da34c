# Running out of metadata space: create thin devices until the 256 KiB metadata device is full.
# Kernel: the pool goes read-only without setting needs_check, and once the metadata device grows
# it goes straight back to write mode.
# disk: meta 4M
# disk: data 16M
dmsetup create metalv --table "0 512 linear $DISK_meta 0"
dmsetup create pool --table "0 32768 thin-pool /dev/mapper/metalv $DISK_data 128 0"
dmsetup status pool
# Every new thin device costs a metadata block (the root of its empty mapping tree).
for i in $(seq 0 63); do dmsetup message pool 0 "create_thin $i" 2>/dev/null || break; done; echo "stopped at $i"
dmsetup status pool
dmsetup info pool
# The pool is now read-only: no messages, no new blocks.
dmsetup message pool 0 "delete 0"
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"
timeout 60 dd if=/dev/zero of=/dev/mapper/thin bs=64K count=1 oflag=direct status=noxfer
dd if=/dev/mapper/thin bs=64K count=1 iflag=direct status=none | md5sum
# Give it more metadata space: back to write mode.
dmsetup suspend thin
dmsetup suspend pool
dmsetup reload metalv --table "0 2048 linear $DISK_meta 0"
dmsetup resume metalv
dmsetup resume pool
dmsetup resume thin
dmsetup status pool
dmsetup remove thin
dmsetup message pool 0 "delete 0"
dmsetup message pool 0 "create_thin 100"
dmsetup status pool
dmsetup remove pool
