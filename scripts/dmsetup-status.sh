# dmsetup status and its options: --target, --noflush, --inactive.
# disk: meta 4M
# disk: data 16M
dmsetup status
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"
printf '0 8 linear %s 0\n8 8 linear %s 8\n' $DISK_data $DISK_data | dmsetup create lin
dmsetup create empty --notable
dmsetup status
dmsetup status --target thin
dmsetup status --target linear
dmsetup status --target thin-pool pool
dmsetup status --target striped
dmsetup status --target linear pool
# --noflush: the pool reports without committing first.
yes n | head -c 65536 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup status pool
dmsetup status --noflush pool
dmsetup status --noflush thin
# --inactive.
dmsetup status --inactive pool
dmsetup load lin --table "0 32 linear $DISK_data 0"
dmsetup status --inactive lin
dmsetup status --inactive
dmsetup status lin
dmsetup status empty
dmsetup status nosuch
dmsetup status pool thin
dmsetup remove thin pool lin empty
dmsetup status
