package thin

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/linuxerr"
)

// faultyMeta wraps the real metadata and fails chosen calls with EIO, as a
// failing metadata device would.
type faultyMeta struct {
	Metadata
	mu    sync.Mutex
	fails map[string]bool
}

func (f *faultyMeta) fail(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fails[name] {
		return linuxerr.EIO
	}
	return nil
}

func (f *faultyMeta) set(names ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fails = map[string]bool{}
	for _, n := range names {
		f.fails[n] = true
	}
}

func (f *faultyMeta) CommitMetadata() error {
	if err := f.fail("commit"); err != nil {
		return err
	}
	return f.Metadata.CommitMetadata()
}

func (f *faultyMeta) AbortMetadata() error {
	if err := f.fail("abort"); err != nil {
		return err
	}
	return f.Metadata.AbortMetadata()
}

func (f *faultyMeta) TransactionID() (uint64, error) {
	if err := f.fail("tid"); err != nil {
		return 0, err
	}
	return f.Metadata.TransactionID()
}

// withFaults makes every pool opened in the test use a faultyMeta.
func withFaults(t *testing.T) *faultyMeta {
	fm := &faultyMeta{}
	prev := OpenMetadata
	OpenMetadata = func(k *dmsim.Kernel, bdev dmsim.BlockDevice, bs uint32, format bool) (Metadata, error) {
		m, err := prev(k, bdev, bs, format)
		if err != nil {
			return nil, err
		}
		fm.Metadata = m
		return fm, nil
	}
	t.Cleanup(func() { OpenMetadata = prev })
	return fm
}

// TestCommitFailure: a failed commit aborts the transaction, sets
// needs_check and makes the pool read-only; a reload cannot bring it back
// to write mode until it is repaired.
func TestCommitFailure(t *testing.T) {
	fm := withFaults(t)
	h, pool, thin, _ := poolSetup(t, 16, 0, "", true)
	if err := h.write(thin, 0, fill('f', 65536)); err != nil {
		t.Fatal(err)
	}
	fm.set("commit")
	if err := h.message(pool, "create_thin 1"); err != nil {
		t.Fatalf("message: %v (a failed commit does not fail the message)", err)
	}
	want := []string{
		"<3>device-mapper: thin: 253:0: metadata operation 'dm_pool_commit_metadata' failed: error = -5",
		"<3>device-mapper: thin: 253:0: aborting current metadata transaction",
		"<6>device-mapper: thin: 253:0: switching pool to read-only mode",
	}
	if got := h.logs(); !slices.Equal(got, want) {
		t.Errorf("log %q\nwant %q", got, want)
	}
	fm.set()
	// The write and the created thin were in the aborted transaction.
	if s := h.status(pool); s != "0 112/1024 0/16 - ro discard_passdown queue_if_no_space needs_check 256 " {
		t.Errorf("status %q", s)
	}
	if pool.events != 1 {
		t.Errorf("events %d", pool.events)
	}
	// Flushes of a thin whose changes were aborted fail.
	if err := h.flush(thin); err != linuxerr.EIO {
		t.Errorf("flush: %v", err)
	}
	if err := h.write(thin, 128, fill('f', 512)); err != linuxerr.EIO {
		t.Errorf("provisioning write: %v", err)
	}
	if _, err := h.reload(pool, 16*128, poolType, "/dev/vda /dev/vdb 128 0"); err != nil {
		t.Fatal(err)
	}
	want = []string{"<3>device-mapper: thin: 253:0: unable to switch pool to write mode until repaired."}
	if got := h.logs(); !slices.Equal(got, want) {
		t.Errorf("log %q\nwant %q", got, want)
	}
	if s := h.status(pool); !strings.Contains(s, " ro ") {
		t.Errorf("status %q", s)
	}
	// Growing is refused too, without failing the resume.
	h.disks["/dev/vdb"].(*memDisk).sectors = 32 * 128
	if _, err := h.reload(pool, 32*128, poolType, "/dev/vda /dev/vdb 128 0"); err != nil {
		t.Fatal(err)
	}
	want = []string{
		"<3>device-mapper: thin: 253:0: unable to switch pool to write mode until repaired.",
		"<3>device-mapper: thin: 253:0: unable to grow the data device until repaired.",
	}
	if got := h.logs(); !slices.Equal(got, want) {
		t.Errorf("log %q\nwant %q", got, want)
	}
}

// TestFailMode: when the abort fails too the pool fails for good: its
// status and its thins' are "Fail", I/O errors, and no thin can be
// activated.
func TestFailMode(t *testing.T) {
	fm := withFaults(t)
	h, pool, thin, _ := poolSetup(t, 16, 0, "", true)
	if err := h.write(thin, 0, fill('f', 65536)); err != nil {
		t.Fatal(err)
	}
	fm.set("commit", "abort")
	h.status(pool)
	want := []string{
		"<3>device-mapper: thin: 253:0: metadata operation 'dm_pool_commit_metadata' failed: error = -5",
		"<3>device-mapper: thin: 253:0: aborting current metadata transaction",
		"<3>device-mapper: thin: 253:0: failed to abort metadata transaction",
		"<6>device-mapper: thin: 253:0: switching pool to fail mode",
		// The injected abort failure leaves the real metadata usable but
		// read-only, so it is the superblock lock that fails here (a real
		// failed abort fails the metadata and returns EINVAL silently).
		"<3>device-mapper: thin metadata: couldn't lock superblock",
		"<3>device-mapper: thin: 253:0: failed to set 'needs_check' flag in metadata",
	}
	if got := h.logs(); !slices.Equal(got, want) {
		t.Errorf("log %q\nwant %q", got, want)
	}
	fm.set()
	for _, m := range []*testMD{pool, thin} {
		if s := h.status(m); s != "Fail" {
			t.Errorf("%s status %q", m.name, s)
		}
		if s := h.table(m); m == thin && s != "Fail" {
			t.Errorf("%s table %q", m.name, s)
		}
	}
	if _, err := h.read(thin, 0, 512); err != linuxerr.EIO {
		t.Errorf("read: %v", err)
	}
	if err := h.message(pool, "create_thin 1"); err != linuxerr.EOPNOTSUPP {
		t.Errorf("message: %v", err)
	}
	if _, text, err := h.create("thin2", 8192, thinType, "/dev/mapper/pool 0"); text != "Couldn't open thin device, Pool is in fail mode" || err != linuxerr.EINVAL {
		t.Errorf("thin ctr: %q %v", text, err)
	}
	// A reload cannot leave fail mode; its resume succeeds.
	if _, err := h.reload(pool, 16*128, poolType, "/dev/vda /dev/vdb 128 0"); err != nil {
		t.Fatal(err)
	}
	if s := h.status(pool); s != "Fail" {
		t.Errorf("status after reload %q", s)
	}
}

// TestStatusError: a metadata query failing while building the status
// line gives "Error".
func TestStatusError(t *testing.T) {
	fm := withFaults(t)
	h, pool, _, _ := poolSetup(t, 16, 0, "", true)
	fm.set("tid")
	if s := pool.ti.Impl.(dmsim.Statuser).Status(dmsim.StatusInfo, dmsim.StatusNoFlush); s != "Error" {
		t.Errorf("status %q", s)
	}
	want := []string{"<3>device-mapper: thin: 253:0: dm_pool_get_metadata_transaction_id returned -5"}
	if got := h.logs(); !slices.Equal(got, want) {
		t.Errorf("log %q", got)
	}
}
