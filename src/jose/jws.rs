//! JWS compact serialization ([RFC 7515]) and JWT claims checks ([RFC 7519]).
//!
//! Verification is strict: `alg: none` is refused, the algorithm must fit the key (an HMAC algorithm never
//! verifies with an asymmetric key, so a public key cannot be used as an HMAC secret), and a key that names its
//! own `alg` only verifies that algorithm.
//!
//! [RFC 7515]: https://datatracker.ietf.org/doc/html/rfc7515
//! [RFC 7519]: https://datatracker.ietf.org/doc/html/rfc7519

use aws_lc_rs::{hmac, rand::SystemRandom, signature};
use serde_json::{Map, Value};

use super::jwk::Jwk;
use super::{JoseError, b64, unb64};
use crate::pki::keys::{Curve, KeyKind, PrivateKey};

/// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds (step's value).
pub const LEEWAY: i64 = 60;

/// The JWS algorithms we sign and verify with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    /// ECDSA P-256 SHA-256
    Es256,
    /// ECDSA P-384 SHA-384
    Es384,
    /// ECDSA P-521 SHA-512
    Es512,
    /// Ed25519
    EdDsa,
    /// RSASSA-PKCS1-v1_5 SHA-256
    Rs256,
    /// RSASSA-PKCS1-v1_5 SHA-384
    Rs384,
    /// RSASSA-PKCS1-v1_5 SHA-512
    Rs512,
    /// RSASSA-PSS SHA-256
    Ps256,
    /// RSASSA-PSS SHA-384
    Ps384,
    /// RSASSA-PSS SHA-512
    Ps512,
    /// HMAC SHA-256
    Hs256,
    /// HMAC SHA-384
    Hs384,
    /// HMAC SHA-512
    Hs512,
}

impl Alg {
    /// Parses an `alg` value. `none` is refused here, for every caller.
    pub fn parse(s: &str) -> Result<Alg, JoseError> {
        Ok(match s {
            "ES256" => Alg::Es256,
            "ES384" => Alg::Es384,
            "ES512" => Alg::Es512,
            "EdDSA" => Alg::EdDsa,
            "RS256" => Alg::Rs256,
            "RS384" => Alg::Rs384,
            "RS512" => Alg::Rs512,
            "PS256" => Alg::Ps256,
            "PS384" => Alg::Ps384,
            "PS512" => Alg::Ps512,
            "HS256" => Alg::Hs256,
            "HS384" => Alg::Hs384,
            "HS512" => Alg::Hs512,
            "none" | "None" | "NONE" => {
                return Err(JoseError::Rejected("alg \"none\" (unsigned tokens) is refused".into()));
            }
            other => return Err(JoseError::Unsupported(format!("JWS alg {other:?}"))),
        })
    }

    /// The `alg` name.
    pub fn name(self) -> &'static str {
        match self {
            Alg::Es256 => "ES256",
            Alg::Es384 => "ES384",
            Alg::Es512 => "ES512",
            Alg::EdDsa => "EdDSA",
            Alg::Rs256 => "RS256",
            Alg::Rs384 => "RS384",
            Alg::Rs512 => "RS512",
            Alg::Ps256 => "PS256",
            Alg::Ps384 => "PS384",
            Alg::Ps512 => "PS512",
            Alg::Hs256 => "HS256",
            Alg::Hs384 => "HS384",
            Alg::Hs512 => "HS512",
        }
    }

    /// Checks that this algorithm fits the key: kty, curve, and the key's own `alg` if it names one.
    pub fn check_key(self, jwk: &Jwk) -> Result<(), JoseError> {
        let fits = match self {
            Alg::Es256 => jwk.kty == "EC" && jwk.crv.as_deref() == Some("P-256"),
            Alg::Es384 => jwk.kty == "EC" && jwk.crv.as_deref() == Some("P-384"),
            Alg::Es512 => jwk.kty == "EC" && jwk.crv.as_deref() == Some("P-521"),
            Alg::EdDsa => jwk.kty == "OKP" && jwk.crv.as_deref() == Some("Ed25519"),
            Alg::Rs256 | Alg::Rs384 | Alg::Rs512 | Alg::Ps256 | Alg::Ps384 | Alg::Ps512 => jwk.kty == "RSA",
            Alg::Hs256 | Alg::Hs384 | Alg::Hs512 => jwk.kty == "oct",
        };
        if !fits {
            return Err(JoseError::Rejected(format!(
                "alg {} does not fit a {}{} key",
                self.name(),
                jwk.kty,
                jwk.crv.as_deref().map(|c| format!(" {c}")).unwrap_or_default()
            )));
        }
        if let Some(key_alg) = &jwk.alg
            && key_alg != self.name()
        {
            return Err(JoseError::Rejected(format!(
                "alg {} does not match the key's alg {key_alg}",
                self.name()
            )));
        }
        Ok(())
    }
}

