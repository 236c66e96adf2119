#!/usr/bin/env bash
# Runs every check CI runs, in CI's order: formatting, clippy, the whole test suite against real
# headless Chromium, and the doctests. Installs Chromium (Debian's package), PostgreSQL (Debian's
# package), the S3 test server (moto, from PyPI) and cargo-nextest first when they are missing.
# The tests share one throwaway PostgreSQL cluster (each test makes a database of its own in it),
# removed when this script ends.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo not found; install a Rust toolchain (1.94 or newer)" >&2
    exit 1
fi

scripts/ensure-chromium.sh
PILOTHOUSE_PYTHON="$(scripts/ensure-moto.sh)"
export PILOTHOUSE_PYTHON

if ! cargo nextest --version >/dev/null 2>&1; then
    cargo install cargo-nextest --locked
fi

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
python3 scripts/check_structure.py
# An embedder's build: the engine and the facade without the CLI, the cloud upload backends or
# the PostgreSQL store.
cargo check -p pilothouse-actors --no-default-features
cargo check -p pilothouse --no-default-features --lib
pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/pilothouse-pg.XXXXXX")
trap 'scripts/pg-cluster.sh stop "$pg_dir"' EXIT
PILOTHOUSE_TEST_PG_URL=$(scripts/pg-cluster.sh start "$pg_dir")
export PILOTHOUSE_TEST_PG_URL
cargo nextest run --workspace
cargo test --doc --workspace
