# Messages to the wrong target type: pool messages to thin, linear, striped, zero, error, flakey and delay
# devices, thin messages the pool does not know, messages to a suspended pool and to a device with only an
# inactive pool table, and sectors outside the device.
# disk: a 1M
# disk: meta 4M
# disk: data 8M
modprobe dm-flakey
modprobe dm-delay
dmsetup create pool --table "0 16384 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin --table "0 8192 thin /dev/mapper/pool 0"
dmsetup create lin --table "0 8 linear $DISK_a 0"
dmsetup create str --table "0 16 striped 2 8 $DISK_a 0 $DISK_a 64"
dmsetup create z --table "0 8 zero"
dmsetup create e --table "0 8 error"
dmsetup create fl --table "0 8 flakey $DISK_a 0 1 0"
dmsetup create de --table "0 8 delay $DISK_a 0 0"
for d in thin lin str z e fl de; do dmsetup message $d 0 "create_thin 1"; echo "$d: $?"; done
dmsetup message thin 0 "delete 0"
dmsetup message thin 0 "reserve_metadata_snap"
dmsetup message pool 0 "create_thin"
dmsetup message pool 0 "create_thin 1 2"
dmsetup message pool 0 "create_snap 1"
dmsetup message pool 0 "delete"
dmsetup message pool 0 "set_transaction_id 0"
dmsetup message pool 0 "reserve_metadata_snap now"
dmsetup message pool 0 "release_metadata_snap now"
dmsetup message pool 0 "trim 0 1"
dmsetup message pool 0 "CREATE_THIN 1"
dmsetup message pool 1 "create_thin 1"
dmsetup message pool 16384 "create_thin 1"
dmsetup message pool 99999 "create_thin 1"
dmsetup message lin 8 hello
dmsetup suspend pool
dmsetup message pool 0 "create_thin 2"
dmsetup resume pool
dmsetup create lazy --notable
dmsetup load lazy --table "0 16384 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message lazy 0 "create_thin 3"
dmsetup status pool
dmsetup remove_all
