// Package crash is the crash-state sweep (`dmsim crash`): it runs a
// scenario script once with a bio log on every disk (dmsim.DiskSpec.BioLog),
// enumerates the durable images a power cut may leave at every flush epoch
// of every disk (dmsim.CrashStates in prefix, subset or torn mode; the
// other disks keep what was durable at that instant), and checks each
// unique state:
//
//   - I1 the pool reopens: a machine boots on the crash images
//     (copy-on-write overlays: a state costs no copy of its disks), the
//     device stack is created again and `dmsetup status` reports the mode
//     the superblock asks for;
//   - I2 thin_check (thinmeta.Check) finds nothing;
//   - I3 the metadata is one of the commits the run wrote (the images
//     right after each superblock write), never a mix;
//   - I4 no older than the commit live when the last command before the
//     crash ended (the transaction id never goes backwards), and the
//     reopened pool reports the superblock's transaction id;
//   - I5/I6 every mapped data block holds data written to it since it was
//     mapped (not data the commit promised but lost, nor an earlier
//     owner's), and every acknowledged FUA write to the data device is
//     mapped by a commit;
//   - I7 the pool's used data blocks equal the distinct mapped blocks;
//   - I8 the metadata snapshot is the commit's;
//   - I9 the same script gives the same states, verdicts and report bytes.
//
// States are deduplicated by content (a fingerprint of every disk's image:
// unique states) and checked once per content and quiesce point (the
// commit window and the device stack depend on it). Two kinds of state
// 6.1 itself leaves inconsistent are counted apart (KernelWindow,
// PassdownWindow). A failure shrinks (Shrink) to a reproducer: the
// script's lines that still fail and a `# crash:` directive, which Replay
// (`dmsim run`) checks again.
package crash
