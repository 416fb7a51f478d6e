#!/usr/bin/env bash
# Dockyard's test command: provisions what the tests need, then lints, type-checks and
# runs pytest against a real engine.  On a fresh Debian machine as root (as in CI) it
# installs the Debian packages and starts dockerd itself; on a developer's machine it
# uses the engine already running and touches only what the tests create.
#   ./test.sh                 everything (what CI runs): Docker, Podman, a registry, the bundle
#   ./test.sh --fast          only what needs no engine and no bundle (< 2 min); starts nothing
#   ./test.sh tests/engine    extra arguments go to pytest
# Waits scale with DOCKYARD_TEST_SLOWDOWN (tests/waits.py; 2 by default, 4 when CI is set).
set -euo pipefail
cd "$(dirname "$0")"

FAST=0
for arg in "$@"; do
    [ "$arg" = "--fast" ] && FAST=1
done

# What every tier needs: Python, Qt's runtime libraries, the packaging validators, and a
# private session bus with a real notification service (dunst on Xvfb) for notifications.
BASE_PACKAGES=(python3-venv openssl dbus-daemon dunst xvfb
               libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3
               libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
               libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 fonts-dejavu-core
               desktop-file-utils appstream)
# What the full run adds: the engines, the test image's busybox, a registry, sshd for
# engines over ssh, ip for the TLS dockerd's bridge, X for the bundle.
# debootstrap makes Docker 26's root (tests/docker26.py; cached in /var/cache/dockyard-test).
ENGINE_PACKAGES=(docker.io busybox-static podman xvfb docker-registry openssh-server iproute2 debootstrap
                 docker-compose podman-compose)
DEB_PACKAGES=("${BASE_PACKAGES[@]}")
[ $FAST -eq 1 ] || DEB_PACKAGES+=("${ENGINE_PACKAGES[@]}")
STATE_DIR="${TMPDIR:-/tmp}/dockyard-test-run"
mkdir -p "$STATE_DIR"

log() { printf '\033[1m== %s\033[0m\n' "$*"; }

install_debian_packages() {
    local missing=()
    for pkg in "${DEB_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
        echo "missing Debian packages: ${missing[*]} (install them, or run this as root)" >&2
        return 0
    fi
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

setup_venv() {
    local stamp=.venv/.dockyard-stamp want
    want="$(sha256sum pyproject.toml | cut -c1-16)"
    if [ ! -x .venv/bin/python ]; then
        log "creating .venv"
        python3 -m venv .venv
    fi
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        log "installing Python dependencies"
        .venv/bin/python -m pip install -q --upgrade pip >/dev/null
        .venv/bin/python -m pip install -q -e '.[test]'
        echo "$want" > "$stamp"
    fi
}

engine_answers() {
    .venv/bin/python - <<'PY' 2>/dev/null
import asyncio, sys
import engine
async def main() -> int:
    try:
        client, _ = await engine.discover()
    except engine.EngineError:
        return 1
    await client.aclose()
    return 0
sys.exit(asyncio.run(main()))
PY
}

DOCKERD_PID=""
start_dockerd() {
    if engine_answers; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ] || ! command -v dockerd >/dev/null; then
        echo "no container engine answers and dockerd cannot be started here;" \
             "Docker tests will be skipped" >&2
        return 0
    fi
    log "starting dockerd"
    dockerd >"$STATE_DIR/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    for _ in $(seq 1 120); do
        engine_answers && return 0
        sleep 0.5
    done
    echo "dockerd did not come up; its log:" >&2
    tail -50 "$STATE_DIR/dockerd.log" >&2
    exit 1
}

stop_dockerd() {
    if [ -n "$DOCKERD_PID" ]; then
        kill "$DOCKERD_PID" 2>/dev/null || true
        wait "$DOCKERD_PID" 2>/dev/null || true
    fi
}
trap stop_dockerd EXIT

install_debian_packages
setup_venv
if [ $FAST -eq 1 ]; then
    log "fast tier: no engine is started, no bundle is built"
else
    start_dockerd
fi

log "ruff"
.venv/bin/ruff check engine app tests
log "mypy"
.venv/bin/mypy
log "import contracts"
.venv/bin/lint-imports
log "pytest"
export QT_QPA_PLATFORM=offscreen
set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [ $status -eq 5 ]; then
    echo "pytest collected no tests: that is a failure" >&2
    exit 1
fi
exit $status
