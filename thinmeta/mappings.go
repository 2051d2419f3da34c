// dm-thin-metadata.c, mappings: dm_thin_find_block() to dm_thin_remove_range(), highest, mapped count, shared.

package thinmeta

import (
	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/persistent-data/btree"
)

func (td *ThinDevice) unpack(v uint64) LookupResult {
	b, t := UnpackBlockTime(v)
	// __snapshotted_since(): a mapping older than the device's last
	// snapshot may be shared.
	return LookupResult{Block: b, Shared: td.snapshottedTime > t}
}

func (td *ThinDevice) findBlock(block uint64) (LookupResult, error) {
	return td.findBlockIn(&td.pmd.info, block)
}

// findBlockIn is __find_block() with the given btree info (pmd->info or
// pmd->nb_info).
func (td *ThinDevice) findBlockIn(info *btree.Info, block uint64) (LookupResult, error) {
	var v [8]byte
	pmd := td.pmd
	tl, bl := &pmd.tlInfo, &pmd.blInfo
	if info == &pmd.nbInfo {
		tl, bl = &pmd.nbTLInfo, &pmd.nbBLInfo
	}
	root, err := td.mappingRoot(tl)
	if err != nil {
		return LookupResult{}, linuxerr.Of(err)
	}
	if td.leaf != 0 && td.leafGen == pmd.mapGen {
		if ok, err := btree.LookupInLeaf(bl, td.leaf, block, v[:]); ok {
			if err != nil {
				return LookupResult{}, linuxerr.Of(err)
			}
			return td.unpack(le.Uint64(v[:])), nil
		}
	}
	leaf, err := btree.LookupLeaf(bl, root, block, v[:])
	if err != nil {
		return LookupResult{}, linuxerr.Of(err)
	}
	td.leaf, td.leafGen = leaf, pmd.mapGen
	return td.unpack(le.Uint64(v[:])), nil
}

// mappingRoot is the first level of dm_btree_lookup() on the two-level
// mapping tree: the device's own tree, from the top-level tree. The answer
// is kept until the next change to the metadata (pmd.mapGen moves on every
// write-locked call, transaction begin, reopen and snapshot release), so a
// lookup in a pool of many devices walks one tree, not two. pmd.mu held.
func (td *ThinDevice) mappingRoot(tl *btree.Info) (uint64, error) {
	pmd := td.pmd
	if td.rootOK && td.rootGen == pmd.mapGen {
		return td.root, nil
	}
	var v [8]byte
	if err := btree.Lookup(tl, pmd.root, []uint64{uint64(td.id)}, v[:]); err != nil {
		return 0, err
	}
	td.root, td.rootGen, td.rootOK = le.Uint64(v[:]), pmd.mapGen, true
	return td.root, nil
}

// FindBlock is dm_thin_find_block(): ENODATA when unmapped. Without
// canIssueIO the lookup uses only cached metadata blocks, failing with
// EWOULDBLOCK (EAGAIN) when it would have to read one (thin_bio_map()
// then defers the bio to the worker).
func (td *ThinDevice) FindBlock(block uint64, canIssueIO bool) (LookupResult, error) {
	td.pmd.mu.Lock()
	defer td.pmd.mu.Unlock()
	if td.pmd.failIO {
		return LookupResult{}, linuxerr.EINVAL
	}
	if !canIssueIO {
		return td.findBlockIn(&td.pmd.nbInfo, block)
	}
	return td.findBlock(block)
}

// FindMappedRange is dm_thin_find_mapped_range(): the first run of mapped
// blocks in [begin, end) with consecutive data blocks and one shared flag.
func (td *ThinDevice) FindMappedRange(begin, end uint64) (thinBegin, thinEnd, poolBegin uint64, maybeShared bool, err error) {
	pmd := td.pmd
	pmd.mu.Lock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return 0, 0, 0, false, linuxerr.EINVAL
	}
	if end < begin {
		return 0, 0, 0, false, linuxerr.ENODATA
	}
	var v [8]byte
	begin, err = btree.LookupNext(&pmd.info, pmd.root, []uint64{uint64(td.id), begin}, v[:])
	if err != nil {
		return 0, 0, 0, false, linuxerr.Of(err)
	}
	if begin >= end {
		return 0, 0, 0, false, linuxerr.ENODATA
	}
	first := td.unpack(le.Uint64(v[:]))
	thinBegin, poolBegin, maybeShared = begin, first.Block, first.Shared
	begin++
	poolEnd := poolBegin + 1
	for begin != end {
		r, err := td.findBlock(begin)
		if err == linuxerr.ENODATA {
			break
		}
		if err != nil {
			return 0, 0, 0, false, err
		}
		if r.Block != poolEnd || r.Shared != maybeShared {
			break
		}
		poolEnd++
		begin++
	}
	return thinBegin, begin, poolBegin, maybeShared, nil
}

