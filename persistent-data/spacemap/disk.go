package spacemap

import (
	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/persistent-data/transaction"
)

// Disk is the data space map (dm-space-map-disk.c): its bitmaps, index
// btree and overflow btree live in the metadata device.
type Disk struct {
	ll, old   ll
	begin     uint64
	allocated uint64       // nr_allocated_this_transaction (wrapping arithmetic)
	fast      *restoreFast // RestoreInc's
	fastOff   bool         // RestoreInc found the space map unfit
}

// CreateDisk is dm_sm_disk_create().
func CreateDisk(tm *transaction.Manager, nrBlocks uint64, opts ...Option) (*Disk, error) {
	d := &Disk{}
	if err := d.ll.newDisk(tm, opts); err != nil {
		return nil, err
	}
	if err := d.ll.extend(nrBlocks); err != nil {
		return nil, err
	}
	if err := d.Commit(); err != nil {
		return nil, err
	}
	return d, nil
}

// OpenDisk is dm_sm_disk_open().
func OpenDisk(tm *transaction.Manager, root Root) (*Disk, error) {
	d := &Disk{}
	d.ll.openDisk(tm, root)
	if err := d.Commit(); err != nil {
		return nil, err
	}
	return d, nil
}

// Extend is sm_disk_extend().
func (d *Disk) Extend(extra uint64) error {
	if err := d.leaveFast(); err != nil {
		return err
	}
	return d.ll.extend(extra)
}

// NrBlocks is sm_disk_get_nr_blocks(): the size at the last commit.
func (d *Disk) NrBlocks() uint64 { return d.old.nrBlocks }

// NrFree is sm_disk_get_nr_free().
func (d *Disk) NrFree() uint64 { return d.old.nrBlocks - d.old.nrAllocated - d.allocated }

// GetCount is sm_disk_get_count().
func (d *Disk) GetCount(b uint64) (uint32, error) {
	if err := d.leaveFast(); err != nil {
		return 0, err
	}
	return d.ll.lookup(b)
}

// CountIsMoreThanOne is sm_disk_count_is_more_than_one().
func (d *Disk) CountIsMoreThanOne(b uint64) (bool, error) {
	if err := d.leaveFast(); err != nil {
		return false, err
	}
	c, err := d.ll.lookup(b)
	return c > 1, err
}

// SetCount is sm_disk_set_count().
func (d *Disk) SetCount(b uint64, count uint32) error {
	if err := d.leaveFast(); err != nil {
		return err
	}
	n, err := d.ll.insert(b, count)
	if err == nil {
		d.allocated += uint64(n)
	}
	return err
}

// IncBlocks is sm_disk_inc_blocks().
func (d *Disk) IncBlocks(b, e uint64) error {
	if err := d.leaveFast(); err != nil {
		return err
	}
	n, err := d.ll.incRange(b, e)
	if err == nil {
		d.allocated += uint64(n)
	}
	return err
}

// DecBlocks is sm_disk_dec_blocks().
func (d *Disk) DecBlocks(b, e uint64) error {
	if err := d.leaveFast(); err != nil {
		return err
	}
	n, err := d.ll.decRange(b, e)
	if err == nil {
		d.allocated += uint64(n)
	}
	return err
}

// NewBlock is sm_disk_new_block(): the first block at or after the cursor
// that is free now and at the last commit; the cursor is never reset.
func (d *Disk) NewBlock() (uint64, error) {
	if err := d.leaveFast(); err != nil {
		return 0, err
	}
	b, err := findCommonFree(&d.old, &d.ll, d.begin, d.ll.nrBlocks)
	if err == linuxerr.ENOSPC {
		b, err = findCommonFree(&d.old, &d.ll, 0, d.begin)
	}
	if err != nil {
		return 0, err
	}
	d.begin = b + 1
	n, err := d.ll.incRange(b, b+1)
	if err == nil {
		d.allocated += uint64(n)
	}
	return b, err
}

// Commit is sm_disk_commit().
func (d *Disk) Commit() error {
	if err := d.leaveFast(); err != nil {
		return err
	}
	if err := d.ll.commit(); err != nil {
		return err
	}
	d.old = d.ll
	d.allocated = 0
	return nil
}

// Root is sm_disk_copy_root().
func (d *Disk) Root() Root { return d.ll.root() }

// NrAllocated is the number of data blocks in use (current transaction).
func (d *Disk) NrAllocated() uint64 { return d.ll.nrAllocated }
