#!/bin/sh
# Installs the ferrica release binary:
#   curl -fsSL https://github.com/OWNER/ferrica/releases/latest/download/install.sh | sh
# It downloads ferrica-<arch>-linux.tar.gz and its .sha256 from FERRICA_BASE_URL (default: the latest release of
# FERRICA_REPO on GitHub), refuses a checksum mismatch, and installs to FERRICA_INSTALL_DIR (default /usr/local/bin
# when writable, else ~/.local/bin). It asks for nothing. FERRICA_VERSION=vX.Y.Z picks a release.
set -eu

repo=${FERRICA_REPO:-ferrica/ferrica}
if [ -n "${FERRICA_BASE_URL:-}" ] && [ -n "${FERRICA_VERSION:-}" ]; then
  echo "error: FERRICA_BASE_URL names the assets' directory itself; FERRICA_VERSION would be ignored, so unset one" >&2
  exit 2
fi
if [ -n "${FERRICA_VERSION:-}" ]; then
  default_base="https://github.com/$repo/releases/download/$FERRICA_VERSION"
else
  default_base="https://github.com/$repo/releases/latest/download"
fi
base=${FERRICA_BASE_URL:-$default_base}

case "$(uname -s)" in
  Linux) ;;
  *) echo "error: ferrica releases are built for Linux; on $(uname -s) use: cargo install --locked --git https://github.com/$repo" >&2; exit 1 ;;
esac
case "$(uname -m)" in
  x86_64 | amd64) arch=x86_64 ;;
  aarch64 | arm64) arch=aarch64 ;;
  *) echo "error: no ferrica release for $(uname -m)" >&2; exit 1 ;;
esac
asset="ferrica-$arch-linux.tar.gz"

if [ -n "${FERRICA_INSTALL_DIR:-}" ]; then
  dir=$FERRICA_INSTALL_DIR
elif [ -w /usr/local/bin ]; then
  dir=/usr/local/bin
else
  dir="$HOME/.local/bin"
fi

fetch() { # URL FILE
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 3 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1"
  else
    echo "error: neither curl nor wget is installed" >&2
    return 1
  fi
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
fetch "$base/$asset" "$tmp/$asset" || { echo "error: cannot download $base/$asset" >&2; exit 1; }
fetch "$base/$asset.sha256" "$tmp/$asset.sha256" || { echo "error: cannot download $base/$asset.sha256" >&2; exit 1; }
want=$(awk '{print $1; exit}' "$tmp/$asset.sha256")
got=$(sha256sum "$tmp/$asset" | awk '{print $1}')
if [ -z "$want" ] || [ "$want" != "$got" ]; then
  echo "error: checksum mismatch for $asset (expected ${want:-nothing}, got $got); nothing installed" >&2
  exit 1
fi
tar -xzf "$tmp/$asset" -C "$tmp"
[ -f "$tmp/ferrica" ] || { echo "error: $asset has no ferrica binary" >&2; exit 1; }
mkdir -p "$dir"
install -m 0755 "$tmp/ferrica" "$dir/ferrica"
echo "ferrica installed: $dir/ferrica ($("$dir/ferrica" version))" >&2
case ":$PATH:" in
  *":$dir:"*) ;;
  *) echo "note: $dir is not on PATH; add it: export PATH=\"$dir:\$PATH\"" >&2 ;;
esac
