#!/bin/bash
# Regenerates thintools/testdata from the REAL thin-provisioning-tools 0.9.0
# (apt-get install thin-provisioning-tools). Never run it with dmsim's tools
# on the PATH: goldens must come from the real ones.
#   images/NAME.img.gz   metadata images written by the real thin_restore
#                        (then damaged or given a metadata snapshot by surgery.py)
#   golden/CASE.{out,err,rc}[,post]  the real tools' stdout, stderr, exit code
#                        (and, for a case that writes, a thin_dump of the result)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ "$(thin_dump -V)" = 0.9.0 ] || { echo "need thin-provisioning-tools 0.9.0" >&2; exit 1; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work"
mk() { # name xml size
	truncate -s "$3" "$1.img"
	thin_restore -q -i "$here/xml/$2.xml" -o "$1.img"
}
mk basic basic 8M
mk many_devices many_devices 8M
mk snaps snaps 8M
mk deep deep 16M
mk empty empty 4M
cp basic.img basic_snap.img; python3 "$here/surgery.py" basic_snap.img snap >/dev/null
cp snaps.img snaps_snap.img; python3 "$here/surgery.py" snaps_snap.img snap >/dev/null
for b in 1 3 4 6 7 9 11 12 14 16; do
	cp basic.img basic_flip$b.img; python3 "$here/surgery.py" basic_flip$b.img flip $b
done
cp basic.img basic_leak.img; python3 "$here/surgery.py" basic_leak.img leak 30
cp basic.img basic_lower.img; python3 "$here/surgery.py" basic_lower.img lower 12
cp basic.img basic_needs_check.img; python3 "$here/surgery.py" basic_needs_check.img flags 1
cp basic.img basic_blocknr.img; python3 "$here/surgery.py" basic_blocknr.img nodefield 13 8 8 99
cp basic.img basic_vsize.img; python3 "$here/surgery.py" basic_vsize.img nodefield 6 24 4 16
cp basic.img basic_nrent.img; python3 "$here/surgery.py" basic_nrent.img nodefield 13 16 4 10
cp basic.img basic_order.img; python3 "$here/surgery.py" basic_order.img nodefield 11 40 8 500
cp basic.img basic_max.img; python3 "$here/surgery.py" basic_max.img nodefield 12 20 4 251
truncate -s 8M zero.img
truncate -s 100 small.img
rm -f "$here"/images/*.img.gz
for f in *.img; do gzip -9 -c "$f" > "$here/images/$f.gz"; done
cp "$here"/xml/*.xml .
rm -f "$here"/golden/*
# a clean copy of the inputs for cases that write
mkdir ../pristine.$$ && cp -a . "../pristine.$$/" && pristine="$work/../pristine.$$"
trap 'rm -rf "$work" "$pristine"' EXIT
while IFS='|' read -r name flags cmd post; do
	[ -z "$name" ] || [ "${name:0:1}" = "#" ] && continue
	if [[ $flags == *w* ]]; then rm -rf "$work"/*; cp -a "$pristine"/. "$work"/; fi
	set +e
	eval "$cmd" >"$here/golden/$name.out" 2>"$here/golden/$name.err"
	echo $? >"$here/golden/$name.rc"
	if [ -n "$post" ]; then eval "$post" >"$here/golden/$name.post" 2>&1; fi
	set -e
done < "$here/cases.txt"
echo "goldens written: $(ls "$here/golden" | wc -l) files"
