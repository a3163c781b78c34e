#!/usr/bin/env bash
# /sign throughput of `ferrica serve` with its embedded store (redb), and its memory. Not a test: run it by hand and
# copy the figures into the README.
#   scripts/bench-serve.sh                  # 5 s per level at concurrency 1, 16, 64
#   SECS=10 LEVELS=1,64 scripts/bench-serve.sh
#   scripts/bench-serve.sh --vs-step-ca     # the same load against step-ca 0.19 (badger) in the same run, with
#                                           # ratios and the P-256 crypto bound from `openssl speed` on these cores
#   FILL=1000000 scripts/bench-serve.sh     # then again with a store of FILL certificates (examples/fill-store.rs)
#   scripts/bench-serve.sh --vs-wrk         # then wrk (scripts/wrk-sign.lua, the same pre-minted tokens) at the same
#                                           # levels against the same server: loadgen's rates should match wrk's, and
#                                           # each generator's own CPU per request shows what it takes from the server
# The load generator (examples/loadgen.rs) pre-mints the tokens, then keeps one keep-alive TLS connection per
# concurrent client; it runs on the same machine, so it takes CPU from the server: the table shows both processes'
# CPU time per request during each measured window.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-5}
LEVELS=${LEVELS:-1,16,64}
VS=""
WRK=""
[ "${1:-}" = "--vs-step-ca" ] && VS=1
[ "${1:-}" = "--vs-wrk" ] && WRK=1
if [ -n "$WRK" ]; then
  command -v wrk >/dev/null || { echo "error: wrk is missing (apt-get install wrk)" >&2; exit 1; }
fi
LUA="$PWD/scripts/wrk-sign.lua"
if [ -n "$VS" ]; then
  command -v step-ca >/dev/null || { echo "error: step-ca is missing (bash ../shared/peers/install-step.sh)" >&2; exit 1; }
fi
cargo build --release --locked -j2 --bin ferrica --example loadgen --example fill-store >&2
F="$PWD/target/release/ferrica"
L="$PWD/target/release/examples/loadgen"
W=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
cd "$W"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
PORT=$(free_port)
echo bench-password > pw
export FERRICA_PATH="$W/pki"
# One PKI and ca.json for both servers (ca init writes step-ca's format); a 24h default lifetime.
"$F" ca init --name Bench --dns 127.0.0.1 --address "127.0.0.1:$PORT" --provisioner bench --password-file pw \
  >/dev/null 2>&1
"$F" serve --password-file pw 2>serve.log &
PID=$!
wait_port "$PORT"
sleep 1
curl -s --cacert pki/certs/root_ca.crt "https://127.0.0.1:$PORT/health" >/dev/null
IDLE=$(awk '/VmRSS/ {print $2}' /proc/$PID/status)
echo "ferrica serve idle RSS: $((IDLE / 1024)) MiB ($IDLE kB)"
echo "cores: $(nproc); /sign with P-256 CSRs and ES256 tokens; ${SECS}s per level"
FERRICA_OUT=$(SERVER_PID=$PID "$L" "https://127.0.0.1:$PORT" pki/config/ca.json pki/certs/root_ca.crt pw "$SECS" "$LEVELS")
echo "ferrica:"
echo "$FERRICA_OUT"
if [ -n "$WRK" ]; then
  # wrk on the same server at each level, with tokens minted the same way (single-use, so a fresh file per level).
  echo "wrk $(wrk --version 2>&1 | head -1 | awk '{print $2}'):"
  echo "| concurrency | wrk req/s | wrk p50 ms | wrk p99 ms | loadgen req/s | loadgen / wrk | server CPU µs/req under wrk | wrk CPU µs/req |"
  echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
  cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
  for c in $(echo "$LEVELS" | tr ',' ' '); do
    MINT=bodies.txt "$L" "https://127.0.0.1:$PORT" pki/config/ca.json pki/certs/root_ca.crt pw "$SECS" "$c" >/dev/null
    T=$((c < 2 ? 1 : 2))
    S0=$(cpu "$PID")
    /usr/bin/time -f "%U %S" -o wrk.time wrk -t"$T" -c"$c" -d"${SECS}s" --latency -s "$LUA" "https://127.0.0.1:$PORT" -- \
      bodies.txt "$T" >wrk.txt 2>&1
    S1=$(cpu "$PID")
    N=$(awk '/requests in/ {print $1}' wrk.txt)
    if grep -q "Non-2xx" wrk.txt; then echo "warning: wrk got refusals at $c clients:" >&2; cat wrk.txt >&2; fi
    RPS=$(awk '/Requests\/sec/ {print $2}' wrk.txt)
    ms() { awk -v p="$1" '$1 == p {v = $2; if (v ~ /us$/) {sub(/us/, "", v); v /= 1000} else if (v ~ /ms$/) {sub(/ms/, "", v)} else if (v ~ /s$/) {sub(/s/, "", v); v *= 1000}; printf "%.2f", v}' wrk.txt; }
    LG=$(echo "$FERRICA_OUT" | awk -F'|' -v c="$c" '$2 + 0 == c {gsub(/ /, "", $4); print $4}')
    awk -v c="$c" -v r="$RPS" -v p50="$(ms 50%)" -v p99="$(ms 99%)" -v lg="$LG" -v n="$N" -v s0="$S0" -v s1="$S1" \
      -v w="$(awk '{print $1 + $2}' wrk.time)" \
      'BEGIN {printf "| %s | %.0f | %s | %s | %s | %.2f | %.0f | %.0f |\n", c, r, p50, p99, lg, lg / r,
        (s1 - s0) * 1e4 / n, w * 1e6 / n}'
  done
