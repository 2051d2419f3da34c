package sim

import (
	"math"
	"time"
)

// HZ is CONFIG_HZ of the recorded kernel (Debian's CONFIG_HZ_250): a jiffy
// is 4 ms of virtual time.
const HZ = 250

// Tick is the length of one jiffy.
const Tick = time.Second / HZ

// MaxJiffyOffset is MAX_JIFFY_OFFSET on 64-bit.
const MaxJiffyOffset = math.MaxInt64>>1 - 1

// Jiffies is the kernel's jiffies counter on the virtual clock. Only
// differences are meaningful: the boot offset INITIAL_JIFFIES cancels out.
func (c *Clock) Jiffies() uint64 { return uint64(c.Now() / Tick) }

// MsecsToJiffies is msecs_to_jiffies(): rounded up; a value that is
// negative as an int is MAX_JIFFY_OFFSET.
func MsecsToJiffies(ms uint32) uint64 {
	if int32(ms) < 0 {
		return MaxJiffyOffset
	}
	const perJiffy = 1000 / HZ
	return (uint64(ms) + perJiffy - 1) / perJiffy
}