// InsertBlock is dm_thin_insert_block(): map block to dataBlock at the
// current time.
func (td *ThinDevice) InsertBlock(block, dataBlock uint64) error {
	pmd := td.pmd
	pmd.writeLock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return linuxerr.EINVAL
	}
	nr, inserted, err := btree.Insert(&pmd.info, pmd.root, []uint64{uint64(td.id), block}, le64(PackBlockTime(dataBlock, pmd.time)))
	if err != nil {
		return linuxerr.Of(err)
	}
	pmd.root = nr
	td.changed = true
	if inserted {
		td.mappedBlocks++
	}
	return nil
}

// removeRange is __remove_range(): the subtree is detached from the top
// level (with an extra reference so it survives), trimmed, and put back.
func (td *ThinDevice) removeRange(begin, end uint64) error {
	pmd := td.pmd
	key := []uint64{uint64(td.id)}
	var v [8]byte
	if err := btree.Lookup(&pmd.tlInfo, pmd.root, key, v[:]); err != nil {
		return err
	}
	mappingRoot := le.Uint64(v[:])
	pmd.tm.Inc(mappingRoot)
	nr, err := btree.Remove(&pmd.tlInfo, pmd.root, key)
	if err != nil {
		return err
	}
	pmd.root = nr
	total := 0
	for begin < end {
		k, err := btree.LookupNext(&pmd.blInfo, mappingRoot, []uint64{begin}, v[:])
		if err == linuxerr.ENODATA {
			break
		}
		if err != nil {
			return err
		}
		begin = k
		if begin >= end {
			break
		}
		keys := []uint64{begin}
		nr, count, err := btree.RemoveLeaves(&pmd.blInfo, mappingRoot, keys, end)
		mappingRoot = nr
		if err != nil {
			return err
		}
		begin = keys[0]
		total += count
	}
	td.mappedBlocks -= uint64(total)
	td.changed = true
	nr, _, err = btree.Insert(&pmd.tlInfo, pmd.root, key, le64(mappingRoot))
	if err != nil {
		return err
	}
	pmd.root = nr
	return nil
}

// RemoveBlock is dm_thin_remove_block().
func (td *ThinDevice) RemoveBlock(block uint64) error {
	pmd := td.pmd
	pmd.writeLock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return linuxerr.EINVAL
	}
	nr, err := btree.Remove(&pmd.info, pmd.root, []uint64{uint64(td.id), block})
	if err != nil {
		return linuxerr.Of(err)
	}
	pmd.root = nr
	td.mappedBlocks--
	td.changed = true
	return nil
}

// RemoveRange is dm_thin_remove_range(): unmap every mapped block in
// [begin, end).
func (td *ThinDevice) RemoveRange(begin, end uint64) error {
	pmd := td.pmd
	pmd.writeLock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return linuxerr.EINVAL
	}
	return linuxerr.Of(td.removeRange(begin, end))
}

// BlockIsShared is dm_pool_block_is_shared(): the data block's count > 1.
func (pmd *PoolMetadata) BlockIsShared(b uint64) (bool, error) {
	pmd.mu.Lock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return false, linuxerr.EINVAL
	}
	c, err := pmd.dataSM.GetCount(b)
	return c > 1, linuxerr.Of(err)
}

// MappedCount is dm_thin_get_mapped_count().
func (td *ThinDevice) MappedCount() (uint64, error) {
	td.pmd.mu.Lock()
	defer td.pmd.mu.Unlock()
	if td.pmd.failIO {
		return 0, linuxerr.EINVAL
	}
	return td.mappedBlocks, nil
}

// HighestMappedBlock is dm_thin_get_highest_mapped_block(); ok is false when
// nothing is mapped.
func (td *ThinDevice) HighestMappedBlock() (highest uint64, ok bool, err error) {
	pmd := td.pmd
	pmd.mu.Lock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return 0, false, linuxerr.EINVAL
	}
	var v [8]byte
	if err := btree.Lookup(&pmd.tlInfo, pmd.root, []uint64{uint64(td.id)}, v[:]); err != nil {
		return 0, false, linuxerr.Of(err)
	}
	keys := make([]uint64, 1)
	n, err := btree.FindKey(&pmd.blInfo, le.Uint64(v[:]), true, keys)
	if err != nil {
		return 0, false, linuxerr.Of(err)
	}
	return keys[0], n > 0, nil
}
