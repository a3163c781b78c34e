#!/usr/bin/env bash
# ACME, ferrica serve against step-ca 0.19 on the same machine, the same PKI and ca.json (made by `ferrica ca init`,
# which step-ca loads unchanged), in one run. Not a test: run it by hand and copy the figures into the README.
#   bash scripts/bench-acme.sh                 # 20 lego runs per server, then orders/s at 16 and 64 clients
#   N=50 SECS=10 LEVELS=16,64 bash scripts/bench-acme.sh
# 1. lego's whole process (new account, order, http-01, finalize, download), median wall time.
#    Also the server's own time per lego run: the request durations in its log, summed (ferrica's `micros=`,
#    step-ca's `duration-ns=`). lego 4.9 sleeps 1 s / 18 (55.6 ms) before it fetches each authorization
#    (certificate/authorization.go, overallRequestLimit), so its whole run cannot go below that whatever the server.
# 2. completed orders per second (examples/acme_loadgen.rs: instant-acme accounts, one shared http-01 responder).
# Needs root (http-01 validation of step-ca connects to port 80), lego and pebble-challtestsrv
# (scripts/install-test-deps.sh), step-ca (bash ../shared/peers/install-step.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-20}
SECS=${SECS:-5}
LEVELS=${LEVELS:-16,64}
for t in lego pebble-challtestsrv step-ca; do
  command -v "$t" >/dev/null || { echo "error: $t is missing (scripts/install-test-deps.sh, ../shared/peers/install-step.sh)" >&2; exit 1; }
done
cargo build --release --locked -j2 --bin ferrica --example acme_loadgen >&2
F="$PWD/target/release/ferrica"
L="$PWD/target/release/examples/acme_loadgen"
W=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT
cd "$W"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
CA_PORT=$(port); DNS_PORT=$(port); MGMT_PORT=$(port)
pebble-challtestsrv -dns01 "127.0.0.1:$DNS_PORT" -http01 "" -https01 "" -tlsalpn01 "" \
  -management "127.0.0.1:$MGMT_PORT" -defaultIPv4 127.0.0.1 -defaultIPv6 "" >/dev/null 2>&1 &
PIDS+=($!)
echo bench-password > pw
export FERRICA_PATH="$W/pki"
"$F" ca init --name Bench --dns 127.0.0.1 --address "127.0.0.1:$CA_PORT" --provisioner bench --password-file pw >/dev/null 2>&1
"$F" ca provisioner add acme --type ACME >/dev/null 2>&1
DIRECTORY="https://127.0.0.1:$CA_PORT/acme/acme/directory"
export LEGO_CA_CERTIFICATES="$W/pki/certs/root_ca.crt"

wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

lego_runs() { # $1 = label; prints the median ms of N whole lego runs
  local times=()
  for i in $(seq "$N"); do
    local t0 t1
    t0=$(date +%s%N)
    lego --path "lego-$1-$i" --server "$DIRECTORY" --email "b$i@bench.test" --accept-tos \
      --domains "l$i.$1.bench.test" --http --http.port 127.0.0.1:80 run >"lego-$1-$i.log" 2>&1 \
      || { echo "lego failed against $1:" >&2; tail -3 "lego-$1-$i.log" >&2; exit 1; }
    t1=$(date +%s%N)
    times+=($(((t1 - t0) / 1000000)))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

server_ms() { # $1 = ferrica|step-ca; the server's time per lego run, ms, from the request durations it logged
  sed 's/\x1b\[[0-9;]*m//g' "serve-$1.log" | grep -o -E '(micros|duration-ns)=[0-9]+' |
    awk -F= -v n="$N" '{s += ($1 == "micros" ? $2 * 1000 : $2)} END {printf "%.1f", s / 1e6 / n}'
}

run_server() { # $1 = ferrica|step-ca
  if [ "$1" = ferrica ]; then
    "$F" serve --password-file pw --acme-http-port 80 --resolver "127.0.0.1:$DNS_PORT" 2>"serve-$1.log" &
  else
    STEPPATH="$W/step" step-ca "$W/pki/config/ca.json" --password-file pw --resolver "127.0.0.1:$DNS_PORT" >"serve-$1.log" 2>&1 &
  fi
  SERVER=$!
  PIDS+=("$SERVER")
  wait_port "$CA_PORT"
  sleep 0.5
}

declare -A LEGO ORDERS SERVER_MS
for server in ferrica step-ca; do
  run_server "$server"
  LEGO[$server]=$(lego_runs "$server")
  SERVER_MS[$server]=$(server_ms "$server")
  ORDERS[$server]=$("$L" "$DIRECTORY" "$W/pki/certs/root_ca.crt" 127.0.0.1:80 "$SECS" "$LEVELS")
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
  sleep 0.5
done

echo "cores: $(nproc); lego $(lego --version | awk '{print $3}'), $N runs per server; orders: ${SECS}s per level"
echo
echo "| | ferrica | step-ca 0.19 | ferrica / step-ca |"
echo "|---|---:|---:|---:|"
awk -v f="${LEGO[ferrica]}" -v s="${LEGO[step-ca]}" 'BEGIN {printf "| lego whole run, median ms | %d | %d | %.2fx |\n", f, s, f / s}'
awk -v f="${SERVER_MS[ferrica]}" -v s="${SERVER_MS[step-ca]}" \
  'BEGIN {printf "| server time per lego run (its log), mean ms | %.1f | %.1f | %.2fx |\n", f, s, f / s}'
for level in ${LEVELS//,/ }; do
  fo=$(grep "clients=$level " <<<"${ORDERS[ferrica]}" | sed 's/.*orders\/s=\([0-9.]*\).*/\1/')
  so=$(grep "clients=$level " <<<"${ORDERS[step-ca]}" | sed 's/.*orders\/s=\([0-9.]*\).*/\1/')
  fp=$(grep "clients=$level " <<<"${ORDERS[ferrica]}" | sed 's/.*p99_ms=\([0-9.]*\).*/\1/')
  sp=$(grep "clients=$level " <<<"${ORDERS[step-ca]}" | sed 's/.*p99_ms=\([0-9.]*\).*/\1/')
  awk -v l="$level" -v f="$fo" -v s="$so" -v fp="$fp" -v sp="$sp" \
    'BEGIN {printf "| orders/s at %d clients (p99 ms) | %.1f (%.0f) | %.1f (%.0f) | %.2fx |\n", l, f, fp, s, sp, (s > 0 ? f / s : 0)}'
done
echo
echo "raw:"; for s in ferrica step-ca; do echo "$s:"; echo "${ORDERS[$s]}"; done
