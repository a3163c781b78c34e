#!/usr/bin/env bash
# POST /ssh/sign, ferrica serve against step-ca 0.19 on the same machine, in one run: the same PKI and ca.json
# (made by `ferrica ca init --ssh`, which step-ca loads unchanged), the same load generator (examples/loadgen.rs
# with ENDPOINT=ssh: pre-minted JWK tokens with step's SSH claims, a P-256 user key, keep-alive TLS). Not a test:
# run it by hand and copy the figures into the README.
#   bash scripts/bench-ssh.sh                   # 3 rounds, 5 s per level at 16 and 64 clients
#   SECS=10 LEVELS=1,16,64 ROUNDS=5 bash scripts/bench-ssh.sh
# The servers take turns (ferrica, step-ca, ferrica, ...) and the ratio is of the medians over the rounds: this
# machine's speed drifts by 20% within minutes, and one round each would put that drift in the ratio.
# Needs step-ca (bash ../shared/peers/install-step.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-5}
LEVELS=${LEVELS:-16,64}
ROUNDS=${ROUNDS:-3}
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
for round in $(seq "$ROUNDS"); do
  for server in ferrica step-ca; do
    if [ "$server" = ferrica ]; then
      "$F" serve --password-file pw 2>"serve-$server.log" &
    else
      STEPPATH="$W/step" step-ca "$W/pki/config/ca.json" --password-file pw >"serve-$server.log" 2>&1 &
    fi
    SERVER=$!
    wait_port "$PORT"
    sleep 1
    OUT[$server.$round]=$(ENDPOINT=ssh SERVER_PID=$SERVER "$L" "$URL" pki/config/ca.json pki/certs/root_ca.crt pw "$SECS" "$LEVELS")
    kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
    SERVER=
    sleep 0.5
  done
done
echo "cores: $(nproc); POST /ssh/sign, P-256 user key, ES256 JWK tokens; ${SECS}s per level; $ROUNDS rounds, taking turns"
for round in $(seq "$ROUNDS"); do
  for server in ferrica step-ca; do
    echo
    echo "round $round, $server:"
    echo "${OUT[$server.$round]}"
  done
done
# Rows "| level | requests | req/s | p50 | p99 | server us | loadgen us |" of every round, tagged by server.
rows() { for round in $(seq "$ROUNDS"); do echo "${OUT[$1.$round]}" | tail -n +3 | sed "s/^/$1 $round /"; done; }
echo
echo "Medians over $ROUNDS rounds:"
echo
echo "| concurrency | ferrica req/s | step-ca req/s | ferrica / step-ca | per round | ferrica p99 ms | step-ca p99 ms |"
echo "|---:|---:|---:|---:|---|---:|---:|"
{ rows ferrica; rows step-ca; } | awk -F'|' '
  { split($1, t, " "); lvl = $2 + 0; srv = t[1]; r = t[2]
    rate[srv, lvl, r] = $4; p99[srv, lvl, r] = $6; if (!(lvl in seen)) { seen[lvl] = 1; order[++n] = lvl } }
  function median(srv, lvl, what,   i, j, k, v, tmp) {
    k = 0; for (i = 1; i <= R; i++) { v = (what == "rate") ? rate[srv, lvl, i] : p99[srv, lvl, i]
      for (j = ++k; j > 1 && tmp[j - 1] > v + 0; j--) tmp[j] = tmp[j - 1]; tmp[j] = v + 0 }
    return (k % 2) ? tmp[(k + 1) / 2] : (tmp[k / 2] + tmp[k / 2 + 1]) / 2 }
  END { for (j = 1; j <= n; j++) { l = order[j]; per = ""
      for (i = 1; i <= R; i++) per = per sprintf("%s%.2fx", (i > 1 ? " " : ""), rate["ferrica", l, i] / rate["step-ca", l, i])
      printf "| %d | %d | %d | %.2fx | %s | %.2f | %.2f |\n", l, median("ferrica", l, "rate"), median("step-ca", l, "rate"),
        median("ferrica", l, "rate") / median("step-ca", l, "rate"), per, median("ferrica", l, "p99"), median("step-ca", l, "p99") } }' R="$ROUNDS"
