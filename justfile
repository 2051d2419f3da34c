# dmsim tasks. `just --list` shows them.

# Record scenario scripts on the real kernel under qemu into goldens/ (all scripts/*.sh when none
# is named). Flags: --out DIR, --keep DIR, --disk NAME=PATH, -j N, --accel kvm|tcg, --timeout D.
record *ARGS:
    go run ./recorder/cmd/dmsim-record {{ARGS}}

# Boot the real kernel on metadata images written by dmsim (not wired yet: needs `dmsim run`).
crosscheck:
    @echo "crosscheck: not implemented yet. Plan: dmsim run --keep DIR scripts/X.sh, then" >&2
    @echo "  just record --out DIR --disk meta=DIR/X.meta.img scripts/crosscheck-open.sh" >&2
    @exit 1

# Replay a scenario script on dmsim and print its transcript (default scripts/example.sh).
# Flags before the script: --keep DIR (keep disk images as DIR/NAME.img), --disk NAME=PATH.
run *ARGS="scripts/example.sh":
    go run ./cmd/dmsim run {{ARGS}}

# The tests; then the golden test's count of scenarios identical to Linux 6.1.
test:
    go test ./...
    go test -count=1 -run TestGoldens -v ./script | grep 'scenarios identical'

# Interactive dmsim shell (--disk NAME=SIZE or NAME=PATH for other disks).
repl *ARGS:
    go run ./cmd/dmsim repl {{ARGS}}

# Fuzz the dmsetup command line and the script and transcript parsers, TIME each.
fuzz TIME="30s":
    go test -run XXX -fuzz '^FuzzArgs$' -fuzztime {{TIME}} ./dmsetup
    go test -run XXX -fuzz '^FuzzParse$' -fuzztime {{TIME}} ./script
    go test -run XXX -fuzz '^FuzzTranscriptLines$' -fuzztime {{TIME}} ./script

# Benchmarks: replay of the kernel-example fixture; dd through direct I/O and the page cache.
bench:
    go test -run XXX -bench . -benchmem ./script
