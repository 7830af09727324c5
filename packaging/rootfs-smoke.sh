#!/usr/bin/env bash
# rootfs-smoke.sh BINARY: runs a release binary the way the Docker image
# does (Dockerfile: distroless static, nonroot), without a Docker engine:
# chrooted into a root that holds only the binary, /data, /tmp and the
# passwd/group lines distroless ships, as uid 65532 with VTPEER_HOME=/data.
# It checks that `serve --turn` starts there, that `vtpeer doctor` from the
# host finds it healthy, that its state lands in /data, and that SIGTERM
# stops it gracefully (exit 0). Needs root (chroot).
set -euo pipefail
bin=$(readlink -f "$1")
root=$(mktemp -d)
log=$(mktemp)
pid=
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  rm -rf "$root" "$log"
}
trap cleanup EXIT

chmod 755 "$root"
mkdir -p "$root/usr/bin" "$root/data" "$root/tmp" "$root/etc"
cp "$bin" "$root/usr/bin/vtpeer"
chmod 1777 "$root/tmp"
chown 65532:65532 "$root/data"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$root/etc/group"

env -i VTPEER_HOME=/data "$(command -v chroot)" --userspec=65532:65532 "$root" /usr/bin/vtpeer \
  serve --addr 127.0.0.1:0 --turn --turn-addr 127.0.0.1:0 --log-format json >"$log" 2>&1 &
pid=$!
addr=
for _ in $(seq 1 300); do # up to 30 s
  addr=$(sed -n 's/.*"msg":"listening","addr":"\([^"]*\)".*/\1/p' "$log" | head -n1)
  [ -n "$addr" ] && break
  kill -0 "$pid" 2>/dev/null || { echo "serve exited in the image-like root:"; cat "$log"; exit 1; }
  sleep 0.1
done
[ -n "$addr" ] || { echo "serve did not listen within 30 s:"; cat "$log"; exit 1; }
echo "serve listens on $addr in the image-like root as uid 65532"

home=$(mktemp -d)
report=$(VTPEER_HOME="$home" "$bin" doctor --server "ws://$addr" --json --timeout 15s || true)
rm -rf "$home"
for check in healthz websocket protocol turn-udp turn-tcp; do
  echo "$report" | grep -q "\"check\":\"$check\",\"status\":\"ok\"" ||
    { echo "doctor: $check is not ok:"; echo "$report"; cat "$log"; exit 1; }
done
echo "doctor from the host: healthz, websocket, protocol, turn-udp and turn-tcp ok"

[ -n "$(find "$root/data" -mindepth 1 -user 65532 -print -quit)" ] ||
  { echo "serve wrote no state under /data as uid 65532:"; ls -laR "$root/data"; exit 1; }

kill -TERM "$pid"
code=0
wait "$pid" || code=$?
pid=
[ "$code" = 0 ] || { echo "serve exited $code on SIGTERM, want 0:"; cat "$log"; exit 1; }
echo "SIGTERM: graceful stop, exit 0"
