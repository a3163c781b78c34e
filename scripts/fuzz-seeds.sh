#!/usr/bin/env bash
# Regenerates the fuzzers' seed corpus (fuzz/seeds/<target>/), committed: files written by ferrica itself, by
# openssl, ssh-keygen and jwcrypto, and step's fixtures (tests/data/step). Encrypted inputs use the password
# ferrica::fuzzing::PASSWORD ("fuzz-password") so that the fuzzers reach the decrypted bytes.
#   bash scripts/fuzz-seeds.sh        (after scripts/install-test-deps.sh; builds the debug binary)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
cargo build --locked -j2 --bin ferrica >&2
F="$ROOT/target/debug/ferrica"
PY="$ROOT/.venv-test/bin/python"
S="$ROOT/fuzz/seeds"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
rm -rf "$S"
mkdir -p "$S"/{x509,private_key,jose,ca_json,template,acme_jws,acme_payload,ssh,ocsp_request,server_api}
cd "$W"
echo fuzz-password > pw
export FERRICA_PATH="$W/pki"

# x509: certificates (PEM, DER, a bundle), CSRs, ferrica's and step's.
"$F" certificate create --profile root-ca Root root.crt root.key --no-password --insecure --kty EC >/dev/null 2>&1
"$F" certificate create --profile intermediate-ca Int int.crt int.key --ca root.crt --ca-key root.key \
  --no-password --insecure >/dev/null 2>&1
"$F" certificate create svc.lab leaf.crt leaf.key --ca int.crt --ca-key int.key --san svc.lab --san 10.0.0.5 \
  --san spiffe://lab/svc --san ops@lab.test --no-password --insecure --bundle >/dev/null 2>&1
"$F" certificate create ed.lab ed.crt ed.key --kty OKP --crv Ed25519 --ca int.crt --ca-key int.key \
  --no-password --insecure >/dev/null 2>&1
"$F" certificate create rsa.lab rsa.csr rsa.key --csr --kty RSA --size 2048 --san rsa.lab --no-password --insecure \
  >/dev/null 2>&1
cp root.crt "$S/x509/root.pem"
openssl x509 -in leaf.crt -outform DER -out "$S/x509/leaf.der"
cp leaf.crt "$S/x509/bundle.pem"
cp ed.crt "$S/x509/ed25519.pem"
cp rsa.csr "$S/x509/rsa.csr"
openssl req -in rsa.csr -outform DER -out "$S/x509/rsa.csr.der"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout o.key -subj "/C=DE/O=Lab/CN=o.lab" \
  -addext "nameConstraints=permitted;DNS:.lab" -addext "certificatePolicies=1.2.3.4" -days 2 -out "$S/x509/openssl-p384.pem" \
  2>/dev/null
cp "$ROOT/tests/data/step/leaf.crt" "$S/x509/step-leaf.pem"
cp "$ROOT/tests/data/step/csr.csr" "$S/x509/step.csr"

# private_key: every form, plain and encrypted with the fuzz password.
cp leaf.key "$S/private_key/ec-pkcs8.pem"
cp ed.key "$S/private_key/ed25519.pem"
cp rsa.key "$S/private_key/rsa.pem"
openssl pkey -in leaf.key -outform DER -out "$S/private_key/ec-pkcs8.der"
openssl ec -in leaf.key -out "$S/private_key/ec-sec1.pem" 2>/dev/null
openssl rsa -in rsa.key -traditional -out "$S/private_key/rsa-pkcs1.pem" 2>/dev/null
openssl pkcs8 -topk8 -in leaf.key -passout pass:fuzz-password -out "$S/private_key/ec-encrypted-pkcs8.pem"
openssl ec -in leaf.key -aes128 -passout pass:fuzz-password -out "$S/private_key/ec-legacy-encrypted.pem" 2>/dev/null
"$F" crypto jwk create jwk.pub.json jwk.priv.json --password-file pw >/dev/null 2>&1
cp jwk.priv.json "$S/private_key/jwk-encrypted.json"
"$F" crypto jwk create plain.pub.json plain.priv.json --no-password --insecure >/dev/null 2>&1
cp plain.priv.json "$S/private_key/jwk.json"
cp "$ROOT/tests/data/step/jwk-plain.priv.json" "$S/private_key/step-jwk.json"
# Public keys, as `crypto key public|fingerprint|format` read them: step's PEM ones and a DER SubjectPublicKeyInfo.
cp "$ROOT/tests/data/step/ed.pub" "$S/private_key/step-ed25519-public.pem"
cp "$ROOT/tests/data/step/rsa.pub" "$S/private_key/step-rsa-public.pem"
openssl pkey -in leaf.key -pubout -outform DER -out "$S/private_key/ec-public.der"

