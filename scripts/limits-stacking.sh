# Queue limits stacking (blk_stack_limits, dm_set_device_limits, dm_calculate_queue_limits): what the
# queue attributes of dm devices say over RAM disks (4 KiB physical blocks, 127 KiB requests) and
# virtio disks (512 bytes), each target's io_hints (striped, thin-pool, thin), and the warnings the
# kernel logs when alignments do not stack. q prints NAME: logical_block_size physical_block_size
# minimum_io_size optimal_io_size max_sectors_kb max_hw_sectors_kb discard_granularity
# discard_max_bytes discard_max_hw_bytes, then alignment_offset and discard_alignment.
# Kernel: /sys/block/NAME/discard_alignment prints the alignment offset (disk_discard_alignment_show()
# calls bdev_alignment_offset()), so it reads 3584 and -1 where alignment_offset does.
# disk: a 8M
# disk: b 8M
# disk: meta 4M
@q() { d=$1; case $d in vd*|ram*) ;; *) d=dm-$(dmsetup info -c --noheadings -o minor $d) ;; esac; s="$1:"; for f in logical_block_size physical_block_size minimum_io_size optimal_io_size max_sectors_kb max_hw_sectors_kb discard_granularity discard_max_bytes discard_max_hw_bytes; do s="$s $(cat /sys/block/$d/queue/$f)"; done; echo "$s align $(cat /sys/block/$d/alignment_offset) $(cat /sys/block/$d/discard_alignment)"; }
modprobe brd rd_nr=2 rd_size=4096
q ram0
q vda
# Linear over a RAM disk, at a 4 KiB boundary and one sector past it: the second is offset 3584 bytes
# from the physical blocks.
dmsetup create l0 --table "0 64 linear /dev/ram0 0"
dmsetup create l1 --table "0 64 linear /dev/ram0 1"
q l0
q l1
# Two targets whose alignments disagree: the table's limits are misaligned.
printf '0 8 linear /dev/ram0 0\n8 56 linear /dev/ram0 9\n' | dmsetup create l2
q l2
# A stripe over two devices whose alignments disagree: the device warning, from
# dm_calculate_queue_limits and again from validate_hardware_logical_block_alignment.
dmsetup create s0 --table "0 128 striped 2 8 /dev/ram0 0 /dev/ram1 1"
q s0
# Stripes of one sector over RAM disks: io_min is raised to the physical block, io_opt (1024) is not
# a multiple of it and is dropped.
dmsetup create s1 --table "0 128 striped 2 1 /dev/ram0 0 /dev/ram1 0"
q s1
# Striped over virtio disks: io_min one chunk, io_opt a full stripe.
dmsetup create s2 --table "0 8192 striped 2 128 $DISK_a 0 $DISK_b 0"
q s2
dmsetup create s3 --table "0 6192 striped 3 24 $DISK_a 8192 $DISK_b 8192 $DISK_a 12288"
q s3
# Stacked on dm devices: a linear over the stripes keeps their hints; a table mixing the stripes and a
# RAM disk takes the larger io_min and the lcm of the io_opts.
dmsetup create ls --table "0 4096 linear /dev/mapper/s2 100"
q ls
printf '0 2048 linear /dev/mapper/s2 0\n2048 2048 linear /dev/mapper/s3 0\n4096 64 linear /dev/ram1 0\n' | dmsetup create mix
q mix
# A table that swaps in other limits at resume.
dmsetup load ls --table "0 64 linear /dev/ram1 1"
q ls
dmsetup resume ls
q ls
dmsetup remove ls mix s3 l0 l1 l2 s0 s1
# Thin pools: pool_io_hints keeps io_opt when it is a multiple of the block size (a full stripe of
# 128 KiB over 64 KiB blocks), else sets io_min and io_opt to the block; thin_io_hints sets the
# discard limits of the thin device (discard_max_bytes 16 GiB), not discard_max_hw_bytes.
dmsetup create p1 --table "0 8192 thin-pool $DISK_meta /dev/mapper/s2 128 0"
q p1
dmsetup message p1 0 "create_thin 0"
dmsetup create t1 --table "0 4096 thin /dev/mapper/p1 0"
q t1
dmsetup remove t1 p1
@dd if=/dev/zero of=$DISK_meta bs=4K count=1 oflag=direct status=none
dmsetup create p2 --table "0 8192 thin-pool $DISK_meta /dev/mapper/s2 384 0"
q p2
dmsetup remove p2
# A pool over a RAM disk (no discard, 255-sector requests): max_sectors drops to the largest power of
# two that divides the block (1024 and 384 sectors), and io_min follows it.
@dd if=/dev/zero of=$DISK_meta bs=4K count=1 oflag=direct status=none
dmsetup create p3 --table "0 8192 thin-pool $DISK_meta /dev/ram1 1024 0"
q p3
dmsetup remove p3
@dd if=/dev/zero of=$DISK_meta bs=4K count=1 oflag=direct status=none
dmsetup create p4 --table "0 8064 thin-pool $DISK_meta /dev/ram1 384 0 1 skip_block_zeroing"
q p4
dmsetup message p4 0 "create_thin 1"
dmsetup create t4 --table "0 4096 thin /dev/mapper/p4 1"
q t4
dmsetup remove t4 p4
# A pool over the misaligned RAM disk stripe keeps its warnings, and so does its thin device.
dmsetup create s4 --table "0 4096 striped 2 8 /dev/ram0 0 /dev/ram1 1"
@dd if=/dev/zero of=$DISK_meta bs=4K count=1 oflag=direct status=none
dmsetup create p5 --table "0 4096 thin-pool $DISK_meta /dev/mapper/s4 128 0 1 skip_block_zeroing"
q p5
dmsetup remove p5 s4 s2
