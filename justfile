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

# gofmt, go vet and staticcheck (installs the pinned staticcheck if needed).
lint:
    .ci/lint

# Exactly what CI runs (.ci/run): installs the reference tools with apt-get (needs root), lints,
# then go test -race and the golden count.
ci:
    bash .ci/run

# containerd v2.3.4's devmapper tests, unmodified, as root under `dmsim exec` (consumers/containerd);
# one line per test with its pass count. Flags: -tests T1,T2, -v, -keep, -timeout D, -parallel N,
# -rebuild, -no-dmsim (the baseline without dmsim).
consumers *ARGS:
    .ci/consumers {{ARGS}}

# Build the LD_PRELOAD bridge (docs/bridge.md) into OUT: the real dmsetup on dmsim's ioctls, e.g.
# `dmsim exec -- env LD_PRELOAD=$PWD/bin/dmsim-preload.so /usr/sbin/dmsetup ls`.
preload OUT="bin/dmsim-preload.so":
    mkdir -p "$(dirname {{OUT}})"
    go run ./cmd/dmsim preload {{OUT}}

# Interactive dmsim shell (--disk NAME=SIZE or NAME=PATH for other disks).
repl *ARGS:
    go run ./cmd/dmsim repl {{ARGS}}

# Run every fuzz target in the tree for TIME each (go test -fuzz takes one target at a time).
fuzz TIME="30s":
    #!/usr/bin/env bash
    set -euo pipefail
    grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u | while read -r pkg; do
        for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$pkg"/*_test.go | cut -d' ' -f2); do
            echo "== $pkg $f"
            go test -run XXX -fuzz "^$f\$" -fuzztime {{TIME}} "$pkg"
        done
    done

# DMSIM_BENCH_MAPPINGS=10000000 scales BenchmarkPoolScale to the 10M-mapping pool.
# Benchmarks (figures in README.md): metadata, thin targets, thin_check, core, runner.
bench:
    go test -run XXX -bench . -benchmem ./thinmeta ./targets/thin ./dmsim ./script
    go test -run XXX -bench ThinCheck1GiB -benchtime 1x ./thintools

# The tools against the real thin-provisioning-tools 0.9.0, side by side in one run (README's
# table): thin_check, thin_dump and thin_restore on issue 13's 10M scattered mappings (restore's
# image compared with 0.9.0's byte for byte), thin_check on the 1 GiB image. COUNT runs of each,
# summed up by benchstat when it is installed (go install golang.org/x/perf/cmd/benchstat@latest).
# Images are kept in $DMSIM_BENCH_DIR (default $TMPDIR/dmsim-bench).
bench-tools COUNT="3":
    #!/usr/bin/env bash
    set -euo pipefail
    out=$(mktemp)
    go test ./thintools -run XXX -bench 'Scattered|ThinCheck1GiB' -benchtime 1x -count {{COUNT}} -timeout 90m | tee "$out"
    if command -v benchstat >/dev/null; then benchstat "$out"; fi

# The 100M-mapping pool: built, committed and checked (takes long; RSS and insert rate), then the
# 1M pool to compare with. DEVICE=memory puts the metadata in memory instead of a file: the same
# work without the host's system calls (its peak RSS counts the 2 GiB device).
bench-100m DEVICE="file":
    DMSIM_BENCH_DEVICE={{DEVICE}} DMSIM_BENCH_MAPPINGS=100000000 go test ./thinmeta -run XXX -bench PoolScale -benchtime 1x -timeout 90m
    DMSIM_BENCH_DEVICE={{DEVICE}} go test ./thinmeta -run XXX -bench PoolScale -benchtime 1x -count 3

# The fault sweeps in full (go test samples them): fail the k-th I/O of every disk for every k, and
# corrupt every metadata block read, over the sweep scenarios; counts per class in the log.
fault-sweep:
    go test ./faultsweep -run TestSweeps -v -count=1 -timeout 60m -faultsweep.full