# jose: JWKs, a JWT, JWEs (compact and JSON).
cp plain.pub.json "$S/jose/jwk-public.json"
cp jwk.priv.json "$S/jose/jwe-json.json"
cp "$ROOT/tests/data/step/token.jwt" "$S/jose/step-token.jwt"
cp "$ROOT/tests/data/rfc/rfc7517-appendix-c.jwe" "$S/jose/rfc7517-appendix-c.jwe"
"$F" ca init --name Lab --dns ca.lab --provisioner ci@lab --password-file pw >/dev/null 2>&1
"$F" ca token svc.lab --offline --provisioner ci@lab --provisioner-password-file pw --san svc.lab \
  >"$S/jose/ferrica-token.jwt" 2>/dev/null

# ca_json: ferrica's, with an ACME and an X5C provisioner, SSH, OCSP and a PostgreSQL db.
"$F" ca provisioner add acme --type ACME --require-eab --challenge http-01 >/dev/null 2>&1
cp pki/config/ca.json "$S/ca_json/ferrica.json"
"$PY" - "$S/ca_json" <<'EOF'
import json, sys
c = json.load(open("pki/config/ca.json"))
c["ocsp"] = {"delegated": True, "responseLifetime": "10m"}
c["revocationUrls"] = {"ocsp": "http://ocsp.lab/"}
c["db"] = {"type": "postgresql", "dataSource": "postgresql://u:p@db/", "database": "ca", "poolSize": 4}
c["authority"]["claims"] = {"minTLSCertDuration": "1m", "enableSSHCA": True}
c["authority"]["provisioners"][0]["options"] = {"x509": {"templateFile": "t.tpl"}}
c["authority"]["provisioners"][0]["policy"] = {"x509": {"allow": {"dns": ["*.lab"]}}, "ssh": {"host": {"allow": {"dns": ["*.lab"]}}}}
json.dump(c, open(sys.argv[1] + "/options.json", "w"))
EOF

# template: step's default leaf template and one with functions.
cat >"$S/template/leaf.tpl" <<'EOF'
{
  "subject": {{ toJson .Subject }},
  "sans": {{ toJson .SANs }},
{{- if typeIs "*rsa.PublicKey" .Insecure.CR.PublicKey }}
  "keyUsage": ["keyEncipherment", "digitalSignature"],
{{- else }}
  "keyUsage": ["digitalSignature"],
{{- end }}
  "extKeyUsage": ["serverAuth", "clientAuth"]
}
EOF
cat >"$S/template/ca.tpl" <<'EOF'
{"subject": {"commonName": {{ .Subject.CommonName | quote }}, "organization": "Lab"},
 "keyUsage": ["certSign", "crlSign"], "basicConstraints": {"isCA": true, "maxPathLen": 0},
 "nameConstraints": {"critical": true, "permittedDNSDomains": ["lab"]},
 "crlDistributionPoints": ["http://ca.lab/crl"], "issuingCertificateURL": ["http://ca.lab/int.crt"]}
EOF

# acme_jws: flattened JWS bodies as clients send them (jwk and kid forms, POST-as-GET).
"$PY" - "$S/acme_jws" <<'EOF'
import json, sys
from jwcrypto import jwk, jws
from jwcrypto.common import json_encode
key = jwk.JWK.generate(kty="EC", crv="P-256")
def body(protected, payload, name):
    s = jws.JWS(payload.encode())
    s.add_signature(key, None, json_encode(protected))
    open(f"{sys.argv[1]}/{name}.json", "w").write(s.serialize())
url = "https://ca.lab/acme/acme/new-account"
body({"alg": "ES256", "nonce": "bm9uY2U", "url": url, "jwk": json.loads(key.export_public())},
     json.dumps({"termsOfServiceAgreed": True, "contact": ["mailto:ops@lab.test"]}), "new-account")
body({"alg": "ES256", "nonce": "bm9uY2U", "url": "https://ca.lab/acme/acme/new-order", "kid": "https://ca.lab/acme/acme/account/a1"},
     json.dumps({"identifiers": [{"type": "dns", "value": "svc.lab"}, {"type": "ip", "value": "10.0.0.5"}]}), "new-order")
