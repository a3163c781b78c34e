#!/usr/bin/env bash
# POST /sign with a shared database, in one run: one and two `ferrica serve` on PostgreSQL, against step-ca 0.19 on
# MySQL (MariaDB) and on its embedded badger. Debian's step-ca 0.19 is built without its PostgreSQL driver (Debian's
# smallstep/nosql 0.3.8 has badger, bbolt and MySQL only), so MySQL is step-ca's shared-database baseline here. Then
# OCSP answers per second: a pre-signed answer (no nonce) and a freshly signed one (a nonce in every request).
# Not a test: run it by hand and copy the figures into the README.
#   bash scripts/bench-postgres.sh              # 5 s per level at 16 and 64 clients
#   SECS=10 LEVELS=16,64 bash scripts/bench-postgres.sh
# Needs step-ca (bash ../shared/peers/install-step.sh), PostgreSQL's and MariaDB's server binaries
# (bash scripts/install-test-deps.sh --bench). The databases run in a temporary directory on unix sockets, with
# their default durability (fsync on every commit).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-5}
LEVELS=${LEVELS:-16,64}
command -v step-ca >/dev/null || { echo "error: step-ca is missing (bash ../shared/peers/install-step.sh)" >&2; exit 1; }
PGBIN=$(dirname "$(compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort | tail -1)")
[ -x "$PGBIN/initdb" ] || { echo "error: PostgreSQL's initdb is missing" >&2; exit 1; }
[ -x /usr/sbin/mariadbd ] || { echo "error: mariadbd is missing (bash scripts/install-test-deps.sh --bench)" >&2; exit 1; }
cargo build --release --locked -j2 --bin ferrica --example loadgen >&2
F="$PWD/target/release/ferrica"
L="$PWD/target/release/examples/loadgen"
W=$(mktemp -d)
chmod 755 "$W"
PIDS=()
as() { if [ "$(id -u)" -eq 0 ]; then runuser -u "$1" -- "${@:2}"; else "${@:2}"; fi; }
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  as postgres "$PGBIN/pg_ctl" -D "$W/pg" -m immediate stop >/dev/null 2>&1 || true
  [ -f "$W/my/my.pid" ] && kill "$(cat "$W/my/my.pid")" 2>/dev/null || true
  sleep 0.5
  rm -rf "$W"
}
trap cleanup EXIT
cd "$W"

# PostgreSQL and MariaDB, each on a socket in $W.
mkdir pg pgsock && chown postgres: pg pgsock 2>/dev/null || true
as postgres "$PGBIN/initdb" -D "$W/pg" -U postgres --auth=trust -E UTF8 >/dev/null
as postgres "$PGBIN/pg_ctl" -D "$W/pg" -l "$W/pgsock/pg.log" -w \
  -o "-c listen_addresses='' -c unix_socket_directories='$W/pgsock' -c max_connections=200" start >/dev/null
mkdir my && chown mysql: my 2>/dev/null || true
mariadb-install-db --no-defaults --datadir="$W/my" --user=mysql --auth-root-authentication-method=normal >/dev/null 2>&1
as mysql /usr/sbin/mariadbd --no-defaults --datadir="$W/my" --socket="$W/my/my.sock" --skip-networking \
  --pid-file="$W/my/my.pid" --max-connections=500 >"$W/my/my.log" 2>&1 &
for _ in $(seq 200); do [ -S "$W/my/my.sock" ] && break; sleep 0.1; done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
PORT=$(free_port)
PORT2=$(free_port)
echo bench-password > pw
export FERRICA_PATH="$W/pki"
"$F" ca init --name Bench --dns 127.0.0.1 --address "127.0.0.1:$PORT" --provisioner bench --password-file pw >/dev/null 2>&1
# db: PostgreSQL for ferrica; MySQL or badger for step-ca (same ca.json otherwise).
set_db() {
  python3 - "$1" <<'EOF'
import json, sys
p = "pki/config/ca.json"
c = json.load(open(p))
c["db"] = json.loads(sys.argv[1])
json.dump(c, open(p, "w"), indent=2)
EOF
}
PGURL="postgresql://postgres@localhost/ferrica?host=$W/pgsock"
# The per-level rows of loadgen's table (skipping its two header lines).
rows() { tail -n +3; }

declare -A OUT
run_one() { # name
  OUT[$1]=$(SERVER_PID=${PIDS[-1]} "$L" "https://127.0.0.1:$PORT" pki/config/ca.json pki/certs/root_ca.crt pw "$SECS" "$LEVELS")
}

