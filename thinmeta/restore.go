package thinmeta

import (
	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/persistent-data/block"
	"github.com/dmsim/dmsim/persistent-data/btree"
	"github.com/dmsim/dmsim/persistent-data/spacemap"
	"github.com/dmsim/dmsim/persistent-data/transaction"
)

// PoolHeader is the superblock content a restore starts from.
type PoolHeader struct {
	UUID          [16]byte
	Flags         uint32
	Version       uint32
	Time          uint32
	TransID       uint64
	HeldRoot      uint64 // copied as is: no snapshot is created
	DataBlockSize uint32 // sectors
	NrDataBlocks  uint64
}

// Restorer writes a whole pool onto a metadata device through the
// persistent-data layers, in the order thin_restore 0.9.0's restore
// emitter uses them, so that the image is the one the real thin_restore
// writes (block for block for small pools): format, a shared empty
// mapping leaf every device's subtree starts as, the data space map
// extended, then each device's mappings inserted one by one and its
// details and top-level entry added at its end, then one commit.
//
// The btrees split like the tools' (never rebalancing), the space maps
// use the tools' layout (spacemap.ToolsLayout), and mappings overwritten
// by a later one keep their data reference, as in 0.9.0.
type Restorer struct {
	bm     *block.Manager
	tm     *transaction.Manager
	metaSM *spacemap.Metadata
	dataSM *spacemap.Disk

	details, top, sub btree.Info
	detailsRoot, root uint64
	empty             uint64 // the shared empty mapping leaf
	hdr               PoolHeader

	inDevice bool
	dev      uint64
	devRoot  uint64
	devInfo  DeviceDetails

	// cur inserts the current device's mappings, the data space map's
	// RestoreInc counts their data blocks: the same bytes as btree.Insert
	// and IncBlocks, cheaper (general: tests compare them).
	cur     btree.Cursor
	general bool
	val     [8]byte
}

