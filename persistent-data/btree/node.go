// Package btree is dmsim's copy-on-write btree
// (drivers/md/persistent-data/dm-btree*.c). Split, merge and redistribution
// follow the kernel step by step so that block allocation, and therefore
// every metadata block count, matches the kernel's.
package btree

import (
	"encoding/binary"
	"fmt"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/persistent-data/block"
	"github.com/dmsim/dmsim/persistent-data/transaction"
)

// Node flags.
const (
	InternalNode = 1
	LeafNode     = 2
)

// HeaderSize is sizeof(struct node_header).
const HeaderSize = 32

// CsumXor is BTREE_CSUM_XOR.
const CsumXor = 121107

var le = binary.LittleEndian

// Node is a view of a btree node block.
type Node []byte

func (n Node) Flags() uint32          { return le.Uint32(n[4:]) }
func (n Node) SetFlags(f uint32)      { le.PutUint32(n[4:], f) }
func (n Node) NrEntries() int         { return int(le.Uint32(n[16:])) }
func (n Node) setNr(v int)            { le.PutUint32(n[16:], uint32(v)) }
func (n Node) MaxEntries() int        { return int(le.Uint32(n[20:])) }
func (n Node) setMax(v int)           { le.PutUint32(n[20:], uint32(v)) }
func (n Node) ValueSize() int         { return int(le.Uint32(n[24:])) }
func (n Node) setValueSize(v int)     { le.PutUint32(n[24:], uint32(v)) }
func (n Node) IsLeaf() bool           { return n.Flags()&LeafNode != 0 }
func (n Node) IsInternal() bool       { return n.Flags()&InternalNode != 0 }
func (n Node) Key(i int) uint64       { return le.Uint64(n[HeaderSize+8*i:]) }
func (n Node) setKey(i int, k uint64) { le.PutUint64(n[HeaderSize+8*i:], k) }
func (n Node) valueOff(i int) int     { return HeaderSize + 8*n.MaxEntries() + i*n.ValueSize() }

// Value is the value bytes of entry i.
func (n Node) Value(i int) []byte {
	o := n.valueOff(i)
	return n[o : o+n.ValueSize()]
}

// values is the value bytes of entries [i, i+count).
func (n Node) values(i, count int) []byte {
	o := n.valueOff(i)
	return n[o : o+count*n.ValueSize()]
}

// Value64 is the u64 value of entry i (internal nodes, le64 leaves).
func (n Node) Value64(i int) uint64       { return le.Uint64(n[n.valueOff(i):]) }
func (n Node) setValue64(i int, v uint64) { le.PutUint64(n[n.valueOff(i):], v) }

// CalcMaxEntries is calc_max_entries(): a multiple of three.
func CalcMaxEntries(valueSize int) int {
	total := (block.Size - HeaderSize) / (8 + valueSize)
	return 3 * (total / 3)
}

// Validator is btree_node_validator (node_check() / node_prepare_for_write()).
var Validator block.Validator = &block.Std{Label: "btree_node", Xor: CsumXor, Extra: nodeCheck,
	Prefix: "btree spine", CheckName: "node_check failed"}

func nodeCheck(data []byte, loc uint64) error {
	n := Node(data)
	if HeaderSize+(8+n.ValueSize())*n.MaxEntries() > block.Size || n.ValueSize() > block.Size {
		return &block.CheckError{Validator: "btree_node", Block: loc, Msg: "node_check failed: max_entries too large", Errno: linuxerr.EILSEQ}
	}
	if n.NrEntries() > n.MaxEntries() {
		return &block.CheckError{Validator: "btree_node", Block: loc, Msg: "node_check failed: too many entries", Errno: linuxerr.EILSEQ}
	}
	if f := n.Flags(); f&InternalNode == 0 && f&LeafNode == 0 {
		return &block.CheckError{Validator: "btree_node", Block: loc, Msg: "node_check failed: node is neither INTERNAL or LEAF", Errno: linuxerr.EILSEQ}
	}
	return nil
}

// ValueType describes leaf values (struct dm_btree_value_type). Inc and Dec
// take count consecutive values; any may be nil.
type ValueType struct {
	Size  int
	Inc   func(values []byte, count int)
	Dec   func(values []byte, count int)
	Equal func(a, b []byte) bool
}

