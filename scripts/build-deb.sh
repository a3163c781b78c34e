#!/usr/bin/env bash
# Builds the Debian package with cargo-deb from an already built binary: man pages and completions are generated
# by that binary first (target/deb-assets), then `cargo deb --no-build` packs them with it in Debian's paths.
#   bash scripts/build-deb.sh [--target TRIPLE] [--profile release|dev] [--output FILE.deb]
# (the release workflow passes --target; the test suite packs its debug build with --profile dev).
set -euo pipefail
cd "$(dirname "$0")/.."
target= profile=release output=
while (($#)); do
  case $1 in
    --target) target=$2; shift 2 ;;
    --profile) profile=$2; shift 2 ;;
    --output) output=$2; shift 2 ;;
    *) echo "usage: build-deb.sh [--target TRIPLE] [--profile release|dev] [--output FILE]" >&2; exit 2 ;;
  esac
done
command -v cargo-deb >/dev/null || { echo "error: cargo-deb is missing: cargo install --locked cargo-deb" >&2; exit 1; }
dir=target/${target:+$target/}$([[ $profile == dev ]] && echo debug || echo release)
bin=$dir/ferrica
[[ -x $bin ]] || { echo "error: $bin is not built" >&2; exit 1; }
assets=target/deb-assets
rm -rf "$assets"
mkdir -p "$assets/man" "$assets/completions"
"$bin" man --out "$assets/man" 2>/dev/null
"$bin" completions bash > "$assets/completions/ferrica"
"$bin" completions zsh > "$assets/completions/_ferrica"
"$bin" completions fish > "$assets/completions/ferrica.fish"
gzip -9n "$assets"/man/*.1
args=(--no-build --locked)
[[ -n $target ]] && args+=(--target "$target")
[[ $profile == dev ]] && args+=(--profile dev --no-strip --fast)
[[ -n $output ]] && args+=(--output "$output")
cargo deb "${args[@]}"
