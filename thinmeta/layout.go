package thinmeta

// Where each metadata block of an image is and what it holds: the layout
// of a pool's metadata, for comparing dmsim's block placement with the
// kernel's (cmd/thin-blockdiff).

import (
	"bytes"
	"fmt"

	"github.com/dmsim/dmsim/persistent-data/block"
	"github.com/dmsim/dmsim/persistent-data/btree"
	"github.com/dmsim/dmsim/persistent-data/spacemap"
)

// Layout names the role of every block of an image reachable from the live
// superblock and from the metadata snapshot: "superblock", "held
// superblock", "details leaf", "mapping top leaf", "dev 3 mapping leaf",
// "data sm index internal", "data sm bitmap 0", "metadata sm index",
// "metadata sm bitmap 0", "metadata sm ref leaf" and so on. A block
// reached in several roles gets them all, joined with " + " (a node shared
// by the live tree and the snapshot; the blocks under it are walked, and
// named, once). Blocks reached from nowhere are
// named by what their contents validate as ("stale btree node"), "zero"
// when all zero, or "?".
func (im *Image) Layout() ([]string, error) {
	roles := make([]string, im.NrBlocks)
	add := func(b uint64, role string) bool {
		if b >= im.NrBlocks {
			return false
		}
		if roles[b] == "" {
			roles[b] = role
			return true
		}
		if !bytes.Contains([]byte(roles[b]), []byte(role)) {
			roles[b] += " + " + role
		}
		return false
	}
	tree := func(root uint64, name string, leaf func(btree.Node)) error {
		return im.WalkTree(root, func(v *NodeVisit) (bool, error) {
			if v.Err != nil {
				add(v.Block, name+" unreadable")
				return false, nil
			}
			kind := "leaf"
			if v.Node.IsInternal() {
				kind = "internal"
			}
			first := add(v.Block, name+" "+kind)
			if first && !v.Node.IsInternal() && leaf != nil && Sane(v.Node, 8) {
				leaf(v.Node)
			}
			return first, nil
		})
	}
	pool := func(s *Superblock, prefix string) error {
		if err := tree(s.DeviceDetailsRoot, prefix+"details", nil); err != nil {
			return err
		}
		var subErr error
		err := tree(s.DataMappingRoot, prefix+"mapping top", func(n btree.Node) {
			for i := 0; i < n.NrEntries() && subErr == nil; i++ {
				subErr = tree(n.Value64(i), fmt.Sprintf("%sdev %d mapping", prefix, n.Key(i)), nil)
			}
		})
		if err != nil {
			return err
		}
		return subErr
	}
	add(SuperblockLocation, "superblock")
	sb, err := im.Superblock(SuperblockLocation)
	if err != nil {
		return nil, err
	}
	if err := pool(&sb, ""); err != nil {
		return nil, err
	}
	if sb.HeldRoot != 0 {
		add(sb.HeldRoot, "held superblock")
		snap, err := im.Superblock(sb.HeldRoot)
		if err != nil {
			return nil, err
		}
		if err := pool(&snap, "held "); err != nil {
			return nil, err
		}
	}
	spaceMap := func(r spacemap.Root, metadata bool, name string) error {
		if metadata {
			add(r.BitmapRoot, name+" index")
		} else if err := tree(r.BitmapRoot, name+" index", nil); err != nil {
			return err
		}
		var seen BlockSet // a damaged index tree may loop
		s, err := im.ReadSpaceMap(r, metadata, func(b uint64) bool {
			if b >= im.NrBlocks {
				return true // its read fails (a set that large would not fit)
			}
			if seen.Has(b) {
				return false
			}
			seen.Add(b)
			return true
		})
		if err != nil {
			return err
		}
		for i, ie := range s.Entries {
			add(ie.Blocknr, fmt.Sprintf("%s bitmap %d", name, i))
		}
		return tree(r.RefCountRoot, name+" ref", nil)
	}
	if err := spaceMap(sb.DataSpaceMap(), false, "data sm"); err != nil {
		return nil, err
	}
	if err := spaceMap(sb.MetadataSpaceMap(), true, "metadata sm"); err != nil {
		return nil, err
	}
	for b := range roles {
		if roles[b] != "" {
			continue
		}
		p, _, err := im.raw(uint64(b), nil)
		if err != nil {
			return nil, err
		}
		roles[b] = "stale " + contentKind(p)
	}
	return roles, nil
}

