#!/usr/bin/env bash
# A private Podman engine with a small, believable set of containers, for the README's
# screenshots: nothing from the machine's own engines (or their tests) shows up in them.
#
#   packaging/demo_engine.sh start DIR   # prints the engine's URL (unix://DIR/podman.sock)
#   QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/screenshots.py \
#       --host unix://DIR/podman.sock --pages containers,images,volumes,networks,disk,engine
#   packaging/demo_engine.sh stop DIR    # stops the service and deletes DIR
#
# Everything (images, containers, volumes, networks) lives under DIR: its own storage
# root, run root and socket; the busybox binary comes from Debian's busybox-static.
set -euo pipefail
action=${1:?start or stop}
dir=$(realpath -m "${2:?a directory for the demo engine}")
sock="$dir/podman.sock"
# A shared network config dir would show (and keep) the demo's networks on the machine.
podman=(podman --root "$dir/root" --runroot "$dir/run" --network-config-dir "$dir/networks"
        --tmpdir "$dir/tmp")

case "$action" in
stop)
    if [ -f "$dir/service.pid" ]; then
        kill "$(cat "$dir/service.pid")" 2>/dev/null || true
    fi
    "${podman[@]}" rm -af -t 0 >/dev/null 2>&1 || true
    "${podman[@]}" network rm -f shop >/dev/null 2>&1 || true  # its bridge on the host
    "${podman[@]}" rmi -af >/dev/null 2>&1 || true  # unmounts the layers, then delete all
    # Podman mounts its overlay directory on itself (private propagation).
    grep -o " $dir/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount 2>/dev/null || true
    rm -rf "$dir"
    exit 0
    ;;
start) ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac

mkdir -p "$dir/networks" "$dir/tmp" "$dir/context"
# Podman asks for ulimits above what a container sandbox may allow unless told otherwise.
nofile=$(ulimit -Hn); [ "$nofile" = unlimited ] && nofile=65536
[ "$nofile" -gt 65536 ] && nofile=65536
printf '[containers]\ndefault_ulimits = ["nofile=%s:%s", "nproc=4096:4096"]\n' \
    "$nofile" "$nofile" >"$dir/containers.conf"
export CONTAINERS_CONF="$dir/containers.conf"
"${podman[@]}" system service --time=0 "unix://$sock" >"$dir/service.log" 2>&1 &
echo $! >"$dir/service.pid"
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || { cat "$dir/service.log" >&2; exit 1; }

busybox=$(command -v busybox-static || echo /bin/busybox)
cp "$busybox" "$dir/context/busybox"
cat >"$dir/context/Dockerfile" <<'EOF'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
EXPOSE 80
CMD ["httpd", "-f", "-v", "-p", "80", "-h", "/www"]
EOF
mkdir -p "$dir/context/www"
echo '<h1>Dockyard demo</h1>' >"$dir/context/www/index.html"
printf 'COPY www /www\n' >>"$dir/context/Dockerfile"
b=("${podman[@]}")
"${b[@]}" build -q --layers=false -t demo/web:1.4 "$dir/context" >/dev/null
"${b[@]}" tag demo/web:1.4 demo/web:latest
mkdir -p "$dir/worker"
printf 'FROM demo/web:1.4\nLABEL org.opencontainers.image.title=worker\nCMD ["sh"]\n' \
    >"$dir/worker/Dockerfile"
"${b[@]}" build -q --layers=false -t demo/worker:2.0 "$dir/worker" >/dev/null
"${b[@]}" volume create --label com.docker.compose.project=shop shop-data >/dev/null
"${b[@]}" volume create --label com.docker.compose.project=shop shop-cache >/dev/null
"${b[@]}" network create --label com.docker.compose.project=shop shop >/dev/null
run() { "${b[@]}" run -d "$@" >/dev/null; }
shop=(--label com.docker.compose.project=shop --network shop)
run --name shop-web-1 "${shop[@]}" --label com.docker.compose.service=web -p 8080:80 demo/web:1.4
run --name shop-api-1 "${shop[@]}" --label com.docker.compose.service=api -p 8081:80 \
    -v shop-data:/data demo/web:1.4
run --name shop-worker-1 "${shop[@]}" --label com.docker.compose.service=worker \
    -v shop-cache:/cache demo/worker:2.0 sh -c 'while true; do echo "job $((i+=1)) done"; sleep 2; done'
run --name notes -p 8090:80 demo/web:latest
"${b[@]}" create --name nightly-backup -v shop-data:/data demo/worker:2.0 \
    sh -c 'echo backing up; head -c 300000 /bin/busybox >/data/dump; exit 1' >/dev/null
"${b[@]}" start -a nightly-backup >/dev/null 2>&1 || true
"${b[@]}" create --name scratchpad demo/web:latest sh >/dev/null
# A few requests, so the web containers have something in their logs.
for port in 8080 8080 8081 8080 8090; do
    busybox wget -q -O /dev/null "http://127.0.0.1:$port/" || true
done
echo "unix://$sock"
