#!/usr/bin/env bash
# Runs every check CI runs, in CI's order: formatting, clippy, the whole test suite against real
# headless Chromium, and the doctests. Installs Chromium (Debian's package), the S3 test server
# (moto, from PyPI) and cargo-nextest first when they are missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo not found; install a Rust toolchain (1.89 or newer)" >&2
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
cargo nextest run --workspace
cargo test --doc --workspace
