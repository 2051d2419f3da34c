package script_test

import (
	"errors"
	"fmt"
	"log"
	"strings"

	"github.com/dmsim/dmsim/script"
	_ "github.com/dmsim/dmsim/targets/all" // the target types the machine knows
)

// Boot a machine with a metadata and a data disk, make a thin pool and a
// thin volume on them with dmsetup, write to the volume and look at the
// pool.
func ExampleMachine() {
	m, err := script.NewMachine(script.Config{Disks: []script.Disk{
		{Name: "meta", Size: 4 << 20},
		{Name: "data", Size: 64 << 20},
	}})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	for _, line := range []string{
		`dmsetup create pool --table "0 131072 thin-pool $DISK_meta $DISK_data 128 0"`,
		`dmsetup message pool 0 "create_thin 0"`,
		`dmsetup create thin0 --table "0 2097152 thin /dev/mapper/pool 0"`,
		`dd if=/dev/urandom of=/dev/mapper/thin0 bs=64K count=4 oflag=direct`,
	} {
		if _, err := m.Run(line); err != nil {
			log.Fatal(err)
		}
	}
	r, err := m.Run("dmsetup status")
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range script.SplitLines(r.Stdout) {
		fmt.Println(strings.TrimRight(l, " ")) // thin-pool's status line ends in a space
	}
	// Output:
	// pool: 0 131072 thin-pool 0 112/1024 4/1024 - rw discard_passdown queue_if_no_space - 256
	// thin0: 0 2097152 thin 512 511
}

// Every Result carries the kernel log lines its command caused; a line
// that fails returns an *ExitError with its status.
func ExampleResult_kmsg() {
	m, err := script.NewMachine(script.Config{Disks: []script.Disk{{Name: "a", Size: 1 << 20}}})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	r, err := m.Run(`dmsetup create big --table "0 4096 linear $DISK_a 0"`)
	var exit *script.ExitError
	if errors.As(err, &exit) {
		fmt.Println("exit status", exit.Status)
	}
	fmt.Println(r.Kmsg[0].Text)
	// Output:
	// exit status 1
	// device-mapper: table: 253:0: vda too small for target: start=0, len=4096, dev_size=2048
}
