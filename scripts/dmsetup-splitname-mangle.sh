# splitname on odd names and subsystems, and mangle: names and uuids with characters udev does not allow,
# with --manglename none, hex and auto, and what info and ls show for them.
# disk: a 1M
dmsetup splitname vg-lv
dmsetup splitname vg--x-lv--y-_tmeta
dmsetup splitname -- -lv
dmsetup splitname -
dmsetup splitname ''
dmsetup splitname vg-lv-a-b-c
dmsetup splitname vg-lv LVM
dmsetup splitname vg-lv lvm
dmsetup splitname vg-lv OTHER
dmsetup splitname -c -o vg_name,lv_name vg-lv
dmsetup splitname --noheadings --separator : vg-lv-layer
dmsetup splitname a b c
dmsetup splitname
dmsetup create 'sp ace' --table "0 8 linear $DISK_a 0"
dmsetup create 'q"uote' --table "0 8 linear $DISK_a 0"
dmsetup create --manglename none 'none sp' --table "0 8 linear $DISK_a 0"
dmsetup create --manglename hex 'hex#name' --table "0 8 linear $DISK_a 0"
dmsetup create 'x\x20y' --table "0 8 linear $DISK_a 0"
dmsetup create -u 'uu id' plain --table "0 8 linear $DISK_a 0"
dmsetup ls
echo /dev/mapper/*
dmsetup info -c -o name,mangled_name,unmangled_name,uuid,mangled_uuid
dmsetup info -c --manglename none -o name,uuid
dmsetup info -c --manglename hex -o name,uuid
dmsetup mangle
dmsetup mangle 'sp ace'
dmsetup --manglename hex mangle
dmsetup ls
dmsetup --manglename none mangle
dmsetup ls
dmsetup --manglename auto mangle
dmsetup ls
dmsetup info -c -o name,mangled_name,unmangled_name,uuid,mangled_uuid
dmsetup --manglename nosuch ls
dmsetup remove_all
dmsetup ls
