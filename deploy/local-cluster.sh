#!/usr/bin/env bash
# A 3-node talon cluster on loopback with the demo region, in the foreground:
#   deploy/local-cluster.sh          (Ctrl-C stops it; data stays in data/local-cluster)
# Nodes n1..n3 serve HTTP on 127.0.0.1:8081..8083 and Raft on 127.0.0.1:7001..7003.
# The cluster port speaks mutual TLS: the script makes a region CA in $dir/ca and a
# certificate per node in $dir/n*.tls on first start.
# TALON_LOCAL_DIR changes the data folder; TALON_LOCAL_PORT the first HTTP port.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${TALON_LOCAL_DIR:-data/local-cluster}
port=${TALON_LOCAL_PORT:-8081}
raft=$((port - 1080))
mkdir -p "$dir/bin"
go build -o "$dir/bin/" ./cmd/talond ./cmd/talonctl
"$dir/bin/talonctl" keygen "$dir/qr.seed" >/dev/null

[ -f "$dir/ca/ca.key" ] || "$dir/bin/talonctl" ca "$dir/ca" local >/dev/null
for i in 1 2 3; do
  [ -f "$dir/n$i.tls/node.crt" ] || "$dir/bin/talonctl" cert "$dir/ca" "n$i" "$dir/n$i.tls" 127.0.0.1 >/dev/null
done

join=""
for i in 0 1 2; do join="$join${join:+,}127.0.0.1:$((raft + i))"; done
pids=()
stop() {
  trap - INT TERM EXIT
  echo "stopping the cluster"
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap stop INT TERM EXIT
for i in 1 2 3; do
  "$dir/bin/talond" -id "n$i" -data "$dir/n$i" -http "127.0.0.1:$((port + i - 1))" -raft "127.0.0.1:$((raft + i - 1))" \
    -bootstrap-expect 3 -join "$join" -qr-key "$dir/qr.seed" -tls-dir "$dir/n$i.tls" >"$dir/n$i.log" 2>&1 &
  pids+=($!)
done

ctl() { "$dir/bin/talonctl" -addr "http://127.0.0.1:$port" "$@"; }
for _ in $(seq 1 150); do
  if ctl status >/dev/null 2>&1; then break; fi
  sleep 0.2
done
ctl status
cat <<MSG

talon cluster of 3 nodes: any node takes every request.
  http://127.0.0.1:$port/api/v1/offices   http://127.0.0.1:$((port + 1))/api/v1/offices   http://127.0.0.1:$((port + 2))/api/v1/offices
  $dir/bin/talonctl -addr http://127.0.0.1:$port status
logs in $dir/n*.log; Ctrl-C stops the cluster.
MSG
wait "${pids[@]}"
