#!/usr/bin/env bash
# Runs the side-by-side benchmark (examples/bench_runs): issue 11's ten-step workload through
# bare chromiumoxide, Playwright and Pilothouse (context or process isolation, warm or cold pool,
# recording off or on) on the same Chromium, then the orchestrator's memory per run with an
# instant driver, and prints the tables and issue 11's goals.
# Installs playwright-core (the npm package only: it drives /usr/lib/chromium/chromium, no
# browser download) into target/bench-node when it is missing, then builds in release.
# Flags go to the benchmark: --runs N (c=1, default 10), --runs-c4 N (20), --runs-c8 N (24),
# --levels 1,4,8, --systems a,b,c,d,d-rec,d-proc,d-cold, --instant-runs N (10000),
# --overhead M.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/ensure-chromium.sh

node_dir=target/bench-node
if [ ! -f "$node_dir/node_modules/playwright-core/package.json" ]; then
    if ! command -v npm >/dev/null 2>&1; then
        echo "error: npm not found; install Node.js 18 or newer for the Playwright row" >&2
        exit 1
    fi
    mkdir -p "$node_dir"
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$node_dir" --no-audit --no-fund \
        playwright-core
fi

cargo build --release --example bench_runs
exec target/release/examples/bench_runs --playwright-dir "$node_dir" "$@"
