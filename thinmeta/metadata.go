// dm-thin-metadata.c, head: struct dm_pool_metadata, struct dm_thin_device and the btree value types.

package thinmeta

import (
	"fmt"
	"sync"

	"github.com/dmsim/dmsim/persistent-data/block"
	"github.com/dmsim/dmsim/persistent-data/btree"
	"github.com/dmsim/dmsim/persistent-data/spacemap"
	"github.com/dmsim/dmsim/persistent-data/transaction"
)

// Kernel log levels (printk) used with the Logger hook.
const (
	LogErr  = 3
	LogWarn = 4
	LogInfo = 6
)

// Logger receives kernel log lines the metadata code prints: the printk
// level and the full text ("device-mapper: thin metadata: ...").
type Logger func(level int, msg string)

// Options configures Open.
type Options struct {
	// Log receives kernel log lines; nil discards them.
	Log Logger
	// CacheBytes bounds the block cache (default: poolCacheBytes, from
	// 64 MiB to 160 MiB by the size of the metadata device).
	CacheBytes int64
	// ReadOnlyDevice is bdev_read_only(): compat_ro features are then
	// not checked and the block manager starts read-only.
	ReadOnlyDevice bool
}

// LookupResult is struct dm_thin_lookup_result.
type LookupResult struct {
	Block  uint64
	Shared bool
}

// PoolMetadata is struct dm_pool_metadata.
type PoolMetadata struct {
	mu   sync.Mutex
	log  Logger
	dev  block.Device
	bm   *block.Manager
	sb   *sbValidator
	opts Options

	metaSM *spacemap.Metadata
	dataSM *spacemap.Disk
	tm     *transaction.Manager

	info, tlInfo, blInfo, detailsInfo btree.Info
	// nbInfo is info over a non-blocking clone of tm: lookups that find a
	// block out of the cache fail with EWOULDBLOCK.
	nbInfo btree.Info
	// nbTLInfo and nbBLInfo are the top and bottom levels of nbInfo, for
	// lookups through a device's cached root.
	nbTLInfo, nbBLInfo btree.Info

	time        uint32
	root        uint64
	detailsRoot uint64
	// mapGen moves on whenever the mapping trees may change; it dates each
	// ThinDevice's cached root.
	mapGen        uint64
	devices       []*ThinDevice // list order: newest first, as list_add()
	transID       uint64
	flags         uint32
	dataBlockSize uint64

	preCommit func() error
	reserve   uint64
	failIO    bool
	inService bool

	thresholdSet bool
	threshold    uint64
	thresholdFn  func()
}

// ThinDevice is struct dm_thin_device.
type ThinDevice struct {
	pmd                *PoolMetadata
	id                 uint32
	openCount          int
	changed            bool
	abortedWithChanges bool
	mappedBlocks       uint64
	transactionID      uint64
	creationTime       uint32
	snapshottedTime    uint32

	// The device's mapping-tree root as the top-level tree held it when
	// pmd.mapGen was rootGen (valid only if rootOK). A cache of dmsim's: the
	// kernel looks the device up in the top-level tree on every lookup.
	root    uint64
	rootGen uint64
	rootOK  bool
	// leaf is the leaf of that tree the last lookup found its block in,
	// while pmd.mapGen is leafGen (0: none): a lookup near it reads that
	// node alone (btree.LookupInLeaf). A cache of dmsim's, as root is.
	leaf    uint64
	leafGen uint64
}

func (pmd *PoolMetadata) logf(level int, format string, a ...any) {
	if pmd.log != nil {
		pmd.log(level, "device-mapper: thin metadata: "+fmt.Sprintf(format, a...))
	}
}

func (pmd *PoolMetadata) setupBtreeDetails() {
	tm := pmd.tm
	dataSM := pmd.dataSM
	dataInc := func(v []byte, count int) {
		transaction.WithRuns(dataBlocks(v, count), dataSM.IncBlocks)
	}
	dataDec := func(v []byte, count int) {
		transaction.WithRuns(dataBlocks(v, count), dataSM.DecBlocks)
	}
	dataEqual := func(a, b []byte) bool {
		x, _ := UnpackBlockTime(le.Uint64(a))
		y, _ := UnpackBlockTime(le.Uint64(b))
		return x == y
	}
	pmd.mapGen++
	// Nothing reads the last commit's mapping and details trees while a
	// transaction runs (a metadata snapshot's blocks are shared, never
	// freed by a shadow): UnreadOriginals.
	pmd.info = btree.Info{TM: tm, Levels: 2, VT: btree.ValueType{Size: 8, Inc: dataInc, Dec: dataDec, Equal: dataEqual}, UnreadOriginals: true}
	pmd.nbInfo = pmd.info
	pmd.nbInfo.TM = tm.NonBlockingClone()
	pmd.blInfo = btree.Info{TM: tm, Levels: 1, VT: btree.ValueType{Size: 8, Inc: dataInc, Dec: dataDec, Equal: dataEqual}, UnreadOriginals: true}
	bl := &pmd.blInfo
	pmd.tlInfo = btree.Info{TM: tm, Levels: 1, VT: btree.ValueType{
		Size: 8,
		// subtree_inc() / subtree_dec() / subtree_equal()
		Inc: func(v []byte, count int) {
			for i := 0; i < count; i++ {
				tm.Inc(le.Uint64(v[8*i:]))
			}
		},
		Dec: func(v []byte, count int) {
			for i := 0; i < count; i++ {
				if err := btree.Del(bl, le.Uint64(v[8*i:])); err != nil {
					pmd.logf(LogErr, "btree delete failed")
				}
			}
		},
		Equal: func(a, b []byte) bool { return le.Uint64(a) == le.Uint64(b) },
	}, UnreadOriginals: true}
	pmd.nbTLInfo, pmd.nbBLInfo = pmd.tlInfo, pmd.blInfo
	pmd.nbTLInfo.TM, pmd.nbBLInfo.TM = pmd.nbInfo.TM, pmd.nbInfo.TM
	pmd.detailsInfo = btree.Info{TM: tm, Levels: 1, VT: btree.ValueType{Size: DetailsSize}, UnreadOriginals: true}
}

func dataBlocks(v []byte, count int) []uint64 {
	out := make([]uint64, count)
	for i := range out {
		out[i], _ = UnpackBlockTime(le.Uint64(v[8*i:]))
	}
	return out
}

func le64(v uint64) []byte {
	var b [8]byte
	le.PutUint64(b[:], v)
	return b[:]
}
