# Hostile input: names of 127 and 128 characters, uuids of 128 and more, very long messages, mknodes over stale nodes in /dev/mapper, and remove_all while a device is open.
# disk: a 1M
# disk: meta 1M
# disk: data 4M
@N=$(head -c 127 /dev/zero | tr '\000' n)
@U=$(head -c 128 /dev/zero | tr '\000' u)
# A name of 127 characters fits (DM_NAME_LEN is 128 with the NUL); 128 does not.
dmsetup create $N --table "0 8 linear $DISK_a 0"
dmsetup ls
dmsetup create ${N}x --table "0 8 linear $DISK_a 0"
dmsetup rename $N ${N}x
dmsetup info -c -o name $N
dmsetup remove $N
# A uuid of 128 characters fits (DM_UUID_LEN is 129); 129 and 256 do not.
dmsetup create u1 --uuid $U --table "0 8 linear $DISK_a 0"
dmsetup create u2 --uuid ${U}v --table "0 8 linear $DISK_a 0"
dmsetup create u3 --uuid $U$U --table "0 8 linear $DISK_a 0"
dmsetup create u4 --table "0 8 linear $DISK_a 0"
dmsetup rename u4 --setuuid ${U}v
dmsetup info -c -o name,uuid
dmsetup info -u ${U}v
dmsetup remove -u $U
dmsetup remove u4
# Very long messages: to a pool (unknown and with a huge argument), to a linear device, outside the device,
# to a device without a table and to no device.
dmsetup create pool --table "0 8192 thin-pool $DISK_meta $DISK_data 128 0"
@M=$(head -c 2000 /dev/zero | tr '\000' m)
@W=$(head -c 20000 /dev/zero | tr '\000' 'w ')
dmsetup message pool 0 $M
dmsetup message pool 0 create_thin 1$M
dmsetup message pool 0 $W
dmsetup message pool 99999 $M
dmsetup create lin --table "0 8 linear $DISK_a 0"
dmsetup message lin 0 $M
dmsetup create empty --notable
dmsetup message empty 0 $M
dmsetup message nosuch 0 $M
dmsetup remove pool lin empty
# mknodes over odd entries: remove -u leaves u1's node behind. A new device x takes u1's old number,
# a new u1 finds the stale node pointing at x, and mknodes sorts them all out.
echo /dev/mapper/*
dmsetup create x --table "0 8 linear $DISK_a 0"
dmsetup create u1 --table "0 8 linear $DISK_a 8"
dmsetup info -c -o name,major,minor
echo /dev/mapper/*
dmsetup remove -u $U
dmsetup mknodes nosuch
dmsetup mknodes u1
dmsetup mknodes
echo /dev/mapper/*
dmsetup remove x u1
echo /dev/mapper/*
# remove_all while dd holds a suspended device open: the other devices go, the open one stays.
dmsetup create s --table "0 8 linear $DISK_a 0"
dmsetup create t --table "0 8 linear $DISK_a 8"
dmsetup suspend s
dd if=/dev/mapper/s of=/dev/null bs=4K count=1 iflag=direct >/tmp/dd.out 2>&1 &
sleep 1
dmsetup remove_all
dmsetup ls
dmsetup info -c -o name,open,suspended s
dmsetup resume s
wait; cat /tmp/dd.out
dmsetup remove_all
dmsetup ls
