# dmsetup message: which targets take messages, and how arguments reach them.
# disk: meta 4M
# disk: data 16M
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup create lin --table "0 8 linear $DISK_data 0"
dmsetup message lin 0 hello
dmsetup message nosuch 0 hello
# Arguments may come as one word or as several.
dmsetup message pool 0 create_thin 1
dmsetup message pool 0 "create_snap 2 1"
dmsetup message pool 0 "  create_thin    3  "
dmsetup message pool 0 "CREATE_THIN 4"
# The sector must be a number; any sector inside the pool is fine, and one outside is not.
dmsetup message pool x "create_thin 5"
dmsetup message pool 32767 "create_thin 5"
dmsetup message pool 32768 "create_thin 6"
dmsetup message pool 0
dmsetup message pool
dmsetup message pool 0 ""
# Messages reach a suspended pool.
dmsetup suspend pool
dmsetup message pool 0 "create_thin 7"
dmsetup resume pool
# A message goes to the live table, not to an inactive one.
dmsetup create empty --notable
dmsetup load empty --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup message empty 0 "create_thin 8"
dmsetup clear empty
dmsetup status pool
thin_ls -m $DISK_meta
dmsetup message pool 0 reserve_metadata_snap
thin_ls -m $DISK_meta
dmsetup remove lin empty pool
