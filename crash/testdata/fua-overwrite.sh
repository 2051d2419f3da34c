# A whole-block overwrite of an unprovisioned thin block carrying REQ_FUA (fua-write is a
# test-only command of package crash: busybox 1.35's dd has no oflag=dsync, so no script line
# sends FUA): dm-thin must hold its completion until the commit that maps the block.
# disk: meta 4M
# disk: data 16M
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"
fua-write /dev/mapper/thin 65536 65536