// contentKind says what a block's checksum validates it as, "zero" when
// it is all zero, "?" otherwise.
func contentKind(p []byte) string {
	for k, x := range kindXor {
		if le.Uint32(p) == block.Checksum(p[4:block.Size], x) {
			return BlockKind(k).String()
		}
	}
	for _, c := range p {
		if c != 0 {
			return "?"
		}
	}
	return "zero"
}

// BlockDiff is one block where two images differ.
type BlockDiff struct {
	Block  uint64
	A, B   string // the block's role in each image (Layout)
	SameAs bool   // the roles are the same, only the contents differ
}

// DiffImages compares two metadata images block by block and returns the
// blocks whose contents differ, with their roles in each. Blocks past the
// end of the shorter image count as zero there.
func DiffImages(a, b *Image) ([]BlockDiff, error) {
	la, err := a.Layout()
	if err != nil {
		return nil, fmt.Errorf("first image: %w", err)
	}
	lb, err := b.Layout()
	if err != nil {
		return nil, fmt.Errorf("second image: %w", err)
	}
	n := max(a.NrBlocks, b.NrBlocks)
	zero := make([]byte, block.Size)
	read := func(im *Image, l []string, i uint64) ([]byte, string, error) {
		if i >= im.NrBlocks {
			return zero, "past the end", nil
		}
		p, _, err := im.raw(i, nil)
		return p, l[i], err
	}
	var out []BlockDiff
	for i := uint64(0); i < n; i++ {
		pa, ra, err := read(a, la, i)
		if err != nil {
			return nil, err
		}
		pb, rb, err := read(b, lb, i)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(pa, pb) {
			out = append(out, BlockDiff{Block: i, A: ra, B: rb, SameAs: ra == rb})
		}
	}
	return out, nil
}

// DescribeBlock says what block b's contents are, whatever its role: a
// superblock's roots, a btree node's header and keys (up to eight, with
// 8-byte values), a bitmap's number of blocks in use, an index block's
// entries.
func (im *Image) DescribeBlock(b uint64) (string, error) {
	p, _, err := im.raw(b, nil)
	if err != nil {
		return "", err
	}
	switch kind := contentKind(p); kind {
	case SuperblockBlock.String():
		s := DecodeSuperblock(p)
		return fmt.Sprintf("superblock trans_id %d time %d held %d mapping %d details %d data sm %+v metadata sm %+v",
			s.TransID, s.Time, s.HeldRoot, s.DataMappingRoot, s.DeviceDetailsRoot, s.DataSpaceMap(), s.MetadataSpaceMap()), nil
	case NodeBlock.String():
		n := btree.Node(p)
		what := "leaf"
		if n.IsInternal() {
			what = "internal"
		}
		out := fmt.Sprintf("%s node %d/%d entries of %d bytes:", what, n.NrEntries(), n.MaxEntries(), n.ValueSize())
		if !Sane(n, n.ValueSize()) {
			return out + " (insane)", nil
		}
		for i := 0; i < n.NrEntries() && i < 8; i++ {
			if n.ValueSize() == 8 {
				out += fmt.Sprintf(" %d=%d", n.Key(i), n.Value64(i))
			} else {
				out += fmt.Sprintf(" %d", n.Key(i))
			}
		}
		if n.NrEntries() > 8 {
			out += " ..."
		}
		return out, nil
	case BitmapBlock.String():
		used := 0
		for j := uint64(0); j < spacemap.EntriesPerBlock; j++ {
			if spacemap.BitmapLookup(p, j) != 0 {
				used++
			}
		}
		return fmt.Sprintf("bitmap of block %d: %d entries in use", le.Uint64(p[8:]), used), nil
	case IndexBlock.String():
		out := fmt.Sprintf("index of block %d:", le.Uint64(p[8:]))
		for i := 0; i < spacemap.MaxMetadataBitmaps; i++ {
			ie := spacemap.DecodeIndexEntry(p[16+16*i:])
			if ie.Blocknr == 0 {
				break
			}
			out += fmt.Sprintf(" %+v", ie)
		}
		return out, nil
	default:
		return kind, nil
	}
}
