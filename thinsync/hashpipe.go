package thinsync

import "sync"

// hashPipe hashes granules into a manifest on a goroutine of its own while
// the caller reads the next ones: reading a device back (a verification,
// an image's root) and SHA-256 then overlap on two cores. The caller
// fills Buf(), hands it over with Set, and calls Wait before it uses the
// manifest.
type hashPipe struct {
	m    *Manifest
	free chan []byte
	work chan hashJob
	done chan struct{}
	once sync.Once
}

type hashJob struct {
	g    uint64
	data []byte
	buf  []byte
}

// hashPipeDepth is the number of granule buffers in flight.
const hashPipeDepth = 3

func newHashPipe(m *Manifest, granule int) *hashPipe {
	p := &hashPipe{m: m, free: make(chan []byte, hashPipeDepth), work: make(chan hashJob, hashPipeDepth),
		done: make(chan struct{})}
	for i := 0; i < hashPipeDepth; i++ {
		p.free <- alignedBuf(granule)
	}
	go func() {
		defer close(p.done)
		for j := range p.work {
			p.m.Set(j.g, j.data)
			p.free <- j.buf
		}
	}()
	return p
}

// Buf returns a free granule buffer.
func (p *hashPipe) Buf() []byte { return <-p.free }

// Set hands over granule g, whose content is data (a prefix of buf, a
// buffer Buf returned).
func (p *hashPipe) Set(g uint64, buf, data []byte) { p.work <- hashJob{g, data, buf} }

// Wait returns once every granule handed over is in the manifest; the
// pipe is finished (later calls return at once).
func (p *hashPipe) Wait() {
	p.once.Do(func() { close(p.work) })
	<-p.done
}
