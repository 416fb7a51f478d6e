#!/usr/bin/env bash
# Build Dockyard's one-folder PyInstaller bundle: dist/dockyard/dockyard (+ _internal/).
#   packaging/build_bundle.sh                     with .venv (PyInstaller added if missing)
#   PYTHON=/other/venv/bin/python packaging/build_bundle.sh
#   DIST=/tmp/out WORK=/tmp/work packaging/build_bundle.sh
# Then: dist/dockyard/dockyard doctor --json, or QT_QPA_PLATFORM=offscreen
# dist/dockyard/dockyard --smoke-test (opens the window, exits 0 after its first paint).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-.venv/bin/python}"
DIST="${DIST:-dist}"
WORK="${WORK:-build/pyinstaller}"

if [ ! -x "$PYTHON" ]; then
    echo "no Python at $PYTHON: run ./test.sh or ./run.sh once to create .venv" >&2
    exit 1
fi
if ! "$PYTHON" -c 'import PyInstaller' 2>/dev/null; then
    echo "== installing PyInstaller (the 'packaging' extra)"
    "$PYTHON" -m pip install -q 'pyinstaller>=6.10'
fi

start=$(date +%s)
"$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$DIST" --workpath "$WORK" packaging/dockyard.spec
took=$(( $(date +%s) - start ))
echo "== built $DIST/dockyard in ${took}s; size $(du -sh "$DIST/dockyard" | cut -f1)"
