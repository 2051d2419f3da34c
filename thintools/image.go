package thintools

// A metadata device as the tools see it: thinmeta's reader (the on-disk
// format lives there), with 0.9.0's texts for what it finds.

import (
	"errors"
	"fmt"

	"github.com/dmsim/dmsim/persistent-data/block"
	"github.com/dmsim/dmsim/persistent-data/btree"
	"github.com/dmsim/dmsim/thinmeta"
)

const blockSize = block.Size

// toolError is a message the 0.9.0 tools print as is (a C++ exception's
// what()).
type toolError string

func (e toolError) Error() string { return string(e) }

func errorf(format string, a ...any) error { return toolError(fmt.Sprintf(format, a...)) }

// image is a metadata device opened by a tool.
type image struct {
	*thinmeta.Image
	dev Device
}

func newImage(dev Device) *image { return &image{thinmeta.NewImage(dev), dev} }

func (im *image) close() { closeDev(im.dev) }

// toolText turns what thinmeta found into the 0.9.0 message: its block
// validators' and node checker's texts.
func toolText(err error) error {
	var be *thinmeta.BlockError
	var nf *thinmeta.NodeFault
	switch {
	case errors.As(err, &be):
		b := be.Block
		switch be.Fault {
		case thinmeta.OutOfBounds:
			return errorf("block out of bounds (%d >= %d)", b, be.NrBlocks)
		case thinmeta.ReadFailed:
			return errorf("couldn't read block %d", b)
		}
		csum := be.Fault == thinmeta.BadChecksum
		switch be.Kind {
		case thinmeta.SuperblockBlock:
			return errorf("bad checksum in superblock, wanted %d", be.Want)
		case thinmeta.NodeBlock:
			if csum {
				return errorf("bad checksum in btree node (block %d)", b)
			}
			return errorf("bad block nr in btree node (block = %d)", b)
		case thinmeta.BitmapBlock:
			if csum {
				return errorf("bad checksum in space map bitmap (block %d)", b)
			}
			return errorf("bad block nr in space map bitmap (block %d)", b)
		default:
			if csum {
				return errorf("bad checksum in metadata index block (block %d)", b)
			}
			return errorf("bad block nr in metadata index block (block %d)", b)
		}
	case errors.As(err, &nf):
		b := nf.Block
		switch nf.Kind {
		case thinmeta.FaultValueSize:
			return errorf("value size mismatch: expected %d, but got %d (block %d).", nf.A, nf.B, b)
		case thinmeta.FaultMaxTooLarge:
			return errorf("max entries too large: %d (block %d)", nf.A, b)
		case thinmeta.FaultMaxNotDiv3:
			return errorf("max entries is not divisible by 3: %d (block %d)", nf.A, b)
		case thinmeta.FaultTooMany:
			return errorf("bad nr_entries: %d < %d (block %d)", nf.A, nf.B, b)
		case thinmeta.FaultTooFew:
			return errorf("too few entries in btree_node: %d, expected at least %d (block %d, max_entries = %d)", nf.A, nf.B/3, b, nf.B)
		case thinmeta.FaultKeyOrder:
			return errorf("keys are out of order, %d <= %d (block %d)", nf.A, nf.B, b)
		case thinmeta.FaultParentKey:
			return errorf("parent key mismatch: parent was %d, but lowest in node was %d (block %d)", nf.A, nf.B, b)
		default:
			return errorf("the last key of the previous leaf was %d and the first key of this leaf is %d (block %d)", nf.A, nf.B, b)
		}
	}
	return err
}

// superblock reads a superblock (checksum only).
func (im *image) superblock(loc uint64) (*thinmeta.Superblock, error) {
	sb, err := im.Superblock(loc)
	if err != nil {
		return nil, toolText(err)
	}
	return &sb, nil
}

// node reads and validates a btree node.
func (im *image) node(b uint64) (btree.Node, error) {
	n, err := im.Node(b)
	return n, toolText(err)
}

// openMetadata is the 0.9.0 metadata constructor: the live superblock, or
// with snap the metadata snapshot (snapLoc, when given, must match the one
// the live superblock records).
func (im *image) openMetadata(snap bool, snapLoc *uint64) (*thinmeta.Superblock, error) {
	if im.NrBlocks < 1 {
		return nil, toolError("Metadata is not large enough for superblock.")
	}
	sb, err := im.superblock(0)
	if err != nil || !snap {
		return sb, err
	}
	if sb.HeldRoot == 0 {
		return nil, toolError("no current metadata snap")
	}
	if snapLoc != nil && *snapLoc != sb.HeldRoot {
		return nil, toolError("metadata snapshot does not match that in superblock")
	}
	return im.superblock(sb.HeldRoot)
}

// dataNrBlocks is the data space map's size as the tools report it: 0
// unless the superblock is the live one (blocknr 0).
func dataNrBlocks(sb *thinmeta.Superblock) uint64 {
	if sb.Blocknr != 0 {
		return 0
	}
	return sb.DataSpaceMap().NrBlocks
}
