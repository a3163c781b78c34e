//! The JWS rules of RFC 8555 §6.2-6.5 for every ACME POST: flattened JSON serialization with a protected header
//! only; `alg` from an allow-list (never `none`, never a MAC); `url` equal to the URL the request was sent to; a
//! `nonce`; exactly one of `jwk` (newAccount, revokeCert by certificate key) and `kid` (everything else).

use base64::Engine;
use serde_json::{Map, Value};

use super::problem::Problem;
use crate::jose::jwk::Jwk;
use crate::jose::jws::{self, Alg};

/// The signature algorithms accepted for account keys.
pub const ALGORITHMS: [&str; 5] = ["ES256", "ES384", "EdDSA", "RS256", "PS256"];

/// A parsed (not yet verified) request.
#[derive(Debug, Clone)]
pub struct Request {
    /// The protected header.
    pub header: Map<String, Value>,
    /// The protected header as sent (base64url).
    pub protected_b64: String,
    /// The payload as sent (base64url; empty for POST-as-GET).
    pub payload_b64: String,
    /// The signature.
    pub signature: Vec<u8>,
    /// The algorithm.
    pub alg: Alg,
}

/// Who signed a request.
#[derive(Debug, Clone)]
pub enum Signer {
    /// A key given in the header (newAccount, revokeCert with the certificate's key).
    Jwk(Box<Jwk>),
    /// An account URL.
    Kid(String),
}

fn b64(s: &str, what: &str) -> Result<Vec<u8>, Problem> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| Problem::malformed(format!("the JWS {what} is not base64url")))
}

/// Parses a flattened JWS (§6.2): `protected`, `payload`, `signature`; an unprotected `header` is refused.
pub fn parse(body: &[u8]) -> Result<Request, Problem> {
    let v: Map<String, Value> =
        serde_json::from_slice(body).map_err(|e| Problem::malformed(format!("the body is not a JWS object: {e}")))?;
    if v.contains_key("header") {
        return Err(Problem::malformed("the JWS has an unprotected header"));
    }
    if v.contains_key("signatures") {
        return Err(Problem::malformed(
            "the JWS must use the flattened serialization with one signature",
        ));
    }
    let field = |k: &str| -> Result<String, Problem> {
        v.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| Problem::malformed(format!("the JWS has no {k}")))
    };
    let (protected_b64, payload_b64, sig_b64) = (field("protected")?, field("payload")?, field("signature")?);
    let header: Map<String, Value> = serde_json::from_slice(&b64(&protected_b64, "protected header")?)
        .map_err(|_| Problem::malformed("the JWS protected header is not a JSON object"))?;
    let alg_name = header.get("alg").and_then(Value::as_str).unwrap_or_default();
    if !ALGORITHMS.contains(&alg_name) {
        let mut p = Problem::new(
            "badSignatureAlgorithm",
            400,
            format!("alg {alg_name:?} is not accepted"),
        );
        p.algorithms = Some(Box::new(ALGORITHMS.iter().map(|a| a.to_string()).collect()));
        return Err(p);
    }
    let alg = Alg::parse(alg_name).map_err(|e| Problem::malformed(e.to_string()))?;
    Ok(Request {
        header,
        protected_b64,
        payload_b64,
        signature: b64(&sig_b64, "signature")?,
        alg,
    })
}