/// A key able to sign: an asymmetric private key or an oct secret, with its JWK (for kid and checks).
pub struct SigningKey {
    /// The JWK (private members included).
    pub jwk: Jwk,
    key: Option<PrivateKey>,
}

impl SigningKey {
    /// From a private JWK (asymmetric or oct).
    pub fn from_jwk(jwk: Jwk) -> Result<SigningKey, JoseError> {
        if !jwk.is_private() {
            return Err(JoseError::BadParameter(
                "the key is a public key; signing needs the private key".into(),
            ));
        }
        let key = if jwk.kty == "oct" {
            None
        } else {
            Some(jwk.to_private_key()?)
        };
        Ok(SigningKey { jwk, key })
    }

    /// From a private key (PEM/DER).
    pub fn from_private_key(key: PrivateKey) -> Result<SigningKey, JoseError> {
        Ok(SigningKey {
            jwk: Jwk::from_private_key(&key)?,
            key: Some(key),
        })
    }

    /// Signs `input` (the JWS signing input) with `alg`.
    pub fn sign(&self, alg: Alg, input: &[u8]) -> Result<Vec<u8>, JoseError> {
        alg.check_key(&self.jwk)?;
        let rng = SystemRandom::new();
        let fail = |_| JoseError::Malformed("signing failed".into());
        if let Some(h) = hmac_alg(alg) {
            let k = unb64(self.jwk.k.as_deref().unwrap_or_default(), "k")?;
            return Ok(hmac::sign(&hmac::Key::new(h, &k), input).as_ref().to_vec());
        }
        let key = self.key.as_ref().expect("asymmetric keys carry a PrivateKey");
        let pkcs8 = key.pkcs8_der();
        match (alg, key.kind()) {
            (Alg::EdDsa, KeyKind::Ed25519) => {
                let kp = signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pkcs8)
                    .map_err(|e| JoseError::Malformed(format!("Ed25519 key: {e}")))?;
                Ok(kp.sign(input).as_ref().to_vec())
            }
            (Alg::Es256 | Alg::Es384 | Alg::Es512, KeyKind::Ec(_)) => {
                let a = match alg {
                    Alg::Es256 => &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    Alg::Es384 => &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                    _ => &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
                };
                let kp = signature::EcdsaKeyPair::from_pkcs8(a, &pkcs8)
                    .map_err(|e| JoseError::Malformed(format!("EC key: {e}")))?;
                Ok(kp.sign(&rng, input).map_err(fail)?.as_ref().to_vec())
            }
            (_, KeyKind::Rsa(_)) => {
                let kp = signature::RsaKeyPair::from_pkcs8(&pkcs8)
                    .map_err(|e| JoseError::Malformed(format!("RSA key: {e}")))?;
                let enc: &'static dyn signature::RsaEncoding = match alg {
                    Alg::Rs256 => &signature::RSA_PKCS1_SHA256,
                    Alg::Rs384 => &signature::RSA_PKCS1_SHA384,
                    Alg::Rs512 => &signature::RSA_PKCS1_SHA512,
                    Alg::Ps256 => &signature::RSA_PSS_SHA256,
                    Alg::Ps384 => &signature::RSA_PSS_SHA384,
                    _ => &signature::RSA_PSS_SHA512,
                };
                let mut sig = vec![0u8; kp.public_modulus_len()];
                kp.sign(enc, &rng, input, &mut sig).map_err(fail)?;
                Ok(sig)
            }
            _ => Err(JoseError::Rejected(format!("alg {} does not fit the key", alg.name()))),
        }
    }
}