// NewRestorer formats dev (capped at the metadata space map's limit),
// with the block manager's options opts (block.Coalesce). Errors wrap
// ENOSPC when the device is too small.
func NewRestorer(dev block.Device, opts ...block.Option) (*Restorer, error) {
	// thin_restore writes along the right edge of each btree: a small
	// cache holds its working set (and keeps the RSS low). A Restorer is
	// used by one goroutine: its block manager takes no locks.
	r := &Restorer{bm: block.NewManager(dev, append([]block.Option{block.WithCacheBytes(restoreCacheBytes), block.Unshared()}, opts...)...)}
	var err error
	if r.tm, r.metaSM, err = spacemap.CreateMetadata(r.bm, SuperblockLocation, spacemap.ToolsLayout); err != nil {
		return nil, err
	}
	if r.dataSM, err = spacemap.CreateDisk(r.tm, 0, spacemap.ToolsLayout); err != nil {
		return nil, err
	}
	r.details = btree.Info{TM: r.tm, Levels: 1, VT: btree.ValueType{Size: DetailsSize}, SplitOnly: true}
	r.top = btree.Info{TM: r.tm, Levels: 1, VT: btree.ValueType{Size: 8}, SplitOnly: true}
	r.sub = r.top
	r.cur.Info = &r.sub
	for _, t := range []struct {
		info *btree.Info
		root *uint64
	}{{&r.details, &r.detailsRoot}, {&r.top, &r.root}, {&r.sub, &r.empty}} {
		if *t.root, err = btree.Empty(t.info); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// BeginSuperblock sets the superblock fields and sizes the data space map.
func (r *Restorer) BeginSuperblock(h PoolHeader) error {
	r.hdr = h
	return r.dataSM.Extend(h.NrDataBlocks)
}

// BeginDevice starts device id, EEXIST if it was restored already.
func (r *Restorer) BeginDevice(id uint64, d DeviceDetails) error {
	if btree.Lookup(&r.details, r.detailsRoot, []uint64{id}, nil) == nil {
		return linuxerr.EEXIST
	}
	// The device's subtree is a clone of the shared empty leaf; the first
	// insert copies it.
	if err := r.tm.Inc(r.empty); err != nil {
		return err
	}
	d.MappedBlocks = 0
	r.inDevice, r.dev, r.devRoot, r.devInfo = true, id, r.empty, d
	return nil
}

// Map maps vblock of the current device to dataBlock (which must lie in
// the data space map) at time.
func (r *Restorer) Map(vblock, dataBlock uint64, time uint32) error {
	if !r.inDevice {
		return linuxerr.EINVAL
	}
	v := r.val[:] // a local array would escape to the heap
	le.PutUint64(v, PackBlockTime(dataBlock, time&(1<<24-1)))
	if r.general {
		nr, inserted, err := btree.Insert(&r.sub, r.devRoot, []uint64{vblock}, v)
		if err != nil {
			return err
		}
		r.devRoot = nr
		if inserted {
			r.devInfo.MappedBlocks++
		}
		return r.dataSM.IncBlocks(dataBlock, dataBlock+1)
	}
	nr, inserted, err := r.cur.Insert(r.devRoot, vblock, v)
	if err != nil {
		return err
	}
	r.devRoot = nr
	if inserted {
		r.devInfo.MappedBlocks++
	}
	return r.dataSM.RestoreInc(dataBlock)
}

// EndDevice adds the current device's details and subtree.
func (r *Restorer) EndDevice() error {
	if !r.inDevice {
		return nil
	}
	r.inDevice = false
	r.cur.Release()
	key := []uint64{r.dev}
	var v [DetailsSize]byte
	r.devInfo.Encode(v[:])
	nr, _, err := btree.Insert(&r.details, r.detailsRoot, key, v[:])
	if err != nil {
		return err
	}
	r.detailsRoot = nr
	if nr, _, err = btree.Insert(&r.top, r.root, key, le64(r.devRoot)); err != nil {
		return err
	}
	r.root = nr
	return nil
}

// Close writes what is cached (after a failure: the superblock is not
// written, as when thin_restore gives up).
func (r *Restorer) Close() error {
	r.cur.Release()
	err := r.dataSM.RestoreDone()
	if err2 := r.bm.Close(); err == nil {
		err = err2
	}
	return err
}

// Commit writes the superblock: the commit point.
func (r *Restorer) Commit() error {
	// The emitter drops its own reference to the empty leaf only after
	// the commit (in its destructor), updating the bitmap in place: an
	// unused leaf ends up free in the bitmap but counted in nr_allocated
	// and the index entry ("one too high", docs/metadata-format.md §3). A leaf
	// still in use simply loses one reference.
	r.cur.Release()
	if err := r.dataSM.RestoreDone(); err != nil {
		return err
	}
	c, err := r.tm.Ref(r.empty)
	if err != nil {
		return err
	}
	if c > 1 {
		if err := r.tm.Dec(r.empty); err != nil {
			return err
		}
	}
	if err := r.dataSM.Commit(); err != nil {
		return err
	}
	if err := r.tm.PreCommit(); err != nil {
		return err
	}
	sv := &sbValidator{}
	b, err := r.bm.WriteLockZero(SuperblockLocation, sv)
	if err != nil {
		return err
	}
	s := Superblock{
		Flags: r.hdr.Flags, UUID: r.hdr.UUID, Magic: SuperblockMagic, Version: r.hdr.Version,
		Time: r.hdr.Time, TransID: r.hdr.TransID, HeldRoot: r.hdr.HeldRoot,
		DataMappingRoot: r.root, DeviceDetailsRoot: r.detailsRoot,
		DataBlockSize: r.hdr.DataBlockSize, MetadataBlockSize: MetadataBlockSectors,
		MetadataNrBlocks: r.metaSM.NrBlocks(),
	}
	r.dataSM.Root().Encode(s.DataSMRoot[:])
	r.metaSM.Root().Encode(s.MetadataSMRoot[:])
	s.Encode(b.Data())
	if err := r.tm.Commit(b); err != nil {
		return err
	}
	if c == 1 {
		if err := r.freeEmptyLeaf(); err != nil {
			return err
		}
	}
	return r.bm.Close()
}

// freeEmptyLeaf clears the shared empty leaf's bitmap entry in place.
func (r *Restorer) freeEmptyLeaf() error {
	idx, err := r.bm.ReadLock(r.metaSM.Root().BitmapRoot, spacemap.IndexValidator)
	if err != nil {
		return err
	}
	ie := spacemap.DecodeIndexEntry(idx.Data()[16+16*(r.empty/spacemap.EntriesPerBlock):])
	r.bm.Unlock(idx)
	bm, err := r.bm.WriteLock(ie.Blocknr, spacemap.BitmapValidator)
	if err != nil {
		return err
	}
	spacemap.BitmapSet(bm.Data(), r.empty%spacemap.EntriesPerBlock, 0)
	r.bm.Unlock(bm)
	return nil
}

// restoreCacheBytes bounds a Restorer's block cache: the right edges of
// the trees, the data space map's bitmaps a scattered pool touches (one
// per 16,320 data blocks) and its index.
const restoreCacheBytes = 16 << 20
