# The online CA as step's documentation and its users' write-ups run it, verbatim: `step ca init`, `step-ca`,
# and the `step ca` client commands. Run by tests/integration/seeds.rs four ways: `step` and `step-ca` both ferrica
# (under those names, then as shell functions calling `ferrica` and `ferrica serve`); the real step 0.15 as the
# client of ferrica; and ferrica as the client of the real step-ca 0.19. SEED_CLIENT and SEED_SERVER say which
# (`ferrica`, `step`, `step-ca`); the few lines guarded by them are what the reference lacks, each saying why.
# curl, openssl and jq judge. SEED_PORT is a free port on 127.0.0.1.
export STEPPATH=$PWD/steppath
pass=lab-secret
echo "$pass" > pw.txt
port=$SEED_PORT
url=https://127.0.0.1:$port

step ca init --ssh --name Lab --dns 127.0.0.1,localhost \
  --address 127.0.0.1:$port --provisioner ci@lab.test --password-file pw.txt
[[ $(step path) == "$STEPPATH" ]]
step ca provisioner add acme --type ACME --claims '{"maxTLSCertDuration": "4320h", "defaultTLSCertDuration": "744h"}'

step-ca "$(step path)/config/ca.json" --password-file pw.txt > step-ca.log 2>&1 &
ca_pid=$!
trap 'kill $ca_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sk "$url/health" > /dev/null && break; sleep 0.1; done
step ca provisioner list | jq -e 'map(.name) | contains(["ci@lab.test", "acme", "sshpop"])'

# Bootstrap a client tree by fingerprint, as a CI job does.
fp=$(step certificate fingerprint "$(step path)/certs/root_ca.crt")
STEPPATH=$PWD/client step ca bootstrap --ca-url "$url" --fingerprint "$fp"
[[ -s client/certs/root_ca.crt && -s client/config/defaults.json ]]
STEPPATH=$PWD/client step ca health | grep -x ok >/dev/null
curl -s --cacert "$(step path)/certs/root_ca.crt" "$url/health" | jq -e '.status == "ok"'
curl -s --cacert "$(step path)/certs/root_ca.crt" "$url/acme/acme/directory" | jq -e '.newNonce and .newOrder'

# A certificate with the provisioner's password from a file, and with a token minted first.
step ca certificate svc.lab.test svc.crt svc.key --provisioner ci@lab.test --provisioner-password-file pw.txt
openssl verify -CAfile "$(step path)/certs/root_ca.crt" -untrusted svc.crt svc.crt
# Debian's step 0.15 prints Go's certificate struct, not upstream step's zcrypto JSON.
if [[ $SEED_CLIENT == ferrica ]]; then
  step certificate inspect svc.crt --format json | jq -e '.extensions.subject_alt_name.dns_names == ["svc.lab.test"]'
fi
TOKEN=$(step ca token api.lab.test --provisioner ci@lab.test --password-file pw.txt)
step ca certificate api.lab.test api.crt api.key --token "$TOKEN"
openssl x509 -in api.crt -noout -subject | grep api.lab.test >/dev/null

# A CSR of one's own.
step certificate create web.lab.test web.csr web.key --csr --no-password --insecure
step ca sign web.csr web.crt --provisioner ci@lab.test --provisioner-password-file pw.txt
openssl x509 -in web.crt -noout -checkend 3600

# Renewal over mTLS, in place.
before=$(openssl x509 -in svc.crt -noout -serial)
step ca renew svc.crt svc.key --force
after=$(openssl x509 -in svc.crt -noout -serial)
[[ $before != "$after" ]]

# Revocation with the certificate and its key; the revoked certificate cannot renew and is on the CRL.
step ca revoke --cert api.crt --key api.key
if step ca renew api.crt api.key --force; then exit 1; fi
# step-ca 0.19 has no CRL endpoint (it came in 0.22).
if [[ $SEED_SERVER == ferrica ]]; then
  curl -s --cacert "$(step path)/certs/root_ca.crt" "$url/crl" -o crl.der
  openssl crl -inform der -in crl.der -noout -text | grep -i "$(openssl x509 -in api.crt -noout -serial | cut -d= -f2)" >/dev/null
fi
# Revocation by serial with a token.
serial=$(python3 -c "print(int('$(openssl x509 -in web.crt -noout -serial | cut -d= -f2)', 16))")
TOKEN=$(step ca token "$serial" --revoke --provisioner ci@lab.test --password-file pw.txt)
step ca revoke "$serial" --token "$TOKEN"
if step ca renew web.crt web.key --force; then exit 1; fi

# Roots and federation.
step ca root root.crt
cmp root.crt "$(step path)/certs/root_ca.crt"
step ca roots roots.pem
grep -c "BEGIN CERTIFICATE" roots.pem | grep -x 1 >/dev/null
step ca federation federation.pem
grep -q "BEGIN CERTIFICATE" federation.pem

# SSH: a user certificate with the provisioner's password, a host certificate with a token minted first.
step ssh certificate alice@lab.test id_alice --provisioner ci@lab.test --provisioner-password-file pw.txt \
  --no-password --insecure
ssh-keygen -L -f id_alice-cert.pub | grep 'Key ID: "alice@lab.test"' >/dev/null
ssh-keygen -L -f id_alice-cert.pub | grep 'user certificate' >/dev/null
TOKEN=$(step ca token web.lab.test --ssh --host --provisioner ci@lab.test --password-file pw.txt)
step ssh certificate web.lab.test id_web --host --token "$TOKEN" --no-password --insecure
ssh-keygen -L -f id_web-cert.pub | grep 'host certificate' >/dev/null
step ssh inspect id_web-cert.pub | grep web.lab.test >/dev/null