// Info describes a btree (struct dm_btree_info).
type Info struct {
	TM     *transaction.Manager
	Levels int
	VT     ValueType
	// SplitOnly makes Insert split a full non-root node in two instead of
	// rebalancing it with a sibling, as thin-provisioning-tools' btree
	// (used by thin_restore) does. The kernel never sets it.
	SplitOnly bool
	// UnreadOriginals says that nothing reads the tree as it was at the
	// last commit while a transaction runs (true of the thin mapping and
	// details trees; not of the space maps' own trees, which the allocator
	// reads through the last commit's roots). A node freed by its shadow
	// then gives its cache buffer to the copy
	// (transaction.Manager.ShadowUnreadBlock).
	UnreadOriginals bool
	warm            uint64 // warmKeys' result, so that its reads stay
}

func values64(v []byte, count int) []uint64 {
	out := make([]uint64, count)
	for i := range out {
		out[i] = le.Uint64(v[8*i:])
	}
	return out
}

// Le64Type is init_le64_type(): values are block numbers in tm, counted
// with runs.
func Le64Type(tm *transaction.Manager) ValueType {
	return ValueType{
		Size: 8,
		Inc: func(v []byte, count int) {
			transaction.WithRuns(values64(v, count), tm.IncRange)
		},
		Dec: func(v []byte, count int) {
			transaction.WithRuns(values64(v, count), tm.DecRange)
		},
		Equal: func(a, b []byte) bool { return le.Uint64(a) == le.Uint64(b) },
	}
}

// bsearch finds key; want_hi selects upper_bound semantics.
func bsearch(n Node, key uint64, wantHi bool) int {
	lo, hi := -1, n.NrEntries()
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		mk := n.Key(mid)
		if mk == key {
			return mid
		}
		if mk < key {
			lo = mid
		} else {
			hi = mid
		}
	}
	if wantHi {
		return hi
	}
	return lo
}

// LowerBound is lower_bound(): index of the largest key <= key, or -1.
func LowerBound(n Node, key uint64) int { return bsearch(n, key, false) }

func upperBound(n Node, key uint64) int { return bsearch(n, key, true) }

func incChildren(tm *transaction.Manager, n Node, vt *ValueType) {
	nr := n.NrEntries()
	if n.IsInternal() {
		transaction.WithRuns(values64(n.values(0, nr), nr), tm.IncRange)
	} else if vt.Inc != nil {
		vt.Inc(n.values(0, nr), nr)
	}
}

func insertAt(valueSize int, n Node, index int, key uint64, value []byte) error {
	nr, max := n.NrEntries(), n.MaxEntries()
	if index > nr || index >= max || nr >= max {
		return fmt.Errorf("too many entries in btree node for insert: %w", linuxerr.ENOMEM)
	}
	ko := HeaderSize + 8*index
	copy(n[ko+8:HeaderSize+8*(nr+1)], n[ko:HeaderSize+8*nr])
	le.PutUint64(n[ko:], key)
	vo := HeaderSize + 8*max
	copy(n[vo+(index+1)*valueSize:vo+(nr+1)*valueSize], n[vo+index*valueSize:vo+nr*valueSize])
	copy(n[vo+index*valueSize:vo+(index+1)*valueSize], value)
	n.setNr(nr + 1)
	return nil
}

// copyEntries copies count entries of src at srcOff to dest at destOff.
func copyEntries(dest Node, destOff int, src Node, srcOff, count int) {
	copy(dest[HeaderSize+8*destOff:HeaderSize+8*(destOff+count)], src[HeaderSize+8*srcOff:HeaderSize+8*(srcOff+count)])
	vs := dest.ValueSize()
	do, so := dest.valueOff(destOff), src.valueOff(srcOff)
	copy(dest[do:do+count*vs], src[so:so+count*vs])
}

// moveEntries is copyEntries for possibly overlapping regions (Go's copy
// handles overlap).
func moveEntries(dest Node, destOff int, src Node, srcOff, count int) {
	copyEntries(dest, destOff, src, srcOff, count)
}

func shiftDown(n Node, count int) { moveEntries(n, 0, n, count, n.NrEntries()-count) }
func shiftUp(n Node, count int)   { moveEntries(n, count, n, 0, n.NrEntries()) }

// maxDepth bounds every descent: a damaged tree with a cycle gives an
// error instead of a hang.
const maxDepth = 64

func errDepth() error { return fmt.Errorf("btree too deep (damaged metadata?): %w", linuxerr.EILSEQ) }

