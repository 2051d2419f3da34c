# Odd device names: 128 characters and more for create and rename, names of dots, slashes, quotes,
# dashes, UTF-8 bytes and control characters, and what ls, info, table and message do with them.
# disk: a 1M
@L=$(head -c 128 /dev/zero | tr '\000' L)
dmsetup create $L --table "0 8 linear $DISK_a 0"
dmsetup create ${L}${L} --table "0 8 linear $DISK_a 0"
dmsetup info $L
dmsetup create . --table "0 8 linear $DISK_a 0"
dmsetup create .. --table "0 8 linear $DISK_a 0"
dmsetup create a/b --table "0 8 linear $DISK_a 0"
dmsetup create -- -lead --table "0 8 linear $DISK_a 0"
dmsetup create "it's" --table "0 8 linear $DISK_a 0"
dmsetup create 'caf€' --table "0 8 linear $DISK_a 0"
dmsetup create "$(printf 'tab\tname')" --table "0 8 linear $DISK_a 0"
dmsetup create "$(printf 'nl\nname')" --table "0 8 linear $DISK_a 0"
dmsetup create control --table "0 8 linear $DISK_a 0"
dmsetup create '' --table "0 8 linear $DISK_a 0"
dmsetup create x
dmsetup ls
echo /dev/mapper/*
dmsetup info -c -o name,mangled_name,minor
dmsetup table "it's"
dmsetup message "it's" 0 hello
dmsetup rename "it's" ${L}
dmsetup rename "it's" a/b
dmsetup rename "it's" ..
dmsetup rename "it's" control
dmsetup rename "it's" 'caf€'
dmsetup rename "it's" "its"
dmsetup rename nosuch other
dmsetup ls
dmsetup remove_all
dmsetup ls
