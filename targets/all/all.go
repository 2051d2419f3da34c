// Package all links every target package into a binary (each registers
// itself from init()).
package all

import (
	_ "github.com/dmsim/dmsim/targets/delay"
	_ "github.com/dmsim/dmsim/targets/errortarget"
	_ "github.com/dmsim/dmsim/targets/flakey"
	_ "github.com/dmsim/dmsim/targets/linear"
	_ "github.com/dmsim/dmsim/targets/logwrites"
	_ "github.com/dmsim/dmsim/targets/striped"
	_ "github.com/dmsim/dmsim/targets/thin"
	_ "github.com/dmsim/dmsim/targets/zero"
)
