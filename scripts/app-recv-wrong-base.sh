# thinsync: recv checks the base's identity (its image root) before writing anything. An incremental
# applied to the wrong base, or twice, is refused with exit 5 and nothing is created.
# disk: meta 4M
# disk: data 64M
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 4096 thin /dev/mapper/pool 0"
yes a | head -c 262144 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup suspend thin
dmsetup message pool 0 "create_snap 1 0"
dmsetup resume thin
yes b | head -c 65536 | dd of=/dev/mapper/thin bs=64K seek=1 iflag=fullblock oflag=direct status=noxfer
dmsetup suspend thin
dmsetup message pool 0 "create_snap 2 0"
dmsetup resume thin
thinsync send --pool pool --id 1 --size 4096 -o /tmp/s1
thinsync send --pool pool --id 2 --base 1 --size 4096 -o /tmp/s2
md5sum /tmp/s1 /tmp/s2
thinsync recv --pool pool --id 11 -i /tmp/s1
# The incremental against thin 2 (not its base), a full stream given a base, an incremental without one.
thinsync recv --pool pool --id 12 --base 2 -i /tmp/s2
thinsync recv --pool pool --id 12 --base 11 -i /tmp/s1
thinsync recv --pool pool --id 12 -i /tmp/s2
thinsync recv --pool pool --id 12 --base 11 -i /tmp/s2
thinsync recv --pool pool --id 13 --base 12 -i /tmp/s2
dmsetup create r12 --readonly --table "0 4096 thin /dev/mapper/pool 12"
md5sum /dev/mapper/r12 /dev/mapper/thin
dmsetup remove r12
# Only thins 0, 1, 2, 11 and 12 exist.
dmsetup remove thin
dmsetup message pool 0 "reserve_metadata_snap"
thin_dump -m $DISK_meta
dmsetup message pool 0 "release_metadata_snap"
dmsetup status pool
