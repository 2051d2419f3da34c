# dmsetup's column report when something is wrong: unknown fields print the field help, help and ? ask
# for it, and a field whose report function fails drops the device's row (blkdevname of a device that
# has never had a table, which has no block device yet).
# disk: a 1M
dmsetup info -c -o devnames_used
dmsetup info -c -o name,nosuch
dmsetup info -c -o name -O nosuch
dmsetup info -c -o help
dmsetup create lin --table "0 8 linear $DISK_a 0"
dmsetup create empty --notable
dmsetup info -c -o help
dmsetup info -c -o '?'
dmsetup info -c -o name,help lin
dmsetup info -c -o name,blkdevname
dmsetup info -c -o name,blkdevname empty lin
dmsetup info -c -o name -O blkdevname
dmsetup info -c -o name,blkdevname,devs_used lin
dmsetup info -c -o name,blkdevs_used,devs_used,names_using_dev
dmsetup info -c -o name lin nosuch
dmsetup info -c -o name nosuch lin
dmsetup load empty --table "0 8 zero"
dmsetup info -c -o name,blkdevname,tables_loaded empty
dmsetup resume empty
dmsetup info -c -o name,blkdevname,tables_loaded empty
dmsetup info -c -o name,read_count lin
dmsetup info -c -o name,region_id lin
dmsetup remove_all
