package thinsync

import (
	"reflect"
	"testing"
)

func TestParseDump(t *testing.T) {
	tests := []struct {
		name string
		xml  string
		want map[uint64][]Run
	}{
		{"0.9.0", `<superblock uuid="" time="1" transaction="0" flags="0" version="2" data_block_size="128" nr_data_blocks="0">
  <device dev_id="0" mapped_blocks="4" transaction="0" creation_time="0" snap_time="1">
    <range_mapping origin_begin="0" data_begin="0" length="3" time="0"/>
    <single_mapping origin_block="3" data_block="7" time="1"/>
    <single_mapping origin_block="9" data_block="8" time="1"/>
  </device>
  <device dev_id="1" mapped_blocks="0" transaction="0" creation_time="1" snap_time="1">
  </device>
</superblock>`, map[uint64][]Run{0: {{0, 4}, {9, 1}}, 1: nil}},
		{"1.x without flags and version, with defs", `<superblock uuid="" time="1" transaction="2" data_block_size="128" nr_data_blocks="0">
  <def name="5">
    <range_mapping origin_begin="0" data_begin="0" length="2" time="0"/>
  </def>
  <device dev_id="3" mapped_blocks="3" transaction="0" creation_time="0" snap_time="0">
    <ref name="5"/>
    <single_mapping origin_block="4" data_block="9" time="0"/>
  </device>
</superblock>`, map[uint64][]Run{3: {{0, 2}, {4, 1}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseDump([]byte(tc.xml))
			if err != nil {
				t.Fatal(err)
			}
			got := map[uint64][]Run{}
			for id, dev := range d.Devs {
				got[id] = dev.Mapped
			}
			if !reflect.DeepEqual(got, tc.want) || d.BlockSize != 128 {
				t.Fatalf("got %v (block size %d), want %v", got, d.BlockSize, tc.want)
			}
		})
	}
	for _, bad := range []string{"", "<superblock>", `<superblock time="1" transaction="0" data_block_size="128"><device/></superblock>`,
		`<superblock time="1" transaction="0" data_block_size="128"><device dev_id="1"><ref name="x"/></device></superblock>`,
		`<superblock time="1" transaction="0" data_block_size="128"><device dev_id="1"><range_mapping origin_begin="a" length="1"/></device></superblock>`} {
		if _, err := ParseDump([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestParseDelta(t *testing.T) {
	tests := []struct {
		name string
		xml  string
		want map[string][]Run
	}{
		{"0.9.0", `<superblock uuid="" time="1" transaction="0" data_block_size="128" nr_data_blocks="0">
  <diff left="0" right="1">
    <same begin="0" length="3"/>
    <different begin="3" length="1"/>
    <left_only begin="4" length="2"/>
    <right_only begin="8" length="1"/>
  </diff>
</superblock>`, map[string][]Run{"same": {{0, 3}}, "different": {{3, 1}}, "left_only": {{4, 2}}, "right_only": {{8, 1}}}},
		{"verbose", `<superblock uuid="" time="1" transaction="0" data_block_size="128" nr_data_blocks="0">
  <diff left="0" right="1">
    <different begin="3" left_data_begin="3" right_data_begin="9" length="1"/>
    <different begin="4" left_data_begin="4" right_data_begin="10" length="1"/>
  </diff>
</superblock>`, map[string][]Run{"different": {{3, 2}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseDelta([]byte(tc.xml))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(d.Ranges, tc.want) {
				t.Fatalf("got %v, want %v", d.Ranges, tc.want)
			}
		})
	}
	if _, err := ParseDelta([]byte(`<superblock data_block_size="128"></superblock>`)); err == nil {
		t.Error("accepted a delta without diff")
	}
}

func FuzzParseXML(f *testing.F) {
	f.Add([]byte(`<superblock time="1" transaction="0" data_block_size="128"><device dev_id="1"><range_mapping origin_begin="0" length="1"/></device></superblock>`))
	f.Add([]byte(`<superblock data_block_size="128"><diff><same begin="0" length="3"/></diff></superblock>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseDump(b)
		ParseDelta(b)
	})
}
