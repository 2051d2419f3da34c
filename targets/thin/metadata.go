package thin

import (
	"github.com/dmsim/dmsim/dmsim"
)

// Metadata is the part of dm-thin-metadata.h (struct dm_pool_metadata) the
// targets call. Methods are named after the kernel functions they stand for;
// errors carry an errno (a linuxerr.Errno).
type Metadata interface {
	Close() error // dm_pool_metadata_close: commits unless failed or read-only

	CreateThin(dev uint64) error                 // dm_pool_create_thin
	CreateSnap(dev, origin uint64) error         // dm_pool_create_snap
	DeleteThinDevice(dev uint64) error           // dm_pool_delete_thin_device
	CommitMetadata() error                       // dm_pool_commit_metadata
	AbortMetadata() error                        // dm_pool_abort_metadata
	SetTransactionID(current, next uint64) error // dm_pool_set_metadata_transaction_id
	TransactionID() (uint64, error)              // dm_pool_get_metadata_transaction_id
	ReserveMetadataSnap() error                  // dm_pool_reserve_metadata_snap
	ReleaseMetadataSnap() error                  // dm_pool_release_metadata_snap
	MetadataSnap() (uint64, error)               // dm_pool_get_metadata_snap (0: none)

	OpenThinDevice(dev uint64) (ThinDevice, error) // dm_pool_open_thin_device
	ChangedThisTransaction() bool                  // dm_pool_changed_this_transaction

	AllocDataBlock() (uint64, error)                             // dm_pool_alloc_data_block
	FreeBlockCount() (uint64, error)                             // dm_pool_get_free_block_count
	FreeMetadataBlockCount() (uint64, error)                     // dm_pool_get_free_metadata_block_count (reserve taken off)
	MetadataDevSize() (uint64, error)                            // dm_pool_get_metadata_dev_size
	DataDevSize() (uint64, error)                                // dm_pool_get_data_dev_size
	ResizeDataDev(blocks uint64) error                           // dm_pool_resize_data_dev
	ResizeMetadataDev(blocks uint64) error                       // dm_pool_resize_metadata_dev
	BlockIsShared(b uint64) (bool, error)                        // dm_pool_block_is_shared
	IncDataRange(begin, end uint64) error                        // dm_pool_inc_data_range
	DecDataRange(begin, end uint64) error                        // dm_pool_dec_data_range
	ReadOnly()                                                   // dm_pool_metadata_read_only
	ReadWrite()                                                  // dm_pool_metadata_read_write
	NeedsCheck() bool                                            // dm_pool_metadata_needs_check
	SetNeedsCheck() error                                        // dm_pool_metadata_set_needs_check
	IssuePrefetches()                                            // dm_pool_issue_prefetches
	RegisterMetadataThreshold(threshold uint64, fn func()) error // dm_pool_register_metadata_threshold
	RegisterPreCommitCallback(fn func() error)                   // dm_pool_register_pre_commit_callback
}

// LookupResult is struct dm_thin_lookup_result.
type LookupResult struct {
	Block  uint64
	Shared bool
}

// ThinDevice is struct dm_thin_device: one open thin device of a pool.
type ThinDevice interface {
	ID() uint64 // dm_thin_dev_id
	// FindBlock is dm_thin_find_block: ENODATA when unmapped; with
	// canIssueIO false it may answer EWOULDBLOCK instead of reading.
	FindBlock(block uint64, canIssueIO bool) (LookupResult, error)
	// FindMappedRange is dm_thin_find_mapped_range: the first run of
	// contiguously mapped blocks (virtually and physically) in [begin, end);
	// ENODATA when there is none.
	FindMappedRange(begin, end uint64) (thinBegin, thinEnd, poolBegin uint64, maybeShared bool, err error)
	InsertBlock(block, dataBlock uint64) error // dm_thin_insert_block
	RemoveRange(begin, end uint64) error       // dm_thin_remove_range
	ChangedThisTransaction() bool              // dm_thin_changed_this_transaction
	AbortedChanges() bool                      // dm_thin_aborted_changes
	MappedCount() (uint64, error)              // dm_thin_get_mapped_count
	// HighestMappedBlock is dm_thin_get_highest_mapped_block; ok is false
	// when nothing is mapped.
	HighestMappedBlock() (highest uint64, ok bool, err error)
	Close() error // dm_pool_close_thin_device
}

// OpenMetadata is dm_pool_metadata_open(bdev, data_block_size,
// format_device): it formats an all-zero device when format is true, and
// logs its own "thin metadata" lines to log. It is a variable so tests can
// run the targets on an in-memory fake.
var OpenMetadata func(k *dmsim.Kernel, bdev dmsim.BlockDevice, dataBlockSize uint32, format bool) (Metadata, error) = openThinmeta
