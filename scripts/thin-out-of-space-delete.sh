# Deleting a thin device frees space: an out-of-data-space pool goes back to write mode at once.
# (Kernel: the delete message itself logs the switch to write mode.)
# disk: meta 4M
# disk: data 8M
dmsetup create pool --table "0 2048 thin-pool $DISK_meta $DISK_data 128 0 1 error_if_no_space"
dmsetup message pool 0 "create_thin 0"
dmsetup message pool 0 "create_thin 1"
dmsetup create t0 --table "0 4096 thin /dev/mapper/pool 0"
dmsetup create t1 --table "0 4096 thin /dev/mapper/pool 1"
yes a | head -c 524288 | dd of=/dev/mapper/t0 bs=64K iflag=fullblock oflag=direct status=noxfer
timeout 60 dd if=/dev/zero of=/dev/mapper/t1 bs=64K count=16 oflag=direct status=noxfer
dmsetup status pool
dmsetup remove t0
dmsetup message pool 0 "delete 0"
dmsetup status pool
timeout 60 dd if=/dev/zero of=/dev/mapper/t1 bs=64K seek=8 count=1 oflag=direct status=noxfer
# A suspend/resume changes nothing more.
dmsetup suspend pool
dmsetup resume pool
dmsetup status pool
timeout 60 dd if=/dev/zero of=/dev/mapper/t1 bs=64K seek=8 count=1 oflag=direct status=noxfer
dmsetup status pool
dmsetup status t1
dmsetup remove t1
dmsetup remove pool
