package script

import "github.com/dmsim/dmsim/scenario"

// The script format has one parser, package scenario, shared with the
// recorder; these names keep the runner's code short.
type (
	Disk     = scenario.Disk
	ItemKind = scenario.ItemKind
	Item     = scenario.Item
	Script   = scenario.Script
)

const (
	Comment = scenario.Comment
	Command = scenario.Command
	Reboot  = scenario.Reboot
)

var (
	Parse        = scenario.Parse
	ParseSize    = scenario.ParseSize
	LogicalLines = scenario.LogicalLines
)
