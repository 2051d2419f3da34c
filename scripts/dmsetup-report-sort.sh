# dmsetup info -c --sort (-O): ascending and descending keys, several keys, keys that are not shown,
# numbers compared as numbers and strings as strings, and the errors.
# disk: a 1M
for i in 1 2 3 4 5 6 7 8 9 10 11; do dmsetup create d$i --table "0 1 zero"; done
dmsetup create zz --table "0 8 linear /dev/mapper/d3 0"
dmsetup create aa --table "0 8 linear /dev/mapper/d3 0"
dmsetup create mm --table "0 8 linear /dev/mapper/d5 0"
dmsetup suspend d7
dmsetup info -c -o name,minor,open -O name
dmsetup info -c -o name,minor,open -O -name
dmsetup info -c -o name,minor -O -minor
dmsetup info -c -o name,devno -O devno
dmsetup info -c -o name,devno -O -devno
dmsetup info -c -o name,open,minor -O -open,-minor
dmsetup info -c -o name,open,minor -O +open,name
dmsetup info -c -o name -O -open,name
dmsetup info -c -o name,attr -O attr,-name
dmsetup info -c -o name,devs_used -O devs_used,name
dmsetup info -c --rows -o name -O -minor d1 d2 d3
dmsetup info -c -o name -O name,-name d1 d2
dmsetup info -c -o name -O -
dmsetup info -c -o name -O nosuch
dmsetup info -c -o name -O name_all
dmsetup info -c -o name --sort -MINOR d9 d10 d11
dmsetup status -c -O name
dmsetup resume d7
dmsetup remove_all
