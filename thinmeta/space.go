// dm-thin-metadata.c, space: data block allocation, inc/dec data ranges, free counts, resizes, thresholds.

package thinmeta

import (
	"github.com/dmsim/dmsim/linuxerr"
)

// IncDataRange is dm_pool_inc_data_range().
func (pmd *PoolMetadata) IncDataRange(b, e uint64) error {
	pmd.writeLock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return linuxerr.EINVAL
	}
	return linuxerr.Of(pmd.dataSM.IncBlocks(b, e))
}

// DecDataRange is dm_pool_dec_data_range().
func (pmd *PoolMetadata) DecDataRange(b, e uint64) error {
	pmd.writeLock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return linuxerr.EINVAL
	}
	return linuxerr.Of(pmd.dataSM.DecBlocks(b, e))
}

// AllocDataBlock is dm_pool_alloc_data_block().
func (pmd *PoolMetadata) AllocDataBlock() (uint64, error) {
	pmd.writeLock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return 0, linuxerr.EINVAL
	}
	b, err := pmd.dataSM.NewBlock()
	return b, linuxerr.Of(err)
}

// FreeBlockCount is dm_pool_get_free_block_count() (data).
func (pmd *PoolMetadata) FreeBlockCount() (uint64, error) {
	pmd.mu.Lock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return 0, linuxerr.EINVAL
	}
	return pmd.dataSM.NrFree(), nil
}

// FreeMetadataBlockCount is dm_pool_get_free_metadata_block_count(): the
// free count less the reserve.
func (pmd *PoolMetadata) FreeMetadataBlockCount() (uint64, error) {
	pmd.mu.Lock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return 0, linuxerr.EINVAL
	}
	f := pmd.metaSM.NrFree()
	if f < pmd.reserve {
		return 0, nil
	}
	return f - pmd.reserve, nil
}

// MetadataReserve is the metadata reserve (min(4096, blocks/10)).
func (pmd *PoolMetadata) MetadataReserve() uint64 {
	pmd.mu.Lock()
	defer pmd.mu.Unlock()
	return pmd.reserve
}

// UsedMetadataBlocks is what the pool status line prints as used
// metadata: total less the free count beyond the reserve.
func (pmd *PoolMetadata) UsedMetadataBlocks() (uint64, error) {
	free, err := pmd.FreeMetadataBlockCount()
	if err != nil {
		return 0, err
	}
	total, err := pmd.MetadataDevSize()
	if err != nil {
		return 0, err
	}
	return total - free, nil
}

// MetadataDevSize is dm_pool_get_metadata_dev_size() (blocks).
func (pmd *PoolMetadata) MetadataDevSize() (uint64, error) {
	pmd.mu.Lock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return 0, linuxerr.EINVAL
	}
	return pmd.metaSM.NrBlocks(), nil
}

// DataBlockSize is the data block size in sectors.
func (pmd *PoolMetadata) DataBlockSize() uint64 {
	pmd.mu.Lock()
	defer pmd.mu.Unlock()
	return pmd.dataBlockSize
}

// DataDevSize is dm_pool_get_data_dev_size() (blocks).
func (pmd *PoolMetadata) DataDevSize() (uint64, error) {
	pmd.mu.Lock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return 0, linuxerr.EINVAL
	}
	return pmd.dataSM.NrBlocks(), nil
}

func (pmd *PoolMetadata) resizeSpaceMap(old, new uint64, extend func(uint64) error) error {
	if new == old {
		return nil
	}
	if new < old {
		pmd.logf(LogErr, "cannot reduce size of space map")
		return linuxerr.EINVAL
	}
	return linuxerr.Of(extend(new - old))
}

// ResizeDataDev is dm_pool_resize_data_dev() (new size in data blocks).
func (pmd *PoolMetadata) ResizeDataDev(newCount uint64) error {
	pmd.writeLock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return linuxerr.EINVAL
	}
	return pmd.resizeSpaceMap(pmd.dataSM.NrBlocks(), newCount, pmd.dataSM.Extend)
}

// ResizeMetadataDev is dm_pool_resize_metadata_dev() (new size in metadata
// blocks); the reserve is recomputed.
func (pmd *PoolMetadata) ResizeMetadataDev(newCount uint64) error {
	pmd.writeLock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return linuxerr.EINVAL
	}
	err := pmd.resizeSpaceMap(pmd.metaSM.NrBlocks(), newCount, pmd.metaSM.Extend)
	if err == nil {
		pmd.setMetadataReserve()
	}
	return err
}

// RegisterMetadataThreshold is dm_pool_register_metadata_threshold(): fn runs
// (edge triggered) when an allocation leaves at most threshold free
// metadata blocks. fn is called with the metadata lock held: it must not
// call back into the PoolMetadata.
func (pmd *PoolMetadata) RegisterMetadataThreshold(threshold uint64, fn func()) error {
	pmd.mu.Lock()
	defer pmd.mu.Unlock()
	if pmd.failIO {
		return linuxerr.EINVAL
	}
	pmd.thresholdSet, pmd.threshold, pmd.thresholdFn = true, threshold, fn
	pmd.metaSM.RegisterThreshold(threshold, fn)
	return nil
}
