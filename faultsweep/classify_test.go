package faultsweep

import "testing"

// TestClassify: each kind of difference from the fault-free transcript
// lands in its class, the most severe effect deciding, and output that
// changed with nothing reported is unclassified.
func TestClassify(t *testing.T) {
	const create = `# a comment
$ dmsetup create pool --table "0 131072 thin-pool /dev/vda /dev/vdb 128 0"
[exit 0]
`
	const statusRW = `$ dmsetup status pool
| 0 131072 thin-pool 0 112/1024 2/1024 - rw discard_passdown queue_if_no_space - 256 
[exit 0]
`
	const base = create + `$ dd if=/dev/mapper/thin bs=64K count=1 iflag=direct status=none | od -c | head -1
| 0000000   a  \n
[exit 0]
` + statusRW
	for _, tc := range []struct {
		name string
		got  string
		want Class
	}{
		{"the same", base, Masked},
		{"a read fails", create + `$ dd if=/dev/mapper/thin bs=64K count=1 iflag=direct status=none | od -c | head -1
| 0000000
! dd: /dev/mapper/thin: Input/output error
k <3>device-mapper: thin: process_cell: dm_thin_find_block() failed: error = -5
[exit 0]
` + statusRW, EIO},
		{"only the exit status", create + `$ dd if=/dev/mapper/thin bs=64K count=1 iflag=direct status=none | od -c | head -1
| 0000000   a  \n
[exit 1]
`, EIO},
		{"abort later", create + `$ dd if=/dev/mapper/thin bs=64K count=1 iflag=direct status=none | od -c | head -1
| 0000000
! dd: /dev/mapper/thin: Input/output error
[exit 0]
$ dmsetup status pool
| 0 131072 thin-pool 0 112/1024 2/1024 - ro discard_passdown queue_if_no_space needs_check 256 
k <3>device-mapper: thin: 253:0: metadata operation 'dm_pool_commit_metadata' failed: error = -5
k <3>device-mapper: thin: 253:0: aborting current metadata transaction
k <6>device-mapper: thin: 253:0: switching pool to read-only mode
[exit 0]
`, ReadOnly},
		{"fail mode", create + `$ dd if=/dev/mapper/thin bs=64K count=1 iflag=direct status=none | od -c | head -1
| 0000000   a  \n
[exit 0]
$ dmsetup status pool
| 0 131072 thin-pool Fail
k <3>device-mapper: thin: 253:0: aborting current metadata transaction
k <3>device-mapper: thin: 253:0: failed to abort metadata transaction
k <6>device-mapper: thin: 253:0: switching pool to fail mode
[exit 0]
`, Fail},
		{"refused", `# a comment
$ dmsetup create pool --table "0 131072 thin-pool /dev/vda /dev/vdb 128 0"
! device-mapper: reload ioctl on pool (253:0) failed: Input/output error
! Command failed.
k <3>device-mapper: table: 253:0: thin-pool: Error creating metadata object (-EIO)
k <3>device-mapper: ioctl: error adding target to table
[exit 1]
$ dd if=/dev/mapper/thin bs=64K count=1 iflag=direct status=none | od -c | head -1
| 0000000
! dd: can't open '/dev/mapper/thin': No such file or directory
[exit 0]
`, Refused},
		{"silently different data", create + `$ dd if=/dev/mapper/thin bs=64K count=1 iflag=direct status=none | od -c | head -1
| 0000000   b  \n
[exit 0]
` + statusRW, Unclassified},
		{"cut short", create + ``, Unclassified},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, detail := Classify(base, tc.got); got != tc.want {
				t.Errorf("class %v (%s), want %v", got, detail, tc.want)
			}
		})
	}
}

// FuzzClassify: any pair of transcripts gets a class, without a panic;
// equal ones are Masked.
func FuzzClassify(f *testing.F) {
	f.Add("$ a\n| x\n[exit 0]\n", "$ a\n! e\n[exit 1]\n")
	f.Add("# c\n$ a\n[exit 0]\n", "# c\n$ a\nk <3>device-mapper: table: 253:0: thin-pool: x\n[exit 1]\n")
	f.Add("", "$ a\n")
	f.Fuzz(func(t *testing.T, base, got string) {
		c, _ := Classify(base, got)
		if c < Masked || c >= nClasses {
			t.Fatalf("class %d", c)
		}
		if base == got && c != Masked {
			t.Fatalf("equal transcripts: %v", c)
		}
	})
}
