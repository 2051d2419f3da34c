# thinsync: the pool's one metadata snapshot has no owner. send takes it only while thin_dump and
# thin_delta read it and releases it on every way out; a hold it did not take is left alone, with
# exit 4. A send killed by timeout (SIGTERM) while it holds the snapshot still releases it.
# disk: meta 4M
# disk: data 64M
dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 4096 thin /dev/mapper/pool 0"
yes a | head -c 131072 | dd of=/dev/mapper/thin bs=64K iflag=fullblock oflag=direct status=noxfer
dmsetup suspend thin
dmsetup message pool 0 "create_snap 1 0"
dmsetup resume thin
# Someone else's hold: refused, and the hold is still there. (The held root's block number, field 7,
# depends on how many periodic commits came before, which is a matter of pace: it is not printed.)
dmsetup message pool 0 "reserve_metadata_snap"
dmsetup status pool | cut -d ' ' -f 1-6,8-
[ "$(dmsetup status pool | cut -d ' ' -f 7)" != - ] && echo held
thinsync send --pool pool --id 1 --size 4096 -o /tmp/s
dmsetup status pool | cut -d ' ' -f 1-6,8-
[ "$(dmsetup status pool | cut -d ' ' -f 7)" != - ] && echo held
dmsetup ls
dmsetup message pool 0 "release_metadata_snap"
# Killed while it holds the snapshot (the test hook --pause-held waits there).
timeout 5 thinsync send --pool pool --id 1 --size 4096 -o /tmp/s --pause-held 60
dmsetup status pool
dmsetup ls
# Errors after the reservation release it too: a thin id the pool does not have.
thinsync send --pool pool --id 9 --size 4096 -o /tmp/s
thinsync send --pool pool --id 1 --base 9 --size 4096 -o /tmp/s
dmsetup status pool
thinsync send --pool nopool --id 1 --size 4096 -o /tmp/s
thinsync send --pool pool --id 1 -o /tmp/s
thinsync send --pool pool --id 1 --size 4096 --compress lz4 -o /tmp/s
# An unknown command: the message and the usage's first line (the usage grows with the commands).
thinsync frobnicate 2>/tmp/usage; echo "exit $?"; head -2 /tmp/usage
thinsync send --pool pool --id 1 --size 4096 -o /tmp/s
md5sum /tmp/s
dmsetup status pool
dmsetup ls
