# dmsetup info -c with every -o field of dmsetup 1.02.185, over devices in different states: stacked,
# suspended, read-only, with an inactive table, with uuids and LVM-style names.
# disk: a 1M
# disk: b 1M
dmsetup create lo1 -u LVM-aaaa --table "0 8 linear $DISK_a 0"
dmsetup create lo2 --table "0 8 linear $DISK_b 0"
dmsetup create vg0-lv--x-real -u LVM-aaaa-real --table "0 16 linear $DISK_a 16"
dmsetup create top -u CRYPT-top --table "0 8 linear /dev/mapper/lo1 0"
printf '0 8 linear /dev/mapper/lo1 0\n8 8 linear /dev/mapper/lo2 0\n' | dmsetup create cat
dmsetup create ro --readonly -u ro-uuid_with.odd:chars#+=@ --table "0 8 zero"
dmsetup load lo2 --table "0 8 linear $DISK_a 8"
dmsetup suspend top
dmsetup info -c
dmsetup info -c -o name,mangled_name,unmangled_name,uuid,mangled_uuid,unmangled_uuid,read_ahead
dmsetup info -c -o blkdevname,attr,tables_loaded,suspended,readonly,devno,major,minor,open,segments,events
dmsetup info -c -o name,device_count,devs_used,devnos_used,blkdevs_used
dmsetup info -c -o name,device_ref_count,names_using_dev,devnos_using_dev
dmsetup info -c -o name,subsystem,vg_name,lv_name,lv_layer
dmsetup info -c -o name,selected
dmsetup info -c --inactive -o name,devnos_used,blkdevs_used,devs_used lo2
dmsetup info -c -o name_all
dmsetup info -c -o info_all
dmsetup info -c -o deps_all
dmsetup info -c -o tree_all
dmsetup info -c -o splitname_all
dmsetup info -c -o name,all
dmsetup info -c -o +devno,blkdevname cat top
dmsetup resume top
dmsetup remove_all
