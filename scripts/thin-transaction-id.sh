# Transaction ids: a 64-bit number kept in the metadata for userspace, changed only when the old
# value is given.
# disk: meta 4M
# disk: data 16M
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup status pool
dmsetup message pool 0 "set_transaction_id 0 1000"
dmsetup status pool
# The old value must match.
dmsetup message pool 0 "set_transaction_id 0 1001"
dmsetup message pool 0 "set_transaction_id 999 1001"
# Going backwards, or to the same value, is allowed.
dmsetup message pool 0 "set_transaction_id 1000 5"
dmsetup message pool 0 "set_transaction_id 5 5"
dmsetup status pool
# Bad numbers.
dmsetup message pool 0 "set_transaction_id x 6"
dmsetup message pool 0 "set_transaction_id 5 y"
dmsetup message pool 0 "set_transaction_id 5 -1"
dmsetup message pool 0 "set_transaction_id 5"
dmsetup message pool 0 "set_transaction_id 5 6 7"
# The largest value.
dmsetup message pool 0 "set_transaction_id 5 18446744073709551615"
dmsetup status pool
dmsetup message pool 0 "set_transaction_id 18446744073709551615 18446744073709551616"
# New thin devices record the transaction id they were created in.
dmsetup message pool 0 "create_thin 0"
dmsetup message pool 0 "set_transaction_id 18446744073709551615 7"
dmsetup message pool 0 "create_thin 1"
dmsetup status pool
dmsetup remove pool
# It is kept across activations.
dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"
dmsetup status pool
dmsetup remove pool
