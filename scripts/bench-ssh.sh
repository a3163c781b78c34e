#!/usr/bin/env bash
# POST /ssh/sign, ferrica serve against step-ca 0.19 on the same machine, in one run: the same PKI and ca.json
# (made by `ferrica ca init --ssh`, which step-ca loads unchanged), the same load generator (examples/loadgen.rs
# with ENDPOINT=ssh: pre-minted JWK tokens with step's SSH claims, a P-256 user key, keep-alive TLS). Not a test:
# run it by hand and copy the figures into the README.
#   bash scripts/bench-ssh.sh                   # 5 s per level at 16 and 64 clients
#   SECS=10 LEVELS=1,16,64 bash scripts/bench-ssh.sh
# Needs step-ca (bash ../shared/peers/install-step.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-5}
LEVELS=${LEVELS:-16,64}
command -v step-ca >/dev/null || { echo "error: step-ca is missing (bash ../shared/peers/install-step.sh)" >&2; exit 1; }
cargo build --release --locked -j2 --bin ferrica --example loadgen >&2
F="$PWD/target/release/ferrica"
L="$PWD/target/release/examples/loadgen"
W=$(mktemp -d)
SERVER=
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
cd "$W"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL="https://127.0.0.1:$PORT"
echo bench-password > pw
export FERRICA_PATH="$W/pki"
"$F" ca init --ssh --name Bench --dns 127.0.0.1 --address "127.0.0.1:$PORT" --provisioner bench --password-file pw >/dev/null 2>&1
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
declare -A OUT
for server in ferrica step-ca; do
  if [ "$server" = ferrica ]; then
    "$F" serve --password-file pw 2>"serve-$server.log" &
  else
    STEPPATH="$W/step" step-ca "$W/pki/config/ca.json" --password-file pw >"serve-$server.log" 2>&1 &
  fi
  SERVER=$!
  wait_port "$PORT"
  sleep 1
  OUT[$server]=$(ENDPOINT=ssh SERVER_PID=$SERVER "$L" "$URL" pki/config/ca.json pki/certs/root_ca.crt pw "$SECS" "$LEVELS")
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
  SERVER=
  sleep 0.5
done
echo "cores: $(nproc); POST /ssh/sign, P-256 user key, ES256 JWK tokens; ${SECS}s per level"
for server in ferrica step-ca; do
  echo
  echo "$server:"
  echo "${OUT[$server]}"
done
echo
echo "| concurrency | ferrica req/s | step-ca req/s | ferrica / step-ca | ferrica p99 ms | step-ca p99 ms |"
echo "|---:|---:|---:|---:|---:|---:|"
paste <(echo "${OUT[ferrica]}" | tail -n +3) <(echo "${OUT[step-ca]}" | tail -n +3) | awk -F'|' '{
  printf "| %s | %s | %s | %.2fx | %s | %s |\n", $2, $4, $12, $4 / $12, $6, $14 }'
