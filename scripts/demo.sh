#!/usr/bin/env bash
# Runs the demo: serves the bundled demo site on 127.0.0.1 and runs the example requests of
# config/examples/ concurrently on headless Chromium, on the embedded default config. Installs
# Debian's chromium first when no Chromium is found. Extra arguments go to `pilothouse demo`
# (e.g. `scripts/demo.sh --port 0`, `scripts/demo.sh --serve-only`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo not found; install a Rust toolchain (1.94 or newer)" >&2
    exit 1
fi

scripts/ensure-chromium.sh
exec cargo run --release -- demo "$@"