fn hmac_alg(alg: Alg) -> Option<hmac::Algorithm> {
    match alg {
        Alg::Hs256 => Some(hmac::HMAC_SHA256),
        Alg::Hs384 => Some(hmac::HMAC_SHA384),
        Alg::Hs512 => Some(hmac::HMAC_SHA512),
        _ => None,
    }
}

/// Verifies `sig` over `input` with `alg` and the (public or private) `jwk`.
pub fn verify(alg: Alg, jwk: &Jwk, input: &[u8], sig: &[u8]) -> Result<(), JoseError> {
    alg.check_key(jwk)?;
    if let Some(h) = hmac_alg(alg) {
        let k = unb64(jwk.k.as_deref().unwrap_or_default(), "k")?;
        return hmac::verify(&hmac::Key::new(h, &k), input, sig).map_err(|_| JoseError::BadSignature);
    }
    let ok = match alg {
        Alg::Es256 | Alg::Es384 | Alg::Es512 => {
            let a = match jwk.curve()? {
                Curve::P256 => &signature::ECDSA_P256_SHA256_FIXED,
                Curve::P384 => &signature::ECDSA_P384_SHA384_FIXED,
                Curve::P521 => &signature::ECDSA_P521_SHA512_FIXED,
            };
            signature::UnparsedPublicKey::new(a, jwk.ec_point()?).verify(input, sig)
        }
        Alg::EdDsa => {
            let x = unb64(jwk.x.as_deref().unwrap_or_default(), "x")?;
            signature::UnparsedPublicKey::new(&signature::ED25519, x).verify(input, sig)
        }
        _ => {
            let n = unb64(jwk.n.as_deref().unwrap_or_default(), "n")?;
            let e = unb64(jwk.e.as_deref().unwrap_or_default(), "e")?;
            let a: &signature::RsaParameters = match alg {
                Alg::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                Alg::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                Alg::Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                Alg::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
                Alg::Ps384 => &signature::RSA_PSS_2048_8192_SHA384,
                _ => &signature::RSA_PSS_2048_8192_SHA512,
            };
            signature::RsaPublicKeyComponents { n: &n[..], e: &e[..] }.verify(a, input, sig)
        }
    };
    ok.map_err(|_| JoseError::BadSignature)
}

/// A decoded compact JWS (not yet verified).
#[derive(Debug, Clone)]
pub struct Compact {
    /// The protected header.
    pub header: Map<String, Value>,
    /// The payload bytes.
    pub payload: Vec<u8>,
    /// The signature bytes.
    pub signature: Vec<u8>,
    /// `BASE64URL(header) '.' BASE64URL(payload)`.
    pub signing_input: String,
}

/// Splits and decodes a compact JWS. Nothing is verified.
pub fn decode_compact(token: &str) -> Result<Compact, JoseError> {
    let token = token.trim();
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(JoseError::Malformed(format!(
            "a compact JWS has 3 dot-separated parts, this has {} (truncated?)",
            parts.len()
        )));
    }
    let header_bytes = unb64(parts[0], "the header")?;
    let header: Map<String, Value> = serde_json::from_slice(&header_bytes)
        .map_err(|_| JoseError::Malformed("the header is not a JSON object".into()))?;
    Ok(Compact {
        header,
        payload: unb64(parts[1], "the payload")?,
        signature: unb64(parts[2], "the signature")?,
        signing_input: format!("{}.{}", parts[0], parts[1]),
    })
}

