# The column report over a thin stack (a pool on linear devices, thin devices, a snapshot): many -o
# columns at once, --sort on several keys, --separator, --noheadings, and status and table as columns.
# disk: meta 4M
# disk: data 16M
dmsetup create pmeta -u LVM-vg-pool_tmeta --table "0 8192 linear $DISK_meta 0"
dmsetup create pdata -u LVM-vg-pool_tdata --table "0 32768 linear $DISK_data 0"
dmsetup create vg-pool-tpool -u LVM-vg-pool-tpool --table "0 32768 thin-pool /dev/mapper/pmeta /dev/mapper/pdata 128 0"
dmsetup message vg-pool-tpool 0 "create_thin 1"
dmsetup message vg-pool-tpool 0 "create_thin 2"
dmsetup create vg-lv1 -u LVM-vg-lv1 --table "0 8192 thin /dev/mapper/vg-pool-tpool 1"
dmsetup create vg-lv2 -u LVM-vg-lv2 --readonly --table "0 4096 thin /dev/mapper/vg-pool-tpool 2"
dmsetup suspend vg-lv2
dmsetup info -c -o name,uuid,major,minor,attr,open,segments,events,device_count,subsystem,vg_name,lv_name,lv_layer
dmsetup info -c -o name,blkdevname,devno,devs_used,blkdevs_used,devnos_used,names_using_dev,device_ref_count -O -device_count,name
dmsetup info -c --noheadings --separator ';' -o name,open,device_count,device_ref_count -O open,-name
dmsetup info -c --separator '' -o name,minor,attr -O attr,minor
dmsetup info -c --noheadings -o lv_name,vg_name,lv_layer,subsystem -O lv_layer,-lv_name
dmsetup info -c -o name,tables_loaded,suspended,readonly -O suspended,readonly,name vg-lv1 vg-lv2 pmeta
dmsetup info -c -O -segments,+uuid -o uuid,segments
dmsetup status -c
dmsetup table -c -o name,segments
dmsetup resume vg-lv2
dmsetup remove vg-lv1 vg-lv2 vg-pool-tpool pdata pmeta