// checkNode makes sure a node read from disk has the layout its tree
// expects (the value size of its kind and the matching max_entries), so
// that damaged metadata gives an error rather than out-of-range accesses.
func checkNode(n Node, loc uint64, leafSize int) error {
	vs := leafSize
	if n.IsInternal() {
		vs = 8
	}
	if n.ValueSize() != vs || n.MaxEntries() != CalcMaxEntries(vs) {
		return &block.CheckError{Validator: "btree_node", Block: loc,
			Msg: fmt.Sprintf("node has value_size %d and max_entries %d, expected %d and %d", n.ValueSize(), n.MaxEntries(), vs, CalcMaxEntries(vs)), Errno: linuxerr.EILSEQ}
	}
	return nil
}

// readNode read-locks a node and checks its layout.
func readNode(info *Info, b uint64, leafSize int) (*block.Block, error) {
	blk, err := bnReadLock(info, b)
	if err != nil {
		return nil, err
	}
	if err := checkNode(Node(blk.Data()), b, leafSize); err != nil {
		unlock(info, blk)
		return nil, err
	}
	return blk, nil
}

// lock helpers

func bnReadLock(info *Info, b uint64) (*block.Block, error) {
	return info.TM.ReadLock(b, Validator)
}

func newBlock(info *Info) (*block.Block, error) { return info.TM.NewBlock(Validator) }

func unlock(info *Info, b *block.Block) { info.TM.Unlock(b) }

// shadowNode is dm_tm_shadow_block() for a node of info's tree.
func shadowNode(info *Info, orig uint64) (*block.Block, bool, error) {
	if info.UnreadOriginals {
		return info.TM.ShadowUnreadBlock(orig, Validator)
	}
	return info.TM.ShadowBlock(orig, Validator)
}

// warmKeys reads the keys at every sixteenth of n, all at once. A node
// just shadowed from the last transaction has long left the CPU cache; its
// search would wait for memory once per probe, one probe after the other,
// where these independent reads wait together, and leave the search a few
// lines to fetch. It returns what it read, for Info.warm.
func warmKeys(n Node) uint64 {
	nr := min(n.NrEntries(), n.MaxEntries())
	var x uint64
	for i := 1; i < 16; i++ {
		x ^= n.Key(nr * i / 16)
	}
	return x
}

func bnShadow(info *Info, orig uint64, vt *ValueType) (*block.Block, error) {
	b, inc, err := shadowNode(info, orig)
	if err == nil {
		if err = checkNode(Node(b.Data()), orig, vt.Size); err != nil {
			unlock(info, b)
			return nil, err
		}
		if b.Location() != orig {
			info.warm += warmKeys(Node(b.Data()))
		}
	}
	if err == nil && inc {
		incChildren(info.TM, Node(b.Data()), vt)
	}
	return b, err
}

// roSpine holds at most two read locks while walking down (ro_spine).
type roSpine struct {
	info  *Info
	count int
	nodes [2]*block.Block
}

func (s *roSpine) step(b uint64, leafSize int) error {
	if s.count == 2 {
		unlock(s.info, s.nodes[0])
		s.nodes[0] = s.nodes[1]
		s.count--
	}
	blk, err := readNode(s.info, b, leafSize)
	if err != nil {
		return err
	}
	s.nodes[s.count] = blk
	s.count++
	return nil
}

func (s *roSpine) node() Node { return Node(s.nodes[s.count-1].Data()) }

func (s *roSpine) exit() {
	for i := 0; i < s.count; i++ {
		unlock(s.info, s.nodes[i])
	}
	s.count = 0
}

// shadowSpine holds at most two write locks (shadow_spine).
type shadowSpine struct {
	info  *Info
	count int
	nodes [2]*block.Block
	root  uint64
}

func (s *shadowSpine) step(b uint64, vt *ValueType) error {
	if s.count == 2 {
		unlock(s.info, s.nodes[0])
		s.nodes[0] = s.nodes[1]
		s.count--
	}
	blk, err := bnShadow(s.info, b, vt)
	if err != nil {
		return err
	}
	if s.count == 0 {
		s.root = blk.Location()
	}
	s.nodes[s.count] = blk
	s.count++
	return nil
}

func (s *shadowSpine) current() *block.Block { return s.nodes[s.count-1] }
func (s *shadowSpine) parent() *block.Block  { return s.nodes[0] }
func (s *shadowSpine) hasParent() bool       { return s.count >= 2 }

func (s *shadowSpine) exit() {
	for i := 0; i < s.count; i++ {
		unlock(s.info, s.nodes[i])
	}
	s.count = 0
}
