package thinmeta

import (
	"sync"
	"testing"

	"github.com/dmsim/dmsim/persistent-data/block"
)

// TestConcurrentUse: lookups and status queries from several goroutines
// while another provisions and commits (run with -race).
func TestConcurrentUse(t *testing.T) {
	dev := block.NewMemDevice(8 << 20)
	pmd, err := Open(dev, 128, true, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pmd.ResizeDataDev(10000)
	pmd.CreateThin(0)
	td, _ := pmd.OpenThinDevice(0)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := uint64(0); ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				td.FindBlock(i%3000, true)
				pmd.FreeMetadataBlockCount()
				pmd.FreeBlockCount()
				td.MappedCount()
				pmd.BlockIsShared(i % 100)
			}
		}()
	}
	for vb := uint64(0); vb < 3000; vb++ {
		b, err := pmd.AllocDataBlock()
		if err != nil {
			t.Fatal(err)
		}
		if err := td.InsertBlock(vb, b); err != nil {
			t.Fatal(err)
		}
		if vb%500 == 0 {
			pmd.CommitMetadata()
		}
	}
	close(stop)
	wg.Wait()
	pmd.CommitMetadata()
	td.Close()
	if err := pmd.Close(); err != nil {
		t.Fatal(err)
	}
	selfCheck(t, dev)
}
