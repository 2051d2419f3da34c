package thintools

import (
	"encoding/binary"
	"errors"
	"os"

	"github.com/dmsim/dmsim/linuxerr"
	"github.com/dmsim/dmsim/thinmeta"
)

var le = binary.LittleEndian

const (
	msgDamage       = "metadata contains errors (run thin_check for details)."
	msgDamageRepair = msgDamage + "\nperhaps you wanted to run with --repair"
)

// openImage opens path read-only (or read-write) the way the 0.9.0 tools'
// open_bm/get_nr_blocks do, with their error texts. excl opens it O_EXCL,
// as the tools do unless they read a metadata snapshot: a block device a
// live pool holds is then busy.
func (t *tool) openImage(path string, write, excl bool) (*image, error) {
	dev, err := t.fs.OpenDevice(path, write, excl)
	if err != nil {
		return nil, openError(err)
	}
	return newImage(dev), nil
}

func openError(err error) error {
	switch {
	case linuxerr.ToErrno(err) == linuxerr.EBUSY:
		return toolError("syscall 'open' failed: Device or resource busy\nNote: you cannot run this tool with these options on live metadata.")
	case errors.Is(err, os.ErrNotExist):
		return toolError("Couldn't stat path")
	case errors.Is(err, ErrNotDevice):
		return toolError("bad path")
	case errors.Is(err, os.ErrPermission):
		return toolError("Permission denied")
	}
	return toolError(err.Error())
}

// devEntry is one device of the details tree.
type devEntry struct {
	id uint64
	d  thinmeta.DeviceDetails
}

// readDetails walks the device details tree; any damage is returned as
// err (the first range).
func readDetails(im *image, root uint64) ([]devEntry, *damage, error) {
	var devs []devEntry
	var first *damage
	w := newWalker(im, 24, func(k uint64, v []byte) error {
		devs = append(devs, devEntry{k, thinmeta.DecodeDetails(v)})
		return nil
	}, func(d damage) {
		if first == nil {
			first = &d
		}
	})
	err := w.walk(root)
	return devs, first, err
}

// devRoot is one entry of the mapping tree's top level.
type devRoot struct {
	id, root uint64
}

func readTopLevel(im *image, root uint64) ([]devRoot, *damage, error) {
	var roots []devRoot
	var first *damage
	w := newWalker(im, 8, func(k uint64, v []byte) error {
		roots = append(roots, devRoot{k, le.Uint64(v)})
		return nil
	}, func(d damage) {
		if first == nil {
			first = &d
		}
	})
	err := w.walk(root)
	return roots, first, err
}

// errStopWalk aborts a mapping walk at the first damage.
var errStopWalk = errors.New("stop")

// walkMappings visits a device's mappings in order. With stopOnDamage the
// walk ends at the first damage reported (returned as *damage).
func walkMappings(im *image, root uint64, fn func(vblock, dblock uint64, time uint32) error, stopOnDamage bool) (*damage, error) {
	var first *damage
	w := newWalker(im, 8, func(k uint64, v []byte) error {
		d, t := thinmeta.UnpackBlockTime(le.Uint64(v))
		return fn(k, d, t)
	}, nil)
	w.onDamage = func(d damage) {
		if first == nil {
			first = &d
		}
	}
	if stopOnDamage {
		// Damage is issued before the next good leaf's values are
		// visited: stop there.
		inner := w.visit
		w.visit = func(k uint64, v []byte) error {
			if first != nil {
				return errStopWalk
			}
			return inner(k, v)
		}
	}
	err := w.walk(root)
	if err == errStopWalk {
		err = nil
	}
	return first, err
}
