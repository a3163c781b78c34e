//! External account binding (RFC 8555 §7.3.4): the keys an operator hands out (`ferrica ca acme eab add`), kept
//! in a file beside ca.json that the CLI writes and the server reads, and the check of the binding JWS a client
//! puts in its newAccount request. That a key binds one account, once, is recorded in the store.

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::problem::Problem;
use crate::jose::jwk::Jwk;
use crate::jose::jws::{self, Alg};

/// The file of keys, beside ca.json.
pub const FILE_NAME: &str = "acme_eab.json";

/// One key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EabKey {
    /// The key id the client sends.
    pub kid: String,
    /// The HMAC key, base64url without padding.
    pub hmac_key: String,
    /// The ACME provisioner it is for.
    pub provisioner: String,
    /// The operator's reference.
    #[serde(default)]
    pub reference: String,
    /// When it was made (unix seconds).
    pub created_at: i64,
}

/// The file's content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EabKeys {
    /// Every key.
    pub keys: Vec<EabKey>,
}

/// A key id from 18 random bytes: base64url, and never starting with `-`, so that it can be passed as an argument
/// (`ferrica ca acme eab remove acme -Zyi...` would be read as flags). A leading `-` becomes `A`; the id keeps
/// 141 of its 144 random bits.
pub fn key_id(random: &[u8; 18]) -> String {
    let mut kid = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random);
    if kid.starts_with('-') {
        kid.replace_range(..1, "A");
    }
    kid
}

impl EabKeys {
    /// Parses the file (an absent file is no keys: the caller passes empty bytes).
    pub fn from_json(data: &[u8]) -> Result<EabKeys, String> {
        if data.iter().all(u8::is_ascii_whitespace) {
            return Ok(EabKeys::default());
        }
        serde_json::from_slice(data).map_err(|e| format!("not an EAB key file: {e}"))
    }

    /// The key `kid` of `provisioner`.
    pub fn find(&self, provisioner: &str, kid: &str) -> Option<&EabKey> {
        self.keys.iter().find(|k| k.kid == kid && k.provisioner == provisioner)
    }
}

