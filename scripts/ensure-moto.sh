#!/usr/bin/env bash
# Makes sure the S3-compatible test server (moto, from PyPI) is importable by python3: does
# nothing when it is, else installs "moto[server]" with pip; when that pip refuses (an
# externally managed Python), installs it into a venv under target/ instead and prints the
# venv's python, which scripts/test.sh exports as PILOTHOUSE_PYTHON for the tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

python="${PILOTHOUSE_PYTHON:-python3}"
if ! command -v "$python" >/dev/null 2>&1; then
    echo "error: $python not found; install Python 3 (Debian: apt-get install python3 python3-venv)" >&2
    exit 1
fi
if "$python" -c "import moto.server" >/dev/null 2>&1; then
    echo "$python"
    exit 0
fi
echo "moto not found: installing moto[server] from PyPI" >&2
if "$python" -m pip install --quiet "moto[server]" >&2; then
    echo "$python"
    exit 0
fi
venv=target/moto-venv
"$python" -m venv "$venv" >&2
"$venv/bin/python" -m pip install --quiet "moto[server]" >&2
echo "$venv/bin/python"
