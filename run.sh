#!/usr/bin/env bash
# Dockyard's run command: sets up .venv on first use, then opens the window.
#   ./run.sh                  the window, on the engine the docker CLI would use
#   ./run.sh --host URL       another engine
#   ./run.sh doctor [--json]  which engine, and why, without a window
set -euo pipefail
cd "$(dirname "$0")"
QT_LIBS=(python3-venv libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3
         libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
         libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1)
missing=()
for pkg in "${QT_LIBS[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null
    else
        echo "Qt needs these Debian packages: sudo apt-get install ${missing[*]}" >&2
    fi
fi
want="$(sha256sum pyproject.toml | cut -c1-16)"
[ -x .venv/bin/python ] || python3 -m venv .venv
if [ "$(cat .venv/.dockyard-run-stamp 2>/dev/null)" != "$want" ]; then
    .venv/bin/python -m pip install -q -e .
    echo "$want" > .venv/.dockyard-run-stamp
fi
exec .venv/bin/dockyard "$@"
