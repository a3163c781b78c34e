#!/usr/bin/env bash
# Writes build/hot-symbols.txt: the functions of the release binary that its common runs execute (the CLI's
# everyday commands, `ca init`, and `serve` answering /health, /roots, /sign, /ssh/sign and the ACME directory),
# in the order they first run. build.rs hands the file to the linker (lld's --symbol-ordering-file), which puts
# those functions side by side at the start of .text. The kernel maps a binary's code in 64 KiB or larger windows
# around each page it touches, so scattered hot functions made most of the 13 MiB of code resident; packed
# together they fit in a few windows (README "Performance").
#
# The names are mangled with hashes of the build (Cargo.lock, rustc version, profile, features): run this again
# after any of those change. Local functions that ThinLTO exports also carry a `.llvm.<hash>` suffix of their
# module's contents, so ordinary code changes make those go stale too (2026-12-07: 385 of 3,580 names, 11%, after
# a day of commits; idle serve on a fresh store 12.8 -> 11.8 MiB once regenerated). Stale names are skipped
# by the linker, so an old file costs nothing but the gain.
#   bash scripts/symbol-order.sh
# Needs valgrind (callgrind lists every function a run enters).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "error: valgrind is missing (apt-get install valgrind)" >&2; exit 1; }
cargo build --release --locked -j2 --bin ferrica --example loadgen >&2
ROOT="$PWD"
F="$ROOT/target/release/ferrica"
L="$ROOT/target/release/examples/loadgen"
W=$(mktemp -d)
SERVER=
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
cd "$W"
n=0
run() { n=$((n + 1)); valgrind --tool=callgrind --demangle=no --dump-instr=no -q \
  --callgrind-out-file="$W/$(printf %02d $n).cg" "$F" "$@"; }

# The CLI, most frequent first.
run --version >/dev/null
run certificate create --profile root-ca Root root.crt root.key --no-password --insecure 2>/dev/null
run certificate create svc.lab leaf.crt leaf.key --ca root.crt --ca-key root.key --no-password --insecure 2>/dev/null
run certificate fingerprint leaf.crt >/dev/null
run certificate inspect leaf.crt >/dev/null
run certificate inspect leaf.crt --format json >/dev/null
run certificate verify leaf.crt --roots root.crt
run crypto keypair k.pub k.key --no-password --insecure 2>/dev/null

# The online CA: init, then serve under load from the load generator and curl.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL="https://127.0.0.1:$PORT"
echo order-password > pw
export FERRICA_PATH="$W/pki"
run ca init --ssh --acme --name Order --dns 127.0.0.1 --address "127.0.0.1:$PORT" --provisioner order \
  --password-file pw >/dev/null 2>&1
run ca token svc.lab --offline --provisioner order --password-file pw >/dev/null 2>&1
n=$((n + 1))
valgrind --tool=callgrind --demangle=no --dump-instr=no -q --callgrind-out-file="$W/$(printf %02d $n).cg" \
  "$F" serve --password-file pw 2>serve.log &
SERVER=$!
for _ in $(seq 600); do curl -sfk "$URL/health" >/dev/null && break; sleep 0.1; done
"$L" "$URL" pki/config/ca.json pki/certs/root_ca.crt pw 3 2 >/dev/null
ENDPOINT=ssh "$L" "$URL" pki/config/ca.json pki/certs/root_ca.crt pw 3 2 >/dev/null
for p in health roots roots.pem provisioners ssh/roots crl acme/acme/directory; do curl -sk "$URL/$p" >/dev/null; done
kill -TERM "$SERVER"
wait "$SERVER" || true
SERVER=

# The binary's functions each run entered, first seen first, that the binary defines.
nm --defined-only "$F" | awk '$2 ~ /^[tTwW]$/ {print $3}' >defined
python3 - "$W"/*.cg >names <<'EOF'
import re, sys
seen, order = set(), []
for path in sys.argv[1:]:
    objects, names, current = {}, {}, None
    for line in open(path, errors="replace"):
        m = re.match(r"(c?)(ob|fn)=\((\d+)\)(?: (.*))?", line.rstrip("\n"))
        if not m:
            continue
        callee, kind, ident, name = m.groups()
        table = objects if kind == "ob" else names
        if name:
            table[ident] = name
        if callee:
            continue
        if kind == "ob":
            current = objects.get(ident)
        elif (current or "").endswith("/release/ferrica"):
            fn = names.get(ident, "").split("'")[0]
            if fn and fn not in seen:
                seen.add(fn)
                order.append(fn)
print("\n".join(order))
EOF
mkdir -p "$ROOT/build"
{
  echo "# Written by scripts/symbol-order.sh on $(date -u +%F) for $(rustc --version | cut -d' ' -f1-2);"
  echo "# the linker's --symbol-ordering-file (build.rs). Regenerate after changing Cargo.lock or the toolchain."
  grep -Fxf defined names
} >"$ROOT/build/hot-symbols.txt"
echo "build/hot-symbols.txt: $(grep -vc '^#' "$ROOT/build/hot-symbols.txt") functions" >&2