/// Checks a newAccount's `externalAccountBinding` for `provisioner`: a flattened JWS with alg HS256/384/512, the
/// `kid` of a key of this provisioner, `url` the newAccount URL and no nonce, a MAC that verifies with that key,
/// over the account's own public key. Returns the key id.
pub fn verify_binding(
    binding: &Value,
    keys: &EabKeys,
    provisioner: &str,
    url: &str,
    account_key: &Jwk,
) -> Result<String, Problem> {
    let bad = |m: &str| Problem::malformed(format!("externalAccountBinding: {m}"));
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s);
    let obj = binding.as_object().ok_or_else(|| bad("not a JWS object"))?;
    let field = |k: &str| {
        obj.get(k)
            .and_then(Value::as_str)
            .ok_or_else(|| bad(&format!("no {k}")))
    };
    let (protected, payload, sig) = (field("protected")?, field("payload")?, field("signature")?);
    let header: Map<String, Value> = b64(protected)
        .ok()
        .and_then(|h| serde_json::from_slice(&h).ok())
        .ok_or_else(|| bad("the protected header is not base64url JSON"))?;
    let alg = match header.get("alg").and_then(Value::as_str) {
        Some("HS256") => Alg::Hs256,
        Some("HS384") => Alg::Hs384,
        Some("HS512") => Alg::Hs512,
        other => return Err(bad(&format!("alg {other:?} is not HS256, HS384 or HS512"))),
    };
    if header.contains_key("nonce") {
        return Err(bad("the binding must not carry a nonce"));
    }
    if header.get("url").and_then(Value::as_str) != Some(url) {
        return Err(bad("its url is not the newAccount URL"));
    }
    let kid = header.get("kid").and_then(Value::as_str).ok_or_else(|| bad("no kid"))?;
    let key = keys
        .find(provisioner, kid)
        .ok_or_else(|| Problem::unauthorized(format!("externalAccountBinding: unknown key id {kid:?}")))?;
    let mac_key = Jwk {
        kty: "oct".into(),
        k: Some(key.hmac_key.clone()),
        ..Default::default()
    };
    let sig = b64(sig).map_err(|_| bad("the signature is not base64url"))?;
    jws::verify(alg, &mac_key, format!("{protected}.{payload}").as_bytes(), &sig)
        .map_err(|_| Problem::unauthorized("externalAccountBinding: the MAC does not verify with that key"))?;
    let bound: Jwk = b64(payload)
        .ok()
        .and_then(|p| serde_json::from_slice(&p).ok())
        .ok_or_else(|| bad("the payload is not a JWK"))?;
    let same = bound
        .thumbprint()
        .ok()
        .zip(account_key.thumbprint().ok())
        .is_some_and(|(a, b)| a == b);
    if !same {
        return Err(bad("the payload is not the account's key"));
    }
    Ok(kid.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::keys::{KeySpec, PrivateKey};

    fn binding(kid: &str, hmac: &[u8], url: &str, account: &Jwk, alg: &str) -> Value {
        let e = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        let p = e(&serde_json::to_vec(&serde_json::json!({"alg": alg, "kid": kid, "url": url})).unwrap());
        let pl = e(&serde_json::to_vec(account).unwrap());
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, hmac);
        let tag = aws_lc_rs::hmac::sign(&key, format!("{p}.{pl}").as_bytes());
        serde_json::json!({"protected": p, "payload": pl, "signature": e(tag.as_ref())})
    }

    #[test]
    fn a_key_id_never_starts_with_a_hyphen() {
        // 0xF8 puts 62 (`-`) in the first six bits; 0xFC puts 63 (`_`).
        let mut bytes = [7u8; 18];
        bytes[0] = 0xF8;
        let kid = key_id(&bytes);
        assert_eq!(kid.len(), 24);
        assert!(kid.starts_with('A'), "{kid}");
        assert_eq!(
            kid[1..],
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)[1..]
        );
        bytes[0] = 0xFC;
        assert!(key_id(&bytes).starts_with('_'));
        bytes[0] = 0x00;
        assert_eq!(
            key_id(&bytes),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        );
    }

    #[test]
    fn a_binding_verifies_only_with_its_key_url_and_account() {
        let hmac = b"0123456789abcdef0123456789abcdef";
        let keys = EabKeys {
            keys: vec![EabKey {
                kid: "k1".into(),
                hmac_key: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hmac),
                provisioner: "acme".into(),
                reference: "r".into(),
                created_at: 0,
            }],
        };
        let account = Jwk::from_private_key(&PrivateKey::generate(KeySpec::P256).unwrap())
            .unwrap()
            .public()
            .unwrap();
        let other = Jwk::from_private_key(&PrivateKey::generate(KeySpec::P256).unwrap())
            .unwrap()
            .public()
            .unwrap();
        let url = "https://ca.test/acme/acme/new-account";
        let good = binding("k1", hmac, url, &account, "HS256");
        assert_eq!(verify_binding(&good, &keys, "acme", url, &account).unwrap(), "k1");
        assert!(
            verify_binding(&good, &keys, "other-prov", url, &account).is_err(),
            "another provisioner"
        );
        assert!(
            verify_binding(&good, &keys, "acme", url, &other).is_err(),
            "another account key"
        );
        assert!(
            verify_binding(&good, &keys, "acme", "https://ca.test/x", &account).is_err(),
            "another url"
        );
        let wrong_mac = binding("k1", b"wrong key wrong key wrong key!!!", url, &account, "HS256");
        assert!(verify_binding(&wrong_mac, &keys, "acme", url, &account).is_err());
        let unknown = binding("k2", hmac, url, &account, "HS256");
        assert!(verify_binding(&unknown, &keys, "acme", url, &account).is_err());
        let es = binding("k1", hmac, url, &account, "ES256");
        assert!(verify_binding(&es, &keys, "acme", url, &account).is_err());
    }
}
