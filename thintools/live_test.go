package thintools

import (
	"context"
	"strings"
	"testing"

	"github.com/dmsim/dmsim/scenario"
	"github.com/dmsim/dmsim/script"
	_ "github.com/dmsim/dmsim/targets/thin"
)

// TestLiveMetadata runs the tools on the metadata device of a live pool in
// the emulated machine: opened O_EXCL, as 0.9.0 does unless it reads the
// metadata snapshot, the device the pool's table holds is busy.
func TestLiveMetadata(t *testing.T) {
	const busy = "! syscall 'open' failed: Device or resource busy\n" +
		"! Note: you cannot run this tool with these options on live metadata.\n"
	steps := []struct{ cmd, want string }{
		{`dmsetup create pool --table "0 32768 thin-pool $DISK_meta $DISK_data 128 0"`, "[exit 0]\n"},
		{`thin_check $DISK_meta`, busy + "[exit 1]\n"},
		{`thin_check -q $DISK_meta`, "[exit 1]\n"},
		{`thin_dump $DISK_meta`, busy + "[exit 1]\n"},
		{`thin_ls $DISK_meta`, busy + "[exit 1]\n"},
		{`thin_delta --snap1 0 --snap2 0 $DISK_meta`, busy + "! " + strings.ReplaceAll(strings.TrimSuffix(deltaUsage, "\n"), "\n", "\n! ") + "\n[exit 1]\n"},
		{`thin_rmap --region 0..1 $DISK_meta`, busy + "[exit 1]\n"},
		{`echo '<superblock uuid="" time="0" transaction="0" data_block_size="128" nr_data_blocks="0"/>' > /tmp/x.xml; thin_restore -i /tmp/x.xml -o $DISK_meta`, busy + "[exit 1]\n"},
		// The metadata snapshot is read without the exclusive claim.
		{`thin_dump -m $DISK_meta`, "! no current metadata snap\n[exit 1]\n"},
		{`dmsetup message pool 0 reserve_metadata_snap`, "[exit 0]\n"},
		{`thin_dump -m $DISK_meta`, "| <superblock uuid=\"\" time=\"0\" transaction=\"0\" flags=\"0\" version=\"2\" data_block_size=\"128\" nr_data_blocks=\"0\">\n| </superblock>\n[exit 0]\n"},
		{`thin_ls -m --no-headers $DISK_meta`, "[exit 0]\n"},
		{`thin_check -m -q $DISK_meta`, "[exit 0]\n"},
		{`dmsetup remove pool`, "[exit 0]\n"},
		{`thin_check -q $DISK_meta`, "[exit 0]\n"},
	}
	var src, want strings.Builder
	src.WriteString("# disk: meta 4M\n# disk: data 16M\n")
	for _, s := range steps {
		src.WriteString(s.cmd + "\n")
		want.WriteString("$ " + s.cmd + "\n" + s.want)
	}
	s, err := scenario.Parse("live", []byte(src.String()))
	if err != nil {
		t.Fatal(err)
	}
	res, err := script.Run(context.Background(), s, script.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	for _, l := range strings.SplitAfter(script.StripEnv(res.Transcript), "\n") {
		if !strings.HasPrefix(l, "k ") && !strings.HasPrefix(l, "# disk:") {
			got.WriteString(l)
		}
	}
	if d := script.UnifiedDiff("want", "got", want.String(), got.String()); d != "" {
		t.Errorf("\n%s", d)
	}
}
