# The offline toolkit as step's documentation and its users' CI recipes write it, verbatim. Run by
# tests/integration/seeds.rs twice: with `step` on PATH being ferrica under that name, and with `step` a shell
# function that calls `ferrica`. openssl, jq and sha256sum judge the results. Pipes end in `grep ... >/dev/null`,
# not `grep -q`: grep -q stops reading at the first match, and under pipefail the writer's SIGPIPE fails the line.
pass=lab-secret
echo "$pass" > pw.txt

# A root, an intermediate and a leaf (step certificate create --profile ...).
step certificate create "Lab Root CA" root_ca.crt root_ca.key --profile root-ca --no-password --insecure
step certificate create "Lab Intermediate CA" intermediate_ca.crt intermediate_ca.key \
  --profile intermediate-ca --ca root_ca.crt --ca-key root_ca.key --no-password --insecure
step certificate create svc.lab.test svc.crt svc.key --profile leaf \
  --ca intermediate_ca.crt --ca-key intermediate_ca.key --no-password --insecure \
  --not-after 24h --san svc.lab.test --san 10.0.0.7
openssl verify -CAfile root_ca.crt -untrusted intermediate_ca.crt svc.crt
openssl x509 -in svc.crt -noout -ext subjectAltName | grep "IP Address:10.0.0.7" >/dev/null

# The JSON that jq scripts written for step read.
step certificate inspect svc.crt --format json | jq -e '.validity.end and .validity.length == 86400'
step certificate inspect svc.crt --format json | jq -e '.extensions.subject_alt_name.dns_names == ["svc.lab.test"]'
step certificate inspect svc.crt --format json | jq -e '.subject.common_name[0] == "svc.lab.test"'
step certificate inspect root_ca.crt --format json | jq -e '.extensions.basic_constraints.is_ca and .signature.self_signed'
serial=$(step certificate inspect svc.crt --format json | jq -r .serial_number)
[[ $serial == $(python3 -c "print(int('$(openssl x509 -in svc.crt -noout -serial | cut -d= -f2)', 16))") ]]
step certificate inspect svc.crt --short | grep "svc.lab.test" >/dev/null
step certificate inspect svc.crt | grep "Subject: CN=svc.lab.test" >/dev/null

# Fingerprints agree with openssl.
fp=$(step certificate fingerprint root_ca.crt)
[[ $fp == $(openssl x509 -in root_ca.crt -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f) ]]

# A chain, verified; a bundle; DER; PKCS#12 that openssl 3 reads.
step certificate bundle svc.crt intermediate_ca.crt svc-bundle.crt
step certificate verify svc-bundle.crt --roots root_ca.crt
step certificate format svc.crt --out svc.der
openssl x509 -inform der -in svc.der -noout -subject | grep svc.lab.test >/dev/null
step certificate p12 svc.p12 svc.crt svc.key --password-file pw.txt
openssl pkcs12 -in svc.p12 -nokeys -passin file:pw.txt | grep "BEGIN CERTIFICATE" >/dev/null

# A CSR signed by the intermediate.
step certificate create api.lab.test api.csr api.key --csr --no-password --insecure
openssl req -in api.csr -noout -verify
step certificate sign api.csr intermediate_ca.crt intermediate_ca.key > api.crt
openssl verify -CAfile root_ca.crt -untrusted intermediate_ca.crt api.crt

# needs-renewal: exit 0 when it does, 1 when it does not.
step certificate needs-renewal svc.crt --expires-in 100%
if step certificate needs-renewal root_ca.crt --expires-in 1h; then exit 1; fi

# Keys, with the password piped in as CI scripts do.
echo "$pass" | step crypto keypair pub.pem priv.pem --kty EC --crv P-384
openssl pkey -in priv.pem -passin file:pw.txt -noout
step crypto keypair ed.pub ed.key --kty OKP --crv Ed25519 --no-password --insecure
openssl pkey -in ed.key -noout -text | grep ED25519 >/dev/null
step crypto key public priv.pem --password-file pw.txt | openssl pkey -pubin -noout

# JWK and JWT.
step crypto jwk create jwk.pub.json jwk.priv.json --password-file pw.txt
jq -e '.kty == "EC" and .crv == "P-256" and .use == "sig"' jwk.pub.json
token=$(step crypto jwt sign --key jwk.priv.json --password-file pw.txt \
  --iss ci@lab.test --aud https://ca.lab.test/1.0/sign --sub svc.lab.test --exp "$(($(date +%s) + 300))")
echo "$token" | step crypto jwt verify --key jwk.pub.json --iss ci@lab.test --aud https://ca.lab.test/1.0/sign \
  | jq -e '.payload.sub == "svc.lab.test"'
echo "$token" | step crypto jwt inspect --insecure | jq -e '.header.alg == "ES256"'

# Hashes.
echo hello > hello.txt
[[ $(step crypto hash digest hello.txt | cut -d' ' -f1) == $(sha256sum hello.txt | cut -d' ' -f1) ]]
