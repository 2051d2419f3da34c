package thin

import (
	"slices"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/dmsim"
	"github.com/dmsim/dmsim/linuxerr"
)

// Metadata faults are injected at the metadata device (/dev/vda) through
// its dmsim.Faults: the superblock is metadata block 0, sectors 0-7.
//
// pool_status()'s "Error" (a metadata query failing while the pool is not
// in fail mode, "dm_pool_get_metadata_transaction_id returned -5") is not
// tested here: dm_pool_get_metadata_transaction_id does no I/O (it can only
// fail with EINVAL once the metadata failed, and then the pool is in fail
// mode and reports "Fail"), and the one query that reads,
// dm_pool_get_metadata_snap, finds the superblock in the block manager's
// cache, so no device fault reaches it.

// superblock is a rule matching I/O to the metadata superblock.
func superblock(ops dmsim.FaultOps, count int) dmsim.Fault {
	return dmsim.Fault{Ops: ops, Start: 0, End: 8, Count: count}
}

// TestCommitFailure: a failed commit aborts the transaction, sets
// needs_check and makes the pool read-only; a reload cannot bring it back
// to write mode until it is repaired.
func TestCommitFailure(t *testing.T) {
	h, pool, thin, data := poolSetup(t, 16, 0, "", true)
	if err := h.write(thin, 0, fill('f', 65536)); err != nil {
		t.Fatal(err)
	}
	meta := h.disk("/dev/vda").faults()
	// The superblock cannot be written: the next commit fails, and so does
	// the write-back of the dirty superblock when the abort drops the
	// cache; the abort reads the old superblock back.
	commit := meta.Add(superblock(dmsim.FaultWrite, 0))
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
	if commit.Fired() == 0 {
		t.Error("no superblock write failed")
	}
	meta.Clear()
	// The write and the created thin were in the aborted transaction.
	if s := h.status(pool); s != "0 112/1024 0/16 - ro discard_passdown queue_if_no_space needs_check 256 " {
		t.Errorf("status %q", s)
	}
	if pool.events() != 1 {
		t.Errorf("events %d", pool.events())
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
	data.resize(32 * 128)
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
	h, pool, thin, _ := poolSetup(t, 16, 0, "", true)
	if err := h.write(thin, 0, fill('f', 65536)); err != nil {
		t.Fatal(err)
	}
	// The superblock can be neither written (the commit) nor read back
	// (the abort).
	meta := h.disk("/dev/vda").faults()
	meta.Add(superblock(dmsim.FaultRead|dmsim.FaultWrite, 0))
	h.status(pool)
	want := []string{
		"<3>device-mapper: thin: 253:0: metadata operation 'dm_pool_commit_metadata' failed: error = -5",
		"<3>device-mapper: thin: 253:0: aborting current metadata transaction",
		"<3>device-mapper: thin: 253:0: failed to abort metadata transaction",
		"<6>device-mapper: thin: 253:0: switching pool to fail mode",
		// The failed abort failed the metadata: setting the flag returns
		// EINVAL without a message of its own.
		"<3>device-mapper: thin: 253:0: failed to set 'needs_check' flag in metadata",
		// pool_status() goes on after its commit with failed metadata.
		"<3>device-mapper: thin: 253:0: dm_pool_get_metadata_transaction_id returned -22",
	}
	if got := h.logs(); !slices.Equal(got, want) {
		t.Errorf("log %q\nwant %q", got, want)
	}
	meta.Clear()
	for _, m := range []*dev{pool, thin} {
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
	// A reload cannot leave fail mode: with the metadata failed, the new
	// table cannot register its metadata threshold.
	if text, err := h.reload(pool, 16*128, poolType, "/dev/vda /dev/vdb 128 0"); text != "Error registering metadata threshold" || err != linuxerr.EINVAL {
		t.Errorf("reload: %q %v", text, err)
	}
	if s := h.status(pool); s != "Fail" {
		t.Errorf("status after reload %q", s)
	}
}
