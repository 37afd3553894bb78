#!/bin/sh
# Build the CircuitDesk desktop bundle: dist/circuitdesk/ and dist/circuitdesk-VERSION-OS-ARCH.tar.gz
#
#   packaging/build.sh [--out DIR] [--work DIR] [--no-archive]
#
# Uses $PYTHON if set, else .venv/bin/python when it has PyInstaller (the dev install has it),
# else makes build/bundle-venv with Python 3.11 and pip-installs ".[bundle]" into it (no torch).
# Nothing else is downloaded. On Windows, run the spec directly from a venv with ".[bundle]":
#   python -m PyInstaller --noconfirm packaging\circuitdesk.spec
set -eu
cd "$(dirname "$0")/.."

has_pyinstaller() { "$1" -c "import PyInstaller" >/dev/null 2>&1; }

PY=${PYTHON:-}
if [ -z "$PY" ]; then
    if [ -x .venv/bin/python ] && has_pyinstaller .venv/bin/python; then
        PY=.venv/bin/python
    else
        PY=build/bundle-venv/bin/python
        if ! has_pyinstaller "$PY"; then
            echo "build.sh: setting up build/bundle-venv (pip install \".[bundle]\")" >&2
            python3.11 -m venv build/bundle-venv
            "$PY" -m pip install -q ".[bundle]"
        fi
    fi
fi
if ! has_pyinstaller "$PY"; then
    echo "build.sh: $PY has no PyInstaller; install it with: $PY -m pip install \".[bundle]\"" >&2
    exit 1
fi
exec "$PY" packaging/bundle_build.py "$@"