body({"alg": "ES256", "nonce": "bm9uY2U", "url": "https://ca.lab/acme/acme/order/o1", "kid": "https://ca.lab/acme/acme/account/a1"},
     "", "post-as-get")
EOF

# ssh: keys, a certificate, OpenSSH private keys (plain and encrypted).
ssh-keygen -q -t ed25519 -N '' -C fuzz -f ed >/dev/null
ssh-keygen -q -t ecdsa -b 256 -N fuzz-password -C fuzz -f ec >/dev/null
ssh-keygen -q -t rsa -b 2048 -N '' -C fuzz -f rs >/dev/null
ssh-keygen -q -s ed -I web -h -n web.lab -V +1d ec.pub >/dev/null
cp ed.pub "$S/ssh/ed25519.pub"
cp rs.pub "$S/ssh/rsa.pub"
cp ec-cert.pub "$S/ssh/host-cert.pub"
cp ed "$S/ssh/ed25519-openssh"
cp ec "$S/ssh/ecdsa-openssh-encrypted"

# ocsp_request: what openssl sends, with and without a nonce, for one and two certificates.
openssl x509 -in leaf.crt -out leaf1.pem
openssl ocsp -issuer int.crt -cert leaf1.pem -reqout "$S/ocsp_request/nonce.der" >/dev/null 2>&1
openssl ocsp -issuer int.crt -cert leaf1.pem -no_nonce -reqout "$S/ocsp_request/plain.der" >/dev/null 2>&1
openssl ocsp -sha256 -issuer int.crt -cert leaf1.pem -serial 0x1234 -reqout "$S/ocsp_request/two-sha256.der" >/dev/null 2>&1
# server_api: the first byte picks the route (see ferrica::fuzzing::server_api), the rest is the request.
"$PY" - "$S" "$ROOT/tests/data/step" <<'EOF'
import json, sys
s, step = sys.argv[1], sys.argv[2]
csr = open(f"{step}/csr.csr").read()
tok = open(f"{step}/token.jwt").read().strip()
def put(name, route, body):
    open(f"{s}/server_api/{name}", "wb").write(bytes([route]) + body)
put("sign", 0, json.dumps({"csr": csr, "ott": tok, "notAfter": "24h"}).encode())
put("revoke", 1, json.dumps({"serial": "1234", "ott": tok, "reasonCode": 1, "passive": True}).encode())
put("renew-token", 2, tok.encode())
put("ssh-sign", 3, json.dumps({"publicKey": "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
    "ott": tok, "certType": "user", "keyID": "k", "principals": ["p"]}).encode())
put("acme-new-account", 4, open(f"{s}/acme_jws/new-account.json", "rb").read())
put("ocsp", 5, open(f"{s}/ocsp_request/nonce.der", "rb").read())
EOF
# acme_payload: the first byte picks the resource (see ferrica::fuzzing::acme_payload), the rest is the payload.
"$F" certificate create fuzz.lab fuzz.csr fuzz.key --csr --san fuzz.lab --no-password --insecure >/dev/null 2>&1
openssl req -in fuzz.csr -outform DER -out fuzz.csr.der
"$PY" - "$S/acme_payload" fuzz.csr.der leaf1.pem <<'EOF'
import base64, json, ssl, sys
s, csr, leaf = sys.argv[1], open(sys.argv[2], "rb").read(), open(sys.argv[3]).read()
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
def put(name, route, payload):
    open(f"{s}/{name}", "wb").write(bytes([route]) + json.dumps(payload).encode())
put("new-order-dns", 0, {"identifiers": [{"type": "dns", "value": "a.lab"}, {"type": "dns", "value": "*.b.lab"}]})
put("new-order-ip", 0, {"identifiers": [{"type": "ip", "value": "10.0.0.1"}], "notAfter": "2030-01-01T00:00:00Z",
    "profile": "tls", "replaces": "aGVsbG8.AQI"})
put("account-contact", 1, {"contact": ["mailto:ops@lab.test"]})
put("key-change", 2, {"protected": "e30", "payload": "e30", "signature": "AA"})
put("revoke", 3, {"certificate": b64(ssl.PEM_cert_to_DER_cert(leaf)), "reason": 4})
put("new-account", 4, {"termsOfServiceAgreed": True, "contact": ["mailto:a@lab.test"], "onlyReturnExisting": False})
put("finalize", 5, {"csr": b64(csr)})
EOF
echo "seeds: $(find "$S" -type f | wc -l) files in $S" >&2
