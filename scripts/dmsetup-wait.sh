# dmsetup wait: event numbers, and waiting for the next event.
# disk: meta 4M
# disk: data 8M
dmsetup create pool --table "0 2048 thin-pool $DISK_meta $DISK_data 128 8 1 error_if_no_space"
dmsetup info pool
# Nothing has happened: a wait would block, so give it a second.
timeout 1 dmsetup wait pool
# Waiting for an event number other than the current one returns at once.
dmsetup wait pool 5
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"
# Crossing the low water mark (8 free blocks of 16) raises one event.
yes w | head -c 589824 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup info pool
dmsetup wait pool 0
timeout 1 dmsetup wait pool 1
# Running out of space raises another.
timeout 60 dd if=/dev/zero of=/dev/mapper/thin bs=64K seek=9 count=8 oflag=direct status=noxfer
dmsetup info -c pool
dmsetup wait pool 1
# A table swap raises an event on the resumed device.
dmsetup reload pool --table "0 4096 thin-pool $DISK_meta $DISK_data 128 8 1 error_if_no_space"
dmsetup suspend pool
dmsetup resume pool
dmsetup info -c pool
dmsetup wait nosuch
dmsetup remove thin pool
