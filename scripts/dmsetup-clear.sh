# clear drops the inactive table; the live one stays.
# disk: a 1M
dmsetup create dev --table "0 8 linear $DISK_a 0"
dmsetup clear dev
dmsetup info dev
dmsetup load dev --table "0 16 linear $DISK_a 0"
dmsetup info dev
dmsetup clear dev
dmsetup info dev
dmsetup table --inactive dev
dmsetup resume dev
dmsetup table dev
# clear on a device with only an inactive table.
dmsetup create empty --notable
dmsetup load empty --table "0 8 linear $DISK_a 0"
dmsetup clear empty
dmsetup info empty
dmsetup clear nosuch
dmsetup clear
dmsetup remove dev empty
