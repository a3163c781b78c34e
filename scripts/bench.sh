#!/usr/bin/env bash
# Whole-process timings of ferrica against the same work done by openssl, with hyperfine, plus peak memory
# (GNU time). Not a test: run it by hand and copy the figures into the README.
#   scripts/bench.sh            # release build, 200 runs each (use RUNS=N to change)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh --bench
cargo build --release --locked -j2 >&2
F="$PWD/target/release/ferrica"
RUNS=${RUNS:-200}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$W"

# Unencrypted CA material, so that the timings measure issuance, not 600,000 rounds of PBKDF2.
"$F" certificate create --profile root-ca "Bench Root" ca.crt ca.key --no-password --insecure 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout oca.key -out oca.crt \
  -subj "/CN=Bench Root" -days 3650 2>/dev/null
cat > leaf.cnf <<'CNF'
[ext]
subjectAltName = DNS:svc.bench.test
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
cp ca.crt leaf-ref.crt
# The floor for any process: a C hello-world (issue 15: `ferrica --version` within 2x of it).
printf '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n' > hello.c
cc -O2 -o hello hello.c

hyperfine -N --warmup 10 --runs "$RUNS" --export-json bench.json \
  -n "ferrica --version" "$F --version" \
  -n "C hello-world" "./hello" \
  -n "ferrica create root (P-256)" \
  "$F certificate create --profile root-ca R r.crt r.key --no-password --insecure --force" \
  -n "openssl req -x509 root (P-256)" \
  "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout or.key -out or.crt -subj /CN=R -days 3650" \
  -n "ferrica create leaf signed by CA (P-256)" \
  "$F certificate create svc.bench.test l.crt l.key --ca ca.crt --ca-key ca.key --no-password --insecure --force" \
  -n "openssl req -x509 -CA leaf (P-256)" \
  "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ol.key -out ol.crt -subj /CN=svc.bench.test -CA oca.crt -CAkey oca.key -days 1 -extensions ext -config leaf.cnf" \
  -n "ferrica create leaf (RSA-3072)" \
  "$F certificate create svc.bench.test lr.crt lr.key --kty RSA --size 3072 --ca ca.crt --ca-key ca.key --no-password --insecure --force" \
  -n "openssl req -x509 -CA leaf (RSA-3072)" \
  "openssl req -x509 -newkey rsa:3072 -nodes -keyout olr.key -out olr.crt -subj /CN=svc.bench.test -CA oca.crt -CAkey oca.key -days 1 -extensions ext -config leaf.cnf" \
  -n "ferrica fingerprint" \
  "$F certificate fingerprint leaf-ref.crt" \
  -n "openssl x509 -fingerprint -sha256" \
  "openssl x509 -in leaf-ref.crt -noout -fingerprint -sha256" \
  -n "ferrica inspect" \
  "$F certificate inspect leaf-ref.crt" \
  -n "openssl x509 -text" \
  "openssl x509 -in leaf-ref.crt -noout -text" >&2
# openssl again without its trust store (most of its x509 start-up is loading the system's roots).
SSL_CERT_FILE=/dev/null hyperfine -N --warmup 10 --runs "$RUNS" --export-json bench-nostore.json \
  -n "openssl x509 -fingerprint -sha256 (SSL_CERT_FILE=/dev/null)" \
  "openssl x509 -in leaf-ref.crt -noout -fingerprint -sha256" \
  -n "openssl x509 -text (SSL_CERT_FILE=/dev/null)" \
  "openssl x509 -in leaf-ref.crt -noout -text" >&2
python3 - <<'PY'
import json
rows = json.load(open("bench.json"))["results"] + json.load(open("bench-nostore.json"))["results"]
print("| command | median [ms] | mean ± σ [ms] |")
print("|---|---:|---:|")
for r in rows:
    print(f"| {r['command']} | {r['median']*1e3:.1f} | {r['mean']*1e3:.1f} ± {r['stddev']*1e3:.1f} |")
PY

echo
echo "| command | peak RSS (KiB) |"
echo "|---|---|"
rss() { /usr/bin/time -f "%M" "$@" 2>&1 >/dev/null | tail -1; }
echo "| ferrica create leaf (P-256) | $(rss "$F" certificate create svc l.crt l.key --ca ca.crt --ca-key ca.key --no-password --insecure --force) |"
echo "| openssl req -x509 -CA leaf (P-256) | $(rss openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ol.key -out ol.crt -subj /CN=svc -CA oca.crt -CAkey oca.key -days 1) |"
echo "| ferrica fingerprint | $(rss "$F" certificate fingerprint leaf-ref.crt) |"
echo "| ferrica inspect | $(rss "$F" certificate inspect leaf-ref.crt) |"
echo "| ferrica create leaf (RSA-3072) | $(rss "$F" certificate create svc lr.crt lr.key --kty RSA --size 3072 --ca ca.crt --ca-key ca.key --no-password --insecure --force) |"
