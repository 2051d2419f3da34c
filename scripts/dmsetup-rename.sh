# rename and rename --setuuid.
# disk: a 1M
dmsetup create old --table "0 8 linear $DISK_a 0"
dmsetup rename old new
dmsetup ls
dmsetup info new
dmsetup table new
dmsetup status old
# To an existing name, from an unknown one, to itself.
dmsetup create other --table "0 8 linear $DISK_a 8"
dmsetup rename new other
dmsetup rename nosuch x
dmsetup rename new new
dmsetup rename new
# Tables that refer to a renamed device keep working: they use major:minor.
dmsetup create top --table "0 8 linear /dev/mapper/new 0"
dmsetup rename new renamed
dmsetup table top
dmsetup deps top
# A uuid can be set once, and not changed after.
dmsetup rename renamed --setuuid uuid-1
dmsetup info renamed
dmsetup rename renamed --setuuid uuid-2
dmsetup rename other --setuuid uuid-1
# A suspended device can be renamed.
dmsetup suspend other
dmsetup rename other other2
dmsetup info -c
dmsetup resume other2
dmsetup remove top renamed other2