/// Signs `payload` into a compact JWS with the given header members (alg is set here).
pub fn sign_compact(
    key: &SigningKey,
    alg: Alg,
    mut header: Map<String, Value>,
    payload: &[u8],
) -> Result<String, JoseError> {
    header.insert("alg".into(), Value::String(alg.name().into()));
    let h = b64(&serde_json::to_vec(&header).expect("a map serializes"));
    let input = format!("{h}.{}", b64(payload));
    let sig = key.sign(alg, input.as_bytes())?;
    Ok(format!("{input}.{}", b64(&sig)))
}

/// Verifies a compact JWS with `jwk`; `expected_alg` pins the algorithm. Returns the decoded parts.
pub fn verify_compact(token: &str, jwk: &Jwk, expected_alg: Option<Alg>) -> Result<Compact, JoseError> {
    let c = decode_compact(token)?;
    verify_decoded(&c, jwk, expected_alg)?;
    Ok(c)
}

/// [`verify_compact`] for a JWS already split and decoded by [`decode_compact`].
pub fn verify_decoded(c: &Compact, jwk: &Jwk, expected_alg: Option<Alg>) -> Result<(), JoseError> {
    let alg_name = c
        .header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or_else(|| JoseError::Malformed("the header has no alg".into()))?;
    let alg = Alg::parse(alg_name)?;
    if let Some(want) = expected_alg
        && want != alg
    {
        return Err(JoseError::Rejected(format!(
            "the token's alg {} is not the expected {}",
            alg.name(),
            want.name()
        )));
    }
    if let Some(crit) = c.header.get("crit") {
        return Err(JoseError::Rejected(format!(
            "unsupported critical header parameters {crit}"
        )));
    }
    verify(alg, jwk, c.signing_input.as_bytes(), &c.signature)
}

/// What a JWT's claims must satisfy.
#[derive(Debug, Clone, Default)]
pub struct ClaimChecks {
    /// Required issuer.
    pub iss: Option<String>,
    /// Required audience: the token's `aud` (string or array) must contain one of these.
    pub aud: Vec<String>,
    /// Skip the `exp` check.
    pub no_exp_check: bool,
}

/// The largest NumericDate accepted (the year 9999); beyond it a time claim is "out of range", not a wrapped number.
const MAX_NUMERIC_DATE: f64 = 253_402_300_799.0;

/// A NumericDate claim (`exp`, `nbf`, `iat`) as whole seconds: absent is `None`; not a number, not finite, negative
/// or past the year 9999 is an error naming the claim.
pub fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, JoseError> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => {
            let f = v
                .as_f64()
                .ok_or_else(|| JoseError::Malformed(format!("claim {name} is not a number")))?;
            if !f.is_finite() || !(0.0..=MAX_NUMERIC_DATE).contains(&f) {
                return Err(JoseError::Malformed(format!("claim {name} out of range ({v})")));
            }
            Ok(Some(f as i64))
        }
    }
}

