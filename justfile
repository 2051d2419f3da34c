# dmsim tasks. `just --list` shows them.

# Record scenario scripts on the real kernel under qemu into goldens/ (all scripts/*.sh when none
# is named). Flags: --out DIR, --keep DIR, --disk NAME=PATH, -j N, --accel kvm|tcg, --timeout D.
record *ARGS:
    go run ./recorder/cmd/dmsim-record {{ARGS}}

# Each script's part before its first `# reboot` runs in dmsim (`dmsim run --keep`), the rest on the
# kernel (the recorder's `--disk`, on dmsim's images) and in dmsim; exits 1 if the transcripts or the
# final thin_dump differ. Flags: -j N, --keep DIR, --accel kvm|tcg, --dmsim BINARY.
# Boot the real kernel on pools built by dmsim and compare with dmsim (scripts/crosscheck/*.sh).
crosscheck *ARGS:
    go run ./recorder/cmd/dmsim-crosscheck {{ARGS}}

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
