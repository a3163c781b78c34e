#!/usr/bin/env bash
# Installs what the test suite needs on Debian/Ubuntu: openssl (the judge of what we issue) and setsid
# (util-linux: runs ferrica with no controlling terminal) and script (bsdutils: gives it a pty). Safe to run again; uses sudo when not root.
set -euo pipefail

need=()
command -v openssl >/dev/null || need+=(openssl)
command -v setsid >/dev/null || need+=(util-linux)
command -v script >/dev/null || need+=(bsdutils)
[[ -e /etc/ssl/certs/ca-certificates.crt ]] || need+=(ca-certificates)
if [[ ${1:-} == --bench ]]; then
  command -v hyperfine >/dev/null || need+=(hyperfine)
  [[ -x /usr/bin/time ]] || need+=(time)
fi

if ((${#need[@]})); then
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  echo "installing: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# In CI a missing tool is a failure, not a skip.
for tool in openssl setsid script; do
  command -v "$tool" >/dev/null || { echo "error: $tool is still missing" >&2; exit 1; }
done
