# Suspending pools and thin devices, in every order.
# disk: meta 4M
# disk: data 16M
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
# A pool with no thin devices.
dmsetup suspend pool
dmsetup info pool
dmsetup status pool
dmsetup message pool 0 "create_thin 0"
# A thin device cannot be activated while its pool is suspended.
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"
dmsetup resume pool
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"
yes s | head -c 65536 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
# Pool suspended under an active thin: the thin device still says ACTIVE.
dmsetup suspend pool
dmsetup info thin
dmsetup status thin
dmsetup status pool
dmsetup resume pool
# Thin suspended, then pool suspended. Kernel: resuming the thin first does not fail, it waits
# (interruptibly) until the pool is resumed, since the pool holds its thins internally suspended.
dmsetup suspend thin
dmsetup suspend pool
timeout 2 dmsetup resume thin
dmsetup info thin
dmsetup resume pool
dmsetup info pool
dmsetup info thin
dmsetup resume thin
# Suspending twice, resuming twice.
dmsetup suspend thin
dmsetup suspend thin
dmsetup resume thin
dmsetup resume thin
dmsetup info thin
# --noflush and --nolockfs.
dmsetup suspend --noflush pool
dmsetup resume pool
dmsetup suspend --nolockfs thin
dmsetup resume thin
# Removing a suspended thin device, and a suspended pool.
dmsetup suspend thin
dmsetup remove thin
dmsetup suspend pool
dmsetup remove pool
dmsetup ls
