package dmsim

// The page cache of block devices (the bdev inode's mapping, mm/filemap.c
// as block/fops.c uses it): the clean pages buffered reads filled, shared
// by every opener of the device and kept while anyone (a process or a
// table) holds it open; the last close drops them (blkdev_put() →
// kill_bdev()). I/O that reaches the device by other paths (a dm target
// writing or discarding through a table, a thin pool's passdown) does not
// touch them, so a buffered read can show what the device held before.
// Buffered and direct I/O, discards and BLKFLSBUF through the device's own
// file keep the cache in step (package userland).

// maxCachedPages bounds one device's cache (64 MiB): past it, reads are
// not cached (the guest, with 512 MiB, would be reclaiming pages by then).
const maxCachedPages = 16384

// CachedPage returns a copy of page pg of dev's page cache.
func (k *Kernel) CachedPage(dev DevT, pg int64) ([]byte, bool) {
	k.devMu.Lock()
	defer k.devMu.Unlock()
	gd := k.disks[dev]
	if gd == nil || gd.pages == nil {
		return nil, false
	}
	p, ok := gd.pages[pg]
	if !ok {
		return nil, false
	}
	return append([]byte(nil), p...), true
}

// CachePage stores page pg of dev, as a read filled it, while the device
// is open.
func (k *Kernel) CachePage(dev DevT, pg int64, data []byte) {
	k.devMu.Lock()
	defer k.devMu.Unlock()
	gd := k.disks[dev]
	if gd == nil || gd.openers == 0 {
		return
	}
	if gd.pages == nil {
		gd.pages = map[int64][]byte{}
	}
	if _, ok := gd.pages[pg]; !ok && len(gd.pages) >= maxCachedPages {
		return
	}
	gd.pages[pg] = append([]byte(nil), data...)
}

// UpdateCachedPage writes data at byte off of page pg if it is cached (a
// buffered write updates the page it lands in).
func (k *Kernel) UpdateCachedPage(dev DevT, pg int64, off int, data []byte) {
	k.devMu.Lock()
	defer k.devMu.Unlock()
	gd := k.disks[dev]
	if gd == nil || gd.pages == nil {
		return
	}
	if p, ok := gd.pages[pg]; ok && off < len(p) {
		copy(p[off:], data)
	}
}

// InvalidatePages drops pages [from, to) of dev's cache
// (invalidate_inode_pages2_range, truncate_bdev_range); to < 0 drops them
// all (invalidate_bdev).
func (k *Kernel) InvalidatePages(dev DevT, from, to int64) {
	k.devMu.Lock()
	defer k.devMu.Unlock()
	gd := k.disks[dev]
	if gd == nil {
		return
	}
	for pg := range gd.pages {
		if pg >= from && (to < 0 || pg < to) {
			delete(gd.pages, pg)
		}
	}
}
