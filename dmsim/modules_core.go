package dmsim

import "github.com/dmsim/dmsim/linuxerr"

// The modules the core itself provides: dm_mod's parameters (its targets
// come from the target packages through AddToModule), brd and loop.

func init() {
	RegisterModule(&Module{
		Name:    "dm_mod",
		Aliases: []string{"dm-mod"},
		Params: []*ModuleParam{
			// dm.c
			{Name: "reserved_bio_based_ios", Default: "16", Parse: parseUintParam},
			{Name: "dm_numa_node", Default: "-1", Parse: parseIntParam},
			{Name: "swap_bios", Default: "2048", Parse: parseIntParam},
			// dm-rq.c
			{Name: "reserved_rq_based_ios", Default: "256", Parse: parseUintParam},
			{Name: "use_blk_mq", Default: "Y", Parse: parseBoolParam},
			{Name: "dm_mq_nr_hw_queues", Default: "1", Parse: parseUintParam},
			{Name: "dm_mq_queue_depth", Default: "2048", Parse: parseUintParam},
			// dm-kcopyd.c, dm-stats.c
			{Name: "kcopyd_subjob_size_kb", Default: "512", Parse: parseUintParam},
			{Name: "stats_current_allocated_bytes", Default: "0", ReadOnly: true},
		},
	})
	RegisterModule(&Module{
		Name: "brd",
		Params: []*ModuleParam{
			{Name: "rd_nr", Default: "16", Parse: parseIntParam, ReadOnly: true},
			{Name: "rd_size", Default: "16384", Parse: parseUlongParam, ReadOnly: true},
			{Name: "max_part", Default: "1", Parse: parseIntParam, ReadOnly: true},
		},
		Init: brdInit,
	})
	RegisterModule(&Module{
		Name: "loop",
		Params: []*ModuleParam{
			{Name: "max_loop", Default: "0", Parse: parseIntParam, ReadOnly: true},
			{Name: "max_part", Default: "0", Parse: parseIntParam, ReadOnly: true},
			{Name: "hw_queue_depth", Default: "128", Parse: parseIntParam, ReadOnly: true},
		},
		Init: loopInit,
	})
}

// parseBoolParam is param_set_bool(): y/Y/1/n/N/0 (and on/off), shown as
// Y or N.
func parseBoolParam(s string) (string, error) {
	switch s {
	case "y", "Y", "1", "on", "ON", "On":
		return "Y", nil
	case "n", "N", "0", "off", "OFF", "Off":
		return "N", nil
	}
	if len(s) > 0 {
		switch s[0] {
		case 'y', 'Y', '1':
			return "Y", nil
		case 'n', 'N', '0':
			return "N", nil
		}
	}
	return "", linuxerr.EINVAL
}
