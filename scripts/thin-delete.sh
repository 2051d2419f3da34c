# Deleting thin devices: active ones cannot go, unknown ids, freed space, reused ids.
# disk: meta 4M
# disk: data 16M
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup message pool 0 "create_thin 1"
dmsetup create thin0 --table "0 8192 thin /dev/mapper/pool 0"
dmsetup create thin1 --table "0 8192 thin /dev/mapper/pool 1"
yes 0 | head -c 131072 | dd of=/dev/mapper/thin0 bs=64K iflag=fullblock oflag=direct status=noxfer
yes 1 | head -c 65536 | dd of=/dev/mapper/thin1 bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup status pool
# An active thin cannot be deleted.
dmsetup message pool 0 "delete 0"
dmsetup remove thin0
dmsetup message pool 0 "delete 0"
# Its two blocks are free again.
dmsetup status pool
# Unknown ids.
dmsetup message pool 0 "delete 0"
dmsetup message pool 0 "delete 7"
dmsetup message pool 0 "delete"
dmsetup message pool 0 "delete x"
# The id can be reused, and the new device is empty.
dmsetup message pool 0 "create_thin 0"
dmsetup create thin0 --table "0 8192 thin /dev/mapper/pool 0"
dmsetup status thin0
dd if=/dev/mapper/thin0 bs=64K count=1 iflag=direct status=none | md5sum
# The freed blocks are given out again (the lowest first).
yes 2 | head -c 65536 | dd of=/dev/mapper/thin0 bs=64K seek=3 iflag=fullblock oflag=direct status=noxfer
dmsetup status pool
dmsetup remove thin0
# A create/delete cycle leaves the pool as it was.
for i in 1 2 3 4 5; do dmsetup message pool 0 "create_thin 9" && dmsetup message pool 0 "delete 9" || break; done
dmsetup status pool
dmsetup remove thin1
dmsetup message pool 0 "delete 1"
dmsetup message pool 0 "delete 0"
dmsetup status pool
dmsetup remove pool
