#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets/, entry points in src/fuzzing.rs) for SECONDS each with libFuzzer
# through cargo fuzz: with AddressSanitizer on a nightly toolchain when one is installed, else on stable with
# `--sanitizer none`. Starts from the committed seeds (fuzz/seeds/<target>) and keeps what it finds in
# fuzz/corpus/<target> (not committed). A crash stops the run with its input in fuzz/artifacts/<target>/: fix it,
# then commit the input under fuzz/regressions/<target>/ so that `cargo test` replays it for good.
#   bash scripts/fuzz.sh            # 60 s per target
#   bash scripts/fuzz.sh 3600 x509  # one target for an hour
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-60}
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-2}
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  mapfile -t TARGETS < <(ls fuzz/fuzz_targets | sed 's/\.rs$//')
fi
command -v cargo-fuzz >/dev/null || cargo install --locked --quiet cargo-fuzz
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  RUN=(cargo +nightly fuzz run --sanitizer address)
else
  RUN=(cargo fuzz run --sanitizer none)
fi
"${RUN[@]/run/build}" >&2
summary=()
for t in "${TARGETS[@]}"; do
  mkdir -p "fuzz/corpus/$t"
  log=$(mktemp)
  if ! "${RUN[@]}" "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- -max_total_time="$SECS" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 2>"$log"; then
    tail -40 "$log" >&2
    echo "error: fuzz target $t failed; the input is in fuzz/artifacts/$t/" >&2
    exit 1
  fi
  execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  summary+=("| $t | $SECS | ${execs:-?} | ${cov:-?} | $(ls "fuzz/corpus/$t" | wc -l) |")
  rm -f "$log"
done
echo "| target | seconds | executions | coverage (edges) | corpus |"
echo "|---|---:|---:|---:|---:|"
printf '%s\n' "${summary[@]}"
