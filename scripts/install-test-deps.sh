#!/usr/bin/env bash
# Installs what the test suite needs on Debian/Ubuntu: openssl (the judge of what we issue), pebble-challtestsrv
# (the DNS server ACME tests resolve names with), lego, uacme, dehydrated and certbot (PyPI, in the venv) as ACME clients, setsid
# (util-linux: runs ferrica with no controlling terminal), script (bsdutils: gives it a pty), ssh-keygen and sshd
# (the judges of SSH certificates; no system daemon is started), PostgreSQL's server binaries, jq (judges the seed scripts),
# slowhttptest and nghttp (server limits), and a Python venv (.venv-test) with jwcrypto and PyJWT, the independent JOSE implementations. Safe to run again; uses sudo when not root.
set -euo pipefail

need=()
command -v openssl >/dev/null || need+=(openssl)
command -v setsid >/dev/null || need+=(util-linux)
command -v script >/dev/null || need+=(bsdutils)
[[ -e /etc/ssl/certs/ca-certificates.crt ]] || need+=(ca-certificates)
command -v ssh-keygen >/dev/null || need+=(openssh-client)
[[ -x /usr/sbin/sshd ]] || need+=(openssh-server)
command -v curl >/dev/null || need+=(curl)
command -v jq >/dev/null || need+=(jq)
# The server-limit tests: slowhttptest (the slowloris attack) and nghttp (reads the HTTP/2 SETTINGS the server sends).
command -v slowhttptest >/dev/null || need+=(slowhttptest)
command -v nghttp >/dev/null || need+=(nghttp2-client)
command -v certutil >/dev/null || need+=(libnss3-tools)
command -v keytool >/dev/null || need+=(default-jre-headless)
command -v pebble-challtestsrv >/dev/null || need+=(pebble)
command -v lego >/dev/null || need+=(lego)
command -v uacme >/dev/null || need+=(uacme)
command -v dehydrated >/dev/null || need+=(dehydrated)
command -v update-ca-certificates >/dev/null || [[ -x /usr/sbin/update-ca-certificates ]] || need+=(ca-certificates)
python3 -c "import venv, ensurepip" 2>/dev/null || need+=(python3-venv)
# PostgreSQL's server binaries (initdb, pg_ctl): the tests run throwaway clusters on unix sockets.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
if [[ ${1:-} == --bench ]]; then
  command -v hyperfine >/dev/null || need+=(hyperfine)
  [[ -x /usr/bin/time ]] || need+=(time)
  # step-ca 0.19 as Debian builds it shares a database only through MySQL: the PostgreSQL benchmark's baseline.
  command -v mariadbd >/dev/null || [[ -x /usr/sbin/mariadbd ]] || need+=(mariadb-server)
fi

if ((${#need[@]})); then
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
  echo "installing: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  # openssh-server's and postgresql's package scripts would start system daemons; the tests start their own.
  made_policy=""
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  if [[ -n $made_policy ]]; then $sudo rm -f /usr/sbin/policy-rc.d; fi
fi

# In CI a missing tool is a failure, not a skip.
for tool in openssl setsid script certutil keytool curl jq slowhttptest nghttp pebble-challtestsrv lego uacme dehydrated; do
  command -v "$tool" >/dev/null || { echo "error: $tool is still missing" >&2; exit 1; }
done

compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || { echo "error: PostgreSQL's initdb is still missing" >&2; exit 1; }

# cargo-deb packs the Debian package the distribution test installs with dpkg (crates.io).
command -v cargo-deb >/dev/null || cargo install --locked --quiet cargo-deb
command -v cargo-deb >/dev/null || { echo "error: cargo-deb is still missing" >&2; exit 1; }

# Independent JOSE implementations for the interop tests (PyPI), in a venv of the project's own.
cd "$(dirname "$0")/.."
# certbot is the ACME client most users run against the CA.
# pkilint lints certificates and OCSP answers.
# PyYAML reads the CI recipes the tests run; check-jsonschema checks workflows and action.yml against the GitHub
# schemas it ships (offline).
if ! .venv-test/bin/python -c 'import jwcrypto, jwt, cryptography, yaml' 2>/dev/null || [[ ! -x .venv-test/bin/certbot ]] \
  || [[ ! -x .venv-test/bin/check-jsonschema ]] || [[ ! -x .venv-test/bin/lint_ocsp_response ]]; then
  command -v python3 >/dev/null || { echo "error: python3 is missing" >&2; exit 1; }
  [[ -x .venv-test/bin/pip ]] || python3 -m venv .venv-test
  .venv-test/bin/pip install --quiet --disable-pip-version-check 'jwcrypto>=1.5' 'pyjwt>=2.8' 'cryptography>=42' 'certbot>=2.9' \
    'pyyaml>=6' 'check-jsonschema>=0.28' 'pkilint>=0.10'
fi
.venv-test/bin/python -c 'import jwcrypto, jwt, cryptography, yaml' || { echo "error: the Python test venv is broken" >&2; exit 1; }
.venv-test/bin/certbot --version >/dev/null || { echo "error: certbot is missing from .venv-test" >&2; exit 1; }
.venv-test/bin/lint_ocsp_response --help >/dev/null || { echo "error: pkilint is missing from .venv-test" >&2; exit 1; }
command -v ssh-keygen >/dev/null || { echo "error: ssh-keygen (openssh-client) is missing" >&2; exit 1; }
[[ -x /usr/sbin/sshd ]] || { echo "error: sshd (openssh-server) is missing" >&2; exit 1; }
