// Package thinsync is a verified, resumable send/receive of thin volumes
// of a device-mapper thin pool (docs/thinsync.md): the stream format v1
// (stream.go: records with CRC-32C over header and payload, BEGIN, DATA
// compressed with zstd when that shrinks them, ZERO, CHECKPOINT, END with
// the SHA-256 of the stream and the image root), image roots and
// manifests (root.go, manifest.go), the parsers of thin_dump -m and
// thin_delta -m output (xml.go), send (send.go), recv with its resume
// state (recv.go, state.go), in-place receive with an undo log
// (inplace.go), incremental backup (archive.go, track.go), and on top of
// them the seed's other uses: migration of a device family between pools,
// live or not (migrate.go, migrate_live.go), merging a thin back into its
// external origin (mergeorigin.go) and asynchronous replication
// (replicate.go); the command line is cli.go.
//
// The package is written against Sys (sys.go), what it needs from the
// machine: running dmsetup, thin_dump and thin_delta, opening files and
// block devices (O_DIRECT, O_EXCL), fsync, BLKDISCARD, /sys/block. Inside
// dmsim, thinsync/simcmd registers it as the userland command "thinsync";
// on Linux, cmd/thinsync is the static binary the recorder puts into the
// guest, so that scripts/app-*.sh run the same code on both kernels.
package thinsync