impl Request {
    /// Checks `url` and `nonce` presence and the key reference; returns the signer and the nonce (the caller
    /// consumes it in the store).
    pub fn check(&self, expected_url: &str) -> Result<(Signer, String), Problem> {
        let url = self.header.get("url").and_then(Value::as_str).unwrap_or_default();
        if url != expected_url {
            return Err(Problem::unauthorized(format!(
                "the JWS url {url:?} is not the request URL {expected_url:?}"
            )));
        }
        let nonce = self
            .header
            .get("nonce")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| Problem::bad_nonce("the JWS has no nonce"))?
            .to_string();
        let signer = match (self.header.get("jwk"), self.header.get("kid")) {
            (Some(_), Some(_)) => return Err(Problem::malformed("the JWS has both jwk and kid")),
            (None, None) => return Err(Problem::malformed("the JWS has neither jwk nor kid")),
            (Some(j), None) => {
                let jwk: Jwk = serde_json::from_value(j.clone())
                    .map_err(|e| Problem::malformed(format!("the JWS jwk is not a JWK: {e}")))?;
                if jwk.is_private() || jwk.kty == "oct" {
                    return Err(Problem::malformed("the JWS jwk must be a public key"));
                }
                Signer::Jwk(Box::new(jwk))
            }
            (None, Some(k)) => Signer::Kid(
                k.as_str()
                    .ok_or_else(|| Problem::malformed("the JWS kid is not a string"))?
                    .to_string(),
            ),
        };
        Ok((signer, nonce))
    }

    /// Verifies the signature with `key` (which must fit `alg`).
    pub fn verify(&self, key: &Jwk) -> Result<(), Problem> {
        let input = format!("{}.{}", self.protected_b64, self.payload_b64);
        jws::verify(self.alg, key, input.as_bytes(), &self.signature).map_err(|e| match e {
            crate::jose::JoseError::BadSignature => Problem::malformed("the JWS signature does not verify"),
            other => Problem::malformed(format!("the JWS cannot be verified: {other}")),
        })
    }

    /// The payload bytes; empty for POST-as-GET.
    pub fn payload(&self) -> Result<Vec<u8>, Problem> {
        b64(&self.payload_b64, "payload")
    }

    /// The payload as a JSON object (`{}` is the minimum for non-GET requests).
    pub fn json(&self) -> Result<Map<String, Value>, Problem> {
        let p = self.payload()?;
        if p.is_empty() {
            return Err(Problem::malformed("the request needs a JSON payload, not POST-as-GET"));
        }
        serde_json::from_slice(&p).map_err(|e| Problem::malformed(format!("the payload is not a JSON object: {e}")))
    }

    /// Whether this is POST-as-GET (§6.3).
    pub fn is_post_as_get(&self) -> bool {
        self.payload_b64.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::keys::{KeySpec, PrivateKey};

    fn signed(header: Value, payload: &[u8], key: &jws::SigningKey, alg: Alg) -> Vec<u8> {
        let e = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let p = e(&serde_json::to_vec(&header).unwrap());
        let pl = e(payload);
        let sig = key.sign(alg, format!("{p}.{pl}").as_bytes()).unwrap();
        serde_json::to_vec(&serde_json::json!({"protected": p, "payload": pl, "signature": e(&sig)})).unwrap()
    }

    #[test]
    fn requests_are_checked_as_rfc8555_says() {
        let key = jws::SigningKey::from_private_key(PrivateKey::generate(KeySpec::P256).unwrap()).unwrap();
        let public = key.jwk.public().unwrap();
        let url = "https://ca.test/acme/a/new-account";
        let h = serde_json::json!({"alg": "ES256", "url": url, "nonce": "n1", "jwk": public});
        let req = parse(&signed(h.clone(), b"{}", &key, Alg::Es256)).unwrap();
        let (signer, nonce) = req.check(url).unwrap();
        assert_eq!(nonce, "n1");
        let Signer::Jwk(j) = signer else { panic!("jwk") };
        req.verify(&j).unwrap();
        assert!(
            req.check("https://ca.test/acme/a/other")
                .unwrap_err()
                .detail
                .contains("url")
        );
        // A flipped payload fails the signature.
        let mut tampered = req.clone();
        tampered.payload_b64 = "e30x".into();
        assert!(tampered.verify(&j).is_err());
        // alg none, HS256: badSignatureAlgorithm listing what is accepted.
        for alg in ["none", "HS256"] {
            let mut bad = h.clone();
            bad["alg"] = alg.into();
            let body = serde_json::json!({"protected": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&bad).unwrap()), "payload": "", "signature": ""});
            let p = parse(&serde_json::to_vec(&body).unwrap()).unwrap_err();
            assert!(p.kind.ends_with("badSignatureAlgorithm"), "{p}");
            assert!(p.algorithms.unwrap().contains(&"ES256".to_string()));
        }
        // jwk and kid together, neither, a private jwk, no nonce.
        let mut both = h.clone();
        both["kid"] = "https://ca.test/acme/a/account/1".into();
        assert!(parse(&signed(both, b"", &key, Alg::Es256)).unwrap().check(url).is_err());
        let mut neither = h.clone();
        neither.as_object_mut().unwrap().remove("jwk");
        assert!(
            parse(&signed(neither, b"", &key, Alg::Es256))
                .unwrap()
                .check(url)
                .is_err()
        );
        let mut private = h.clone();
        private["jwk"] = serde_json::to_value(&key.jwk).unwrap();
        assert!(
            parse(&signed(private, b"", &key, Alg::Es256))
                .unwrap()
                .check(url)
                .is_err()
        );
        let mut no_nonce = h.clone();
        no_nonce.as_object_mut().unwrap().remove("nonce");
        let p = parse(&signed(no_nonce, b"", &key, Alg::Es256))
            .unwrap()
            .check(url)
            .unwrap_err();
        assert!(p.kind.ends_with("badNonce"));
        // An unprotected header is refused.
        let mut v: Value = serde_json::from_slice(&signed(h, b"", &key, Alg::Es256)).unwrap();
        v["header"] = serde_json::json!({"kid": "x"});
        assert!(parse(&serde_json::to_vec(&v).unwrap()).is_err());
    }
}
