package dmsim

// The modules the core itself provides: dm_mod's parameters (its targets
// come from the target packages through AddToModule), brd and loop.

func init() {
	RegisterModule(&Module{
		Name:    "dm_mod",
		Aliases: []string{"dm-mod"},
		Params: []*ModuleParam{
			// dm.c
			{Name: "reserved_bio_based_ios", Default: "16", Parse: ParamSetUint},
			{Name: "dm_numa_node", Default: "-1", Parse: ParamSetInt},
			{Name: "swap_bios", Default: "2048", Parse: ParamSetInt},
			// dm-rq.c
			{Name: "reserved_rq_based_ios", Default: "256", Parse: ParamSetUint},
			{Name: "use_blk_mq", Default: "Y", Parse: ParamSetBool},
			{Name: "dm_mq_nr_hw_queues", Default: "1", Parse: ParamSetUint},
			{Name: "dm_mq_queue_depth", Default: "2048", Parse: ParamSetUint},
			// dm-kcopyd.c, dm-stats.c
			{Name: "kcopyd_subjob_size_kb", Default: "512", Parse: ParamSetUint},
			{Name: "stats_current_allocated_bytes", Default: "0", ReadOnly: true},
		},
	})
	RegisterModule(&Module{
		Name: "brd",
		Params: []*ModuleParam{
			{Name: "rd_nr", Default: "16", Parse: ParamSetInt, ReadOnly: true},
			{Name: "rd_size", Default: "16384", Parse: ParamSetUlong, ReadOnly: true},
			{Name: "max_part", Default: "1", Parse: ParamSetInt, ReadOnly: true},
		},
		Init: brdInit,
	})
	RegisterModule(&Module{
		Name: "loop",
		Params: []*ModuleParam{
			{Name: "max_loop", Default: "0", Parse: ParamSetInt, ReadOnly: true},
			{Name: "max_part", Default: "0", Parse: ParamSetInt, ReadOnly: true},
			{Name: "hw_queue_depth", Default: "128", Parse: ParamSetInt, ReadOnly: true},
		},
		Init: loopInit,
	})
}
