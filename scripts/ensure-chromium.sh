#!/usr/bin/env bash
# Makes sure a Chromium is installed: does nothing when one is found (PILOTHOUSE_CHROMIUM,
# /usr/lib/chromium/chromium or /usr/bin/chromium), else installs Debian's `chromium` package
# with apt-get. Used by scripts/demo.sh and scripts/test.sh; safe to run on its own.
set -euo pipefail

if [[ -n "${PILOTHOUSE_CHROMIUM:-}" && -x "${PILOTHOUSE_CHROMIUM}" ]]; then
    exit 0
fi
for candidate in /usr/lib/chromium/chromium /usr/bin/chromium; do
    if [[ -x "$candidate" ]]; then
        exit 0
    fi
done

if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: no Chromium found and apt-get is not available;" \
        "install Chromium and set PILOTHOUSE_CHROMIUM to its path" >&2
    exit 1
fi

sudo=()
if [[ "$(id -u)" -ne 0 ]]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "error: no Chromium found; run as root or install sudo to let apt-get install it" >&2
        exit 1
    fi
    sudo=(sudo)
fi

echo "no Chromium found: installing Debian's chromium package" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update
# fonts-liberation gives pages and screenshots real fonts without the recommended extras.
"${sudo[@]}" apt-get install -y --no-install-recommends chromium fonts-liberation