/// Checks registered claims at `now` (unix seconds) with [`LEEWAY`].
pub fn check_claims(claims: &Map<String, Value>, checks: &ClaimChecks, now: i64) -> Result<(), JoseError> {
    if let Some(iss) = &checks.iss {
        let got = claims.get("iss").and_then(Value::as_str);
        if got != Some(iss.as_str()) {
            let got = got.map_or_else(|| "no iss".to_string(), |g| format!("{g:?}"));
            return Err(JoseError::Rejected(format!(
                "invalid issuer: token has {got}, want {iss:?}"
            )));
        }
    }
    if !checks.aud.is_empty() {
        let auds: Vec<&str> = match claims.get("aud") {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if !auds.iter().any(|a| checks.aud.iter().any(|w| w == a)) {
            return Err(JoseError::Rejected(format!(
                "invalid audience: token has {auds:?}, want one of {:?}",
                checks.aud
            )));
        }
    }
    let num = |name: &str| numeric_date(claims, name);
    if let Some(exp) = num("exp")?
        && !checks.no_exp_check
        && now > exp.saturating_add(LEEWAY)
    {
        return Err(JoseError::Rejected(format!(
            "the token expired {} s ago (exp {exp})",
            now - exp
        )));
    }
    if let Some(nbf) = num("nbf")?
        && now.saturating_add(LEEWAY) < nbf
    {
        return Err(JoseError::Rejected(format!(
            "the token is not valid before {nbf} ({} s from now)",
            nbf - now
        )));
    }
    if let Some(iat) = num("iat")?
        && now.saturating_add(LEEWAY) < iat
    {
        return Err(JoseError::Rejected(format!(
            "the token was issued in the future (iat {iat})"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::keys::KeySpec;

    #[test]
    fn sign_verify_every_alg_and_refuse_mismatches() {
        let cases = [
            (KeySpec::P256, Alg::Es256),
            (KeySpec::P384, Alg::Es384),
            (KeySpec::P521, Alg::Es512),
            (KeySpec::Ed25519, Alg::EdDsa),
            (KeySpec::Rsa(2048), Alg::Rs256),
            (KeySpec::Rsa(2048), Alg::Ps512),
        ];
        for (spec, alg) in cases {
            let key = SigningKey::from_private_key(PrivateKey::generate(spec).unwrap()).unwrap();
            let tok = sign_compact(&key, alg, Map::new(), b"{}").unwrap();
            let public = key.jwk.public().unwrap();
            verify_compact(&tok, &public, None).unwrap();
            // A flipped signature bit fails.
            let mut bad = tok.clone().into_bytes();
            let i = bad.len() - 5;
            bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
            assert!(verify_compact(std::str::from_utf8(&bad).unwrap(), &public, None).is_err());
        }
        // HMAC with a public key as the secret: refused before any MAC is computed.
        let ec = SigningKey::from_private_key(PrivateKey::generate(KeySpec::P256).unwrap()).unwrap();
        let forged = format!("{}.{}.AAAA", b64(br#"{"alg":"HS256"}"#), b64(b"{}"));
        assert!(matches!(
            verify_compact(&forged, &ec.jwk.public().unwrap(), None),
            Err(JoseError::Rejected(_))
        ));
        let none = format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(b"{}"));
        assert!(matches!(
            verify_compact(&none, &ec.jwk.public().unwrap(), None),
            Err(JoseError::Rejected(_))
        ));
    }

    #[test]
    fn claims() {
        let c: Map<String, Value> =
            serde_json::from_str(r#"{"iss":"a","aud":["x","y"],"exp":1000,"nbf":900}"#).unwrap();
        let ok = ClaimChecks {
            iss: Some("a".into()),
            aud: vec!["y".into()],
            no_exp_check: false,
        };
        check_claims(&c, &ok, 950).unwrap();
        check_claims(&c, &ok, 1059).unwrap();
        assert!(check_claims(&c, &ok, 1061).is_err());
        assert!(check_claims(&c, &ok, 839).is_err());
        assert!(
            check_claims(
                &c,
                &ClaimChecks {
                    iss: Some("b".into()),
                    ..ok.clone()
                },
                950
            )
            .is_err()
        );
        assert!(
            check_claims(
                &c,
                &ClaimChecks {
                    aud: vec!["z".into()],
                    ..ok.clone()
                },
                950
            )
            .is_err()
        );
        check_claims(
            &c,
            &ClaimChecks {
                no_exp_check: true,
                ..ok
            },
            5000,
        )
        .unwrap();
    }
}