# 1. ferrica, one instance on PostgreSQL.
set_db "{\"type\": \"postgresql\", \"dataSource\": \"$PGURL\"}"
"$F" serve --password-file pw --address "127.0.0.1:$PORT" 2>serve-ferrica.log & PIDS+=($!)
wait_port "$PORT"; sleep 1
run_one ferrica-pg
# 2. ferrica, two instances on the same database: two load generators at once, half the clients each.
"$F" serve --password-file pw --address "127.0.0.1:$PORT2" 2>serve-ferrica2.log & PIDS+=($!)
wait_port "$PORT2"; sleep 1
HALF=$(echo "$LEVELS" | tr ',' '\n' | awk '{printf "%s%d", (NR>1?",":""), $1/2}')
"$L" "https://127.0.0.1:$PORT" pki/config/ca.json pki/certs/root_ca.crt pw "$SECS" "$HALF" >two-a.txt &
LA=$!
"$L" "https://127.0.0.1:$PORT2" pki/config/ca.json pki/certs/root_ca.crt pw "$SECS" "$HALF" >two-b.txt
wait "$LA"
OUT[ferrica-pg-2]=$(paste <(rows <two-a.txt) <(rows <two-b.txt) | awk -F'|' '{
  printf "| %d | %d | %.0f | - | - | - | - |\n", $2 * 2, $3 + $11, $4 + $12 }')
# 3. OCSP on one instance: a pre-signed answer and a freshly signed one (nonce).
"$F" ca certificate ocsp.bench o.crt o.key --ca-url "https://127.0.0.1:$PORT" --root pki/certs/root_ca.crt \
  --provisioner-password-file pw >/dev/null 2>&1
openssl ocsp -issuer pki/certs/intermediate_ca.crt -cert o.crt -no_nonce -reqout ocsp-cached.der >/dev/null 2>&1
openssl ocsp -issuer pki/certs/intermediate_ca.crt -cert o.crt -reqout ocsp-nonce.der >/dev/null 2>&1
OCSP_CACHED=$(ENDPOINT=ocsp OCSP_REQUEST=ocsp-cached.der SERVER_PID=${PIDS[0]} "$L" "https://127.0.0.1:$PORT" \
  pki/config/ca.json pki/certs/root_ca.crt pw "$SECS" "$LEVELS")
OCSP_FRESH=$(ENDPOINT=ocsp OCSP_REQUEST=ocsp-nonce.der SERVER_PID=${PIDS[0]} "$L" "https://127.0.0.1:$PORT" \
  pki/config/ca.json pki/certs/root_ca.crt pw "$SECS" "$LEVELS")
for p in "${PIDS[@]}"; do kill "$p"; wait "$p" 2>/dev/null || true; done
PIDS=()
sleep 0.5
ISSUED=$(as postgres "$PGBIN/psql" -h "$W/pgsock" -U postgres -d ferrica -Atc 'SELECT count(*) FROM x509_certs')

# 4. step-ca on MySQL, then on badger.
set_db "{\"type\": \"mysql\", \"dataSource\": \"root@unix($W/my/my.sock)/\", \"database\": \"stepca\"}"
STEPPATH="$W/step" step-ca pki/config/ca.json --password-file pw >serve-step-mysql.log 2>&1 & PIDS+=($!)
wait_port "$PORT" || { echo "step-ca on MySQL did not start:" >&2; cat serve-step-mysql.log >&2; exit 1; }; sleep 1
run_one step-ca-mysql
kill "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true; PIDS=(); sleep 0.5
set_db "{\"type\": \"badgerv2\", \"dataSource\": \"$W/badger\"}"
STEPPATH="$W/step" step-ca pki/config/ca.json --password-file pw >serve-step-badger.log 2>&1 & PIDS+=($!)
wait_port "$PORT" || { echo "step-ca on badger did not start:" >&2; cat serve-step-badger.log >&2; exit 1; }; sleep 1
run_one step-ca-badger
kill "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true; PIDS=()

echo "cores: $(nproc); POST /sign, P-256 CSR, ES256 JWK tokens, keep-alive TLS; ${SECS}s per level"
echo "ferrica wrote $ISSUED certificates to PostgreSQL"
for k in ferrica-pg step-ca-mysql step-ca-badger; do
  echo; echo "$k:"; echo "${OUT[$k]}"
done
echo; echo "ferrica-pg, two instances (sum of two load generators):"; echo "${OUT[ferrica-pg-2]}"
echo
echo "| clients | ferrica 1x PG | ferrica 2x PG | step-ca MySQL | step-ca badger | 1x PG / step-ca MySQL | 2x PG / step-ca MySQL | ferrica p99 ms | step-ca MySQL p99 ms |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
paste -d'#' <(echo "${OUT[ferrica-pg]}" | rows) <(echo "${OUT[ferrica-pg-2]}") <(echo "${OUT[step-ca-mysql]}" | rows) \
  <(echo "${OUT[step-ca-badger]}" | rows) | awk -F'#' '{
  split($1, a, "|"); split($2, b, "|"); split($3, c, "|"); split($4, d, "|");
  printf "| %s | %s | %s | %s | %s | %.2fx | %.2fx | %s | %s |\n", a[2], a[4], b[4], c[4], d[4], a[4] / c[4], b[4] / c[4], a[6], c[6] }'
echo
echo "OCSP (POST /ocsp over TLS), pre-signed answer:"; echo "$OCSP_CACHED"
echo "OCSP, freshly signed (nonce):"; echo "$OCSP_FRESH"
