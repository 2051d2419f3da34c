package thin

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/linuxerr"
)

// TestSuperblockChecksumLog: a pool on metadata whose superblock checksum
// is wrong is refused with 6.1's lines (recorded in the crash-injection
// spec, §2.2), the block manager's included.
func TestSuperblockChecksumLog(t *testing.T) {
	h := boot(t, vd(8192, false), vd(16*128, false))
	pool, text, err := h.create("pool", 16*128, poolType, "/dev/vda /dev/vdb 128 0")
	if err != nil {
		t.Fatal(text, err)
	}
	h.remove(pool)
	h.logs()
	// A byte flipped at offset 100, inside the checksummed area.
	img := h.disk("/dev/vda").image()
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	f.ReadAt(b, 100)
	b[0] ^= 0x40
	f.WriteAt(b, 100)
	f.Close()
	if _, text, err := h.create("pool", 16*128, poolType, "/dev/vda /dev/vdb 128 0"); text != "Error creating metadata object" || linuxerr.ToErrno(err) != linuxerr.EILSEQ {
		t.Fatalf("create: %q %v", text, err)
	}
	want := regexp.MustCompile(`^<3>device-mapper: thin metadata: sb_check failed: csum \d+: wanted \d+
<3>device-mapper: block manager: superblock validator check failed for block 0
<3>device-mapper: thin metadata: couldn't read superblock
<3>device-mapper: table: 253:\d+: thin-pool: Error creating metadata object \(-EILSEQ\)
<3>device-mapper: ioctl: error adding target to table$`)
	if got := strings.Join(h.logs(), "\n"); !want.MatchString(got) {
		t.Errorf("log:\n%s\nwant:\n%s", got, want)
	}
}
