#!/usr/bin/env bash
# The test command: installs the test tools if missing, then runs every unit and integration test.
# Extra arguments go to `cargo test` (e.g. `scripts/test.sh passwords`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
cargo test --locked -j2 "$@"
