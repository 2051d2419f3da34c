# The delay target: like linear, but every bio waits (in milliseconds) before it goes to the device.
# Reads, writes (with discards) and flushes each have a device, an offset and a delay: 3 arguments
# for all of them, 6 for reads then writes (flushes as writes), 9 for reads, writes, flushes.
# disk: a 1M
# disk: b 1M
modprobe dm-delay
# Every way a delay table can be wrong.
dmsetup create d --table "0 16 delay $DISK_a 0"
dmsetup create d --table "0 16 delay $DISK_a 0 0 $DISK_b 0"
dmsetup create d --table "0 16 delay $DISK_a x 0"
dmsetup create d --table "0 16 delay $DISK_a 0 5ms"
# Kernel: the kernel's sscanf reads no sign for %u, so -1 is not a delay (glibc would read 4294967295).
dmsetup create d --table "0 16 delay $DISK_a 0 -1"
dmsetup create d --table "0 16 delay $DISK_a 0 0 /dev/nonexistent 0 0"
dmsetup create d --table "0 16 delay $DISK_a 0 0 $DISK_b 0 0 $DISK_b 0 x"
# Good tables with 3, 6 and 9 arguments; the status line counts the bios held for reads, writes
# and flushes. A device given for several classes is one dependency.
dmsetup create d3 --table "0 16 delay $DISK_a 0 10"
dmsetup create d6 --table "0 16 delay $DISK_a 0 0 $DISK_b 8 20"
dmsetup create d9 --table "0 16 delay $DISK_a 0 0 $DISK_b 0 0 $DISK_b 16 4294967295"
dmsetup table
dmsetup status
dmsetup deps
# d6 reads from a at 0 and writes to b at 8.
yes x | head -c 512 | dd of=/dev/mapper/d6 bs=512 iflag=fullblock oflag=direct status=none
dd if=/dev/mapper/d6 bs=512 count=1 iflag=direct status=none | head -c 4 | od -c
dd if=$DISK_b bs=512 count=1 skip=8 iflag=direct status=none | head -c 4 | od -c
dmsetup remove d3 d6 d9
# Writes wait 100 s; reads do not wait. A write in the background is held, and the status line
# counts it.
dmsetup create d --table "0 16 delay $DISK_a 0 0 $DISK_a 0 100000"
yes w | head -c 4096 | dd of=/dev/mapper/d bs=4K iflag=fullblock oflag=direct >/tmp/dd.out 2>&1 &
sleep 1
dmsetup status d
# The disk has not seen the write yet.
dd if=/dev/mapper/d of=/tmp/r bs=4K count=1 iflag=direct status=none; od -c -N 4 /tmp/r
# Suspending sends every held bio on at once, so the write completes.
dmsetup suspend d
wait; cat /tmp/dd.out
dmsetup status d
dmsetup resume d
dd if=/dev/mapper/d bs=4K count=1 iflag=direct status=none | head -c 4 | od -c
# Only flushes wait (100 s, on b): dd's write goes to a at once, its fsync is held.
dmsetup reload d --table "0 16 delay $DISK_a 0 0 $DISK_a 0 0 $DISK_b 0 100000"
dmsetup resume d
yes f | head -c 4096 | dd of=/dev/mapper/d bs=4K iflag=fullblock oflag=direct conv=fsync >/tmp/dd.out 2>&1 &
sleep 1
dmsetup status d
dmsetup suspend d
wait; cat /tmp/dd.out
dmsetup resume d
# Writes wait 5 s. timeout sends dd SIGTERM after 3 s, while dd waits for its first write.
# Kernel: the signal cannot cut the wait short (a direct write waits uninterruptibly): dd dies when
# its write returns, at 5 s, so the first 4 KiB reach the disk and the rest never leaves dd. The
# dying dd closes the device, and remove_all removes it.
dmsetup reload d --table "0 16 delay $DISK_a 0 0 $DISK_a 0 5000"
dmsetup resume d
yes t | head -c 8192 | timeout 3 dd of=/dev/mapper/d bs=4K iflag=fullblock oflag=direct
dd if=$DISK_a bs=4K count=2 iflag=direct status=none | od -c
dmsetup remove_all
dmsetup ls