fi
PEAK=$(awk '/VmHWM/ {print $2}' /proc/$PID/status)
echo "ferrica serve peak RSS under load: $((PEAK / 1024)) MiB"
echo "issued: $(grep -c 'path=/1.0/sign status=201' serve.log || true) certificates"
kill "$PID"; wait "$PID" 2>/dev/null || true; PID=

if [ -n "${FILL:-}" ]; then
  # The same load on a store that already holds FILL certificates (a fresh file, filled offline).
  rm -rf pki/db
  "$(dirname "$L")/fill-store" pki/config/ca.json "$FILL"
  "$F" serve --password-file pw 2>serve-filled.log &
  PID=$!
  wait_port "$PORT"
  sleep 1
  FILLED_OUT=$(SERVER_PID=$PID "$L" "https://127.0.0.1:$PORT" pki/config/ca.json pki/certs/root_ca.crt pw "$SECS" "$LEVELS")
  echo "ferrica with $FILL certificates in the store:"
  echo "$FILLED_OUT"
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
  echo
  echo "| clients | empty store req/s | $FILL certificates req/s | filled / empty |"
  echo "|---:|---:|---:|---:|"
  paste -d'#' <(echo "$FERRICA_OUT" | tail -n +3) <(echo "$FILLED_OUT" | tail -n +3) | awk -F'#' '{
    split($1, a, "|"); split($2, b, "|"); gsub(/ /, "", a[2]); gsub(/ /, "", a[4]); gsub(/ /, "", b[4]);
    printf "| %s | %s | %s | %.2f |\n", a[2], a[4], b[4], b[4] / a[4] }'
fi
[ -z "$VS" ] && exit 0

# step-ca on the same ca.json, with its default embedded store (badger) in the same directory.
STEPPATH="$W/step" step-ca pki/config/ca.json --password-file pw >serve-step.log 2>&1 &
PID=$!
wait_port "$PORT" || { echo "step-ca did not start:" >&2; cat serve-step.log >&2; exit 1; }
sleep 1
STEP_OUT=$(SERVER_PID=$PID "$L" "https://127.0.0.1:$PORT" pki/config/ca.json pki/certs/root_ca.crt pw "$SECS" "$LEVELS")
echo "step-ca $(step-ca version 2>/dev/null | head -1 | awk '{print $2}'):"
echo "$STEP_OUT"
kill "$PID"; wait "$PID" 2>/dev/null || true; PID=

# The crypto bound: every /sign verifies the token and the CSR (two P-256 verifies) and signs the certificate (one
# P-256 sign); openssl on all cores at once says how many of those these cores can do.
SPEED=$(openssl speed -seconds 3 -multi "$(nproc)" ecdsap256 2>/dev/null | awk '/^ *256 bits ecdsa/ {print $(NF-1), $NF}' | tail -1)
SIGN=$(echo "$SPEED" | awk '{print $1}')
VERIFY=$(echo "$SPEED" | awk '{print $2}')
BOUND=$(awk -v s="$SIGN" -v v="$VERIFY" 'BEGIN {printf "%.0f", 1 / (2 / v + 1 / s)}')
echo
echo "openssl speed ecdsap256 on $(nproc) cores: $SIGN signs/s, $VERIFY verifies/s: crypto bound $BOUND /sign per second"
echo
echo "| clients | ferrica req/s | step-ca req/s | ferrica / step-ca | ferrica p50 / p99 ms | step-ca p50 / p99 ms | CPU µs/cert ferrica / step-ca | ferrica % of crypto bound |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
paste -d'#' <(echo "$FERRICA_OUT" | tail -n +3) <(echo "$STEP_OUT" | tail -n +3) | awk -F'#' -v bound="$BOUND" '{
  split($1, a, "|"); split($2, b, "|");
  gsub(/ /, "", a[4]); gsub(/ /, "", b[4]);
  printf "| %s | %s | %s | %.2fx | %s / %s | %s / %s | %s / %s | %.0f%% |\n", a[2], a[4], b[4], a[4] / b[4],
    a[5], a[6], b[5], b[6], a[7], b[7], 100 * a[4] / bound }'
