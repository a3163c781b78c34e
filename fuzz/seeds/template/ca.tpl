{"subject": {"commonName": {{ .Subject.CommonName | quote }}, "organization": "Lab"},
 "keyUsage": ["certSign", "crlSign"], "basicConstraints": {"isCA": true, "maxPathLen": 0},
 "nameConstraints": {"critical": true, "permittedDNSDomains": ["lab"]},
 "crlDistributionPoints": ["http://ca.lab/crl"], "issuingCertificateURL": ["http://ca.lab/int.crt"]}
