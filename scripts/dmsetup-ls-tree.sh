# dmsetup ls --tree over a stack (a pool on linear and striped devices, thin devices, a device on two
# disks), with -o device options, ascii/compact/inverted/notrunc; and ls and deps with -o devname, blkdevname and devno.
# disk: meta 4M
# disk: a 8M
# disk: b 8M
dmsetup create meta --table "0 8192 linear $DISK_meta 0"
dmsetup create data --table "0 32768 striped 2 128 $DISK_a 0 $DISK_b 0"
dmsetup create pool --table "0 32768 thin-pool /dev/mapper/meta /dev/mapper/data 128 0"
dmsetup message pool 0 "create_thin 0"
dmsetup create thin0 -u THIN-0 --table "0 8192 thin /dev/mapper/pool 0"
dmsetup create lone --readonly --table "0 8 zero"
printf '0 8 linear /dev/mapper/thin0 0\n8 8 linear %s 8000\n' $DISK_meta | dmsetup create cat
dmsetup ls --tree
dmsetup ls --tree -o ascii
dmsetup ls --tree -o blkdevname
dmsetup ls --tree -o device,blkdevname
dmsetup ls --tree -o uuid
dmsetup ls --tree -o active,open,rw
dmsetup ls --tree -o compact
dmsetup ls --tree -o inverted
dmsetup ls --tree -o inverted,blkdevname
dmsetup ls --tree -o notrunc,uuid,ascii
dmsetup ls --tree -o nosuch
dmsetup ls --tree thin0
dmsetup ls -o devname
dmsetup ls -o blkdevname
dmsetup ls -o devno
dmsetup ls -o blkdevname,devname
dmsetup ls -o nosuch
dmsetup deps -o devname
dmsetup deps -o blkdevname pool
dmsetup deps -o devno cat
dmsetup deps -o devname,blkdevname cat
dmsetup deps -o nosuch cat
dmsetup remove cat thin0 lone pool data meta
dmsetup ls --tree
