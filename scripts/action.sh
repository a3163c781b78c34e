#!/usr/bin/env bash
# The shell behind action.yml: installs the release binary with scripts/install.sh (sha256 checked), puts it on
# PATH for the following steps ($GITHUB_PATH), sets the `path` output ($GITHUB_OUTPUT), and with a CA URL and
# fingerprint runs `ferrica ca bootstrap` (and `--install` into the trust store when asked).
# Inputs come as INPUT_VERSION, INPUT_CA_URL, INPUT_FINGERPRINT, INPUT_INSTALL, INPUT_BASE_URL.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=${INPUT_VERSION:-latest}
export FERRICA_REPO=${FERRICA_REPO:-ferrica/ferrica}
[[ -n $FERRICA_REPO ]] || FERRICA_REPO=ferrica/ferrica
if [[ ${INPUT_INSTALL:-false} == true && -z ${INPUT_CA_URL:-} ]]; then
  echo "error: install: true needs ca-url and fingerprint (it installs that CA's root)" >&2
  exit 2
fi
if [[ -n ${INPUT_BASE_URL:-} ]]; then
  [[ $version == latest ]] || { echo "error: base-url names the assets' directory itself; leave version at latest" >&2; exit 2; }
  export FERRICA_BASE_URL=$INPUT_BASE_URL
elif [[ $version != latest ]]; then
  [[ $version =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "error: version '$version' is not latest or vX.Y.Z" >&2; exit 2; }
  export FERRICA_VERSION=$version
fi
dir=${FERRICA_INSTALL_DIR:-${RUNNER_TEMP:-/tmp}/ferrica-bin}
FERRICA_INSTALL_DIR=$dir sh "$here/install.sh"
echo "$dir" >> "${GITHUB_PATH:-/dev/null}"
echo "path=$dir/ferrica" >> "${GITHUB_OUTPUT:-/dev/null}"
if [[ -n ${INPUT_CA_URL:-} || -n ${INPUT_FINGERPRINT:-} ]]; then
  [[ -n ${INPUT_CA_URL:-} && -n ${INPUT_FINGERPRINT:-} ]] || { echo "error: ca-url and fingerprint go together" >&2; exit 2; }
  args=(ca bootstrap --ca-url "$INPUT_CA_URL" --fingerprint "$INPUT_FINGERPRINT")
  [[ ${INPUT_INSTALL:-false} == true ]] && args+=(--install)
  "$dir/ferrica" "${args[@]}"
fi
