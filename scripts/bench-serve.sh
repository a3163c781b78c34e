#!/usr/bin/env bash
# /sign throughput of `ferrica serve` with its embedded store (redb), and its idle memory. Not a test: run it by
# hand and copy the figures into the README.
#   scripts/bench-serve.sh              # 5 s per level at concurrency 1, 16, 64
#   SECS=10 LEVELS=1,64 scripts/bench-serve.sh
# The load generator (examples/loadgen.rs) pre-mints the tokens, then keeps one keep-alive TLS connection per
# concurrent client; it runs on the same machine, so it takes CPU from the server: the table shows both processes'
# CPU time per request during each measured window.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-5}
LEVELS=${LEVELS:-1,16,64}
cargo build --release --locked -j2 --bin ferrica --example loadgen >&2
F="$PWD/target/release/ferrica"
L="$PWD/target/release/examples/loadgen"
W=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
cd "$W"
echo bench-password > pw
export FERRICA_PATH="$W/pki"
"$F" ca init --name Bench --dns 127.0.0.1 --provisioner bench --password-file pw >/dev/null 2>&1
# A 24h default lifetime; the test PKI's provisioner is used as is.
"$F" serve --password-file pw --address 127.0.0.1:0 2>serve.log &
PID=$!
for _ in $(seq 100); do grep -q listening serve.log 2>/dev/null && break; sleep 0.05; done
URL=$(head -1 serve.log | awk '{print $NF}')
sleep 1
curl -s --cacert pki/certs/root_ca.crt "$URL/health" >/dev/null
IDLE=$(awk '/VmRSS/ {print $2}' /proc/$PID/status)
echo "ferrica serve idle RSS: $((IDLE / 1024)) MiB ($IDLE kB)"
echo "cores: $(nproc); /sign with P-256 CSRs and ES256 tokens; ${SECS}s per level"
SERVER_PID=$PID "$L" "$URL" pki/config/ca.json pki/certs/root_ca.crt pw "$SECS" "$LEVELS"
PEAK=$(awk '/VmHWM/ {print $2}' /proc/$PID/status)
echo "ferrica serve peak RSS under load: $((PEAK / 1024)) MiB"
echo "issued: $(grep -c 'path=/1.0/sign status=201' serve.log || true) certificates"
