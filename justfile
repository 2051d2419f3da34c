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
