//! JSON Web Keys ([RFC 7517]): EC (P-256/384/521), OKP (Ed25519), RSA and oct; RFC 7638 thumbprints; conversion
//! to and from the PKCS#8 / SubjectPublicKeyInfo forms the rest of ferrica uses.
//!
//! [RFC 7517]: https://datatracker.ietf.org/doc/html/rfc7517

use der::{Decode, Encode, asn1::ObjectIdentifier};
use serde::{Deserialize, Serialize};

use super::{JoseError, b64, unb64};
use crate::pki::keys::{Curve, KeyKind, PrivateKey, oids};

/// A JSON Web Key. Unknown members are kept (`extra`) so that a key read and written again loses nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Jwk {
    /// Intended use: `sig` or `enc`.
    #[serde(rename = "use", skip_serializing_if = "Option::is_none")]
    pub use_: Option<String>,
    /// Key type: `EC`, `OKP`, `RSA` or `oct`.
    pub kty: String,
    /// Key id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Curve (`P-256`, `P-384`, `P-521`, `Ed25519`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// Algorithm the key is meant for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    /// Key operations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_ops: Option<Vec<String>>,
    /// EC x / OKP public key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// EC y.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// RSA modulus.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// RSA public exponent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// Private scalar / exponent / Ed25519 seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub d: Option<String>,
    /// RSA first prime.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p: Option<String>,
    /// RSA second prime.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// RSA d mod (p-1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dp: Option<String>,
    /// RSA d mod (q-1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dq: Option<String>,
    /// RSA q^-1 mod p.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qi: Option<String>,
    /// Symmetric key value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k: Option<String>,
    /// Members we do not interpret.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// A JWK Set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JwkSet {
    /// The keys.
    pub keys: Vec<Jwk>,
}

fn need<'a>(v: &'a Option<String>, member: &str, kty: &str) -> Result<&'a str, JoseError> {
    v.as_deref()
        .ok_or_else(|| JoseError::Malformed(format!("{kty} JWK has no {member:?} member")))
}

impl Jwk {
    /// Parses a JWK from JSON.
    pub fn from_json(data: &[u8]) -> Result<Jwk, JoseError> {
        let jwk: Jwk =
            serde_json::from_slice(data).map_err(|e| JoseError::Malformed(format!("not a JSON Web Key: {e}")))?;
        match jwk.kty.as_str() {
            "EC" | "OKP" | "RSA" | "oct" => Ok(jwk),
            other => Err(JoseError::Unsupported(format!("JWK kty {other:?}"))),
        }
    }

    /// Pretty JSON with a trailing newline.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("a JWK always serializes") + "\n"
    }

    /// Whether the JWK holds secret material (a private key, or any oct key).
    pub fn is_private(&self) -> bool {
        self.d.is_some() || self.k.is_some()
    }

    /// The public part (private members removed). Fails for oct keys, which have none.
    pub fn public(&self) -> Result<Jwk, JoseError> {
        if self.kty == "oct" {
            return Err(JoseError::BadParameter(
                "an oct (symmetric) JWK has no public part".into(),
            ));
        }
        let mut p = self.clone();
        p.d = None;
        p.p = None;
        p.q = None;
        p.dp = None;
        p.dq = None;
        p.qi = None;
        Ok(p)
    }

    /// The RFC 7638 SHA-256 thumbprint, base64url.
    pub fn thumbprint(&self) -> Result<String, JoseError> {
        // Required members only, in lexicographic order, no whitespace (RFC 7638 §3.2).
        let kty = self.kty.as_str();
        let json = match kty {
            "EC" => format!(
                r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#,
                json_str(need(&self.crv, "crv", kty)?),
                json_str(need(&self.x, "x", kty)?),
                json_str(need(&self.y, "y", kty)?)
            ),
            "OKP" => format!(
                r#"{{"crv":{},"kty":"OKP","x":{}}}"#,
                json_str(need(&self.crv, "crv", kty)?),
                json_str(need(&self.x, "x", kty)?)
            ),
            "RSA" => format!(
                r#"{{"e":{},"kty":"RSA","n":{}}}"#,
                json_str(need(&self.e, "e", kty)?),
                json_str(need(&self.n, "n", kty)?)
            ),
            "oct" => format!(r#"{{"k":{},"kty":"oct"}}"#, json_str(need(&self.k, "k", kty)?)),
            other => return Err(JoseError::Unsupported(format!("JWK kty {other:?}"))),
        };
        Ok(b64(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            json.as_bytes(),
        )
        .as_ref()))
    }

    /// The algorithm a key of this type signs with by default (step's defaults).
    pub fn default_alg(&self) -> Result<&'static str, JoseError> {
        Ok(match (self.kty.as_str(), self.crv.as_deref()) {
            ("EC", Some("P-256")) => "ES256",
            ("EC", Some("P-384")) => "ES384",
            ("EC", Some("P-521")) => "ES512",
            ("OKP", Some("Ed25519")) => "EdDSA",
            ("RSA", _) => "RS256",
            ("oct", _) => "HS256",
            (kty, crv) => return Err(JoseError::Unsupported(format!("JWK kty {kty} crv {crv:?}"))),
        })
    }

    /// A JWK for a private key (kid, alg and use are left for the caller).
    pub fn from_private_key(key: &PrivateKey) -> Result<Jwk, JoseError> {
        let pkcs8 = key.pkcs8_der();
        let info =
            pkcs8::PrivateKeyInfoRef::from_der(&pkcs8).map_err(|e| JoseError::Malformed(format!("PKCS#8: {e}")))?;
        let inner = info.private_key.as_bytes();
        let mut jwk = Jwk::from_spki(&key.spki_der())?;
        match key.kind() {
            KeyKind::Ec(curve) => {
                let sec =
                    sec1::EcPrivateKey::from_der(inner).map_err(|e| JoseError::Malformed(format!("SEC1: {e}")))?;
                jwk.d = Some(b64(&left_pad(sec.private_key, field_len(curve))));
            }
            KeyKind::Ed25519 => {
                let seed = <&der::asn1::OctetStringRef>::from_der(inner)
                    .map_err(|e| JoseError::Malformed(format!("Ed25519 key: {e}")))?;
                jwk.d = Some(b64(seed.as_bytes()));
            }
            KeyKind::Rsa(_) => {
                let k = pkcs1::RsaPrivateKeyRef::from_der(inner)
                    .map_err(|e| JoseError::Malformed(format!("PKCS#1: {e}")))?;
                jwk.d = Some(b64(k.private_exponent.as_bytes()));
                jwk.p = Some(b64(k.prime1.as_bytes()));
                jwk.q = Some(b64(k.prime2.as_bytes()));
                jwk.dp = Some(b64(k.exponent1.as_bytes()));
                jwk.dq = Some(b64(k.exponent2.as_bytes()));
                jwk.qi = Some(b64(k.coefficient.as_bytes()));
            }
        }
        Ok(jwk)
    }

    /// A public JWK from a SubjectPublicKeyInfo (DER).
    pub fn from_spki(spki_der: &[u8]) -> Result<Jwk, JoseError> {
        use x509_parser::prelude::FromDer;
        use x509_parser::public_key::PublicKey;
        let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki_der)
            .map_err(|e| JoseError::Malformed(format!("public key: {e}")))?;
        let oid = spki.algorithm.algorithm.to_id_string();
        let mut jwk = Jwk::default();
        match oid.as_str() {
            oids::EC_PUBLIC_KEY => {
                let curve_oid = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok())
                    .map(|o| o.to_id_string())
                    .unwrap_or_default();
                let curve = curve_from_oid(&curve_oid)?;
                let point = spki.subject_public_key.data.as_ref();
                let n = field_len(curve);
                if point.len() != 1 + 2 * n || point[0] != 4 {
                    return Err(JoseError::Unsupported("compressed or malformed EC point".into()));
                }
                jwk.kty = "EC".into();
                jwk.crv = Some(curve.name().into());
                jwk.x = Some(b64(&point[1..=n]));
                jwk.y = Some(b64(&point[n + 1..]));
            }
            oids::ED25519 => {
                jwk.kty = "OKP".into();
                jwk.crv = Some("Ed25519".into());
                jwk.x = Some(b64(spki.subject_public_key.data.as_ref()));
            }
            oids::RSA => {
                let Ok(PublicKey::RSA(rsa)) = spki.parsed() else {
                    return Err(JoseError::Malformed("bad RSA public key".into()));
                };
                jwk.kty = "RSA".into();
                jwk.n = Some(b64(strip_zeros(rsa.modulus)));
                jwk.e = Some(b64(strip_zeros(rsa.exponent)));
            }
            other => return Err(JoseError::Unsupported(format!("public key algorithm {other}"))),
        }
        Ok(jwk)
    }

    /// The private key of an asymmetric private JWK.
    pub fn to_private_key(&self) -> Result<PrivateKey, JoseError> {
        let kty = self.kty.as_str();
        let d = unb64(need(&self.d, "d", kty)?, "d")?;
        let pkcs8 = match kty {
            "EC" => {
                let curve = self.curve()?;
                let point = self.ec_point()?;
                let curve_oid = ObjectIdentifier::new_unwrap(curve_oid(curve));
                let d = left_pad(&d, field_len(curve));
                let sec = sec1::EcPrivateKey {
                    private_key: &d,
                    parameters: Some(sec1::EcParameters::NamedCurve(curve_oid)),
                    public_key: Some(&point),
                };
                let der = sec.to_der().map_err(|e| JoseError::Malformed(format!("EC key: {e}")))?;
                crate::pki::keys::wrap_pkcs8(oids::EC_PUBLIC_KEY, Some(&curve_oid), &der)?
            }
            "OKP" => {
                if self.crv.as_deref() != Some("Ed25519") {
                    return Err(JoseError::Unsupported(format!("OKP curve {:?}", self.crv)));
                }
                let seed = der::asn1::OctetStringRef::new(&d)
                    .and_then(|o| o.to_der())
                    .map_err(|e| JoseError::Malformed(format!("Ed25519 key: {e}")))?;
                crate::pki::keys::wrap_pkcs8(oids::ED25519, None, &seed)?
            }
            "RSA" => {
                let get = |v: &Option<String>, m: &str| -> Result<Vec<u8>, JoseError> { unb64(need(v, m, kty)?, m) };
                let (n, e, p, q, dp, dq, qi) = (
                    get(&self.n, "n")?,
                    get(&self.e, "e")?,
                    get(&self.p, "p")?,
                    get(&self.q, "q")?,
                    get(&self.dp, "dp")?,
                    get(&self.dq, "dq")?,
                    get(&self.qi, "qi")?,
                );
                let key = pkcs1::RsaPrivateKey {
                    modulus: u(&n)?,
                    public_exponent: u(&e)?,
                    private_exponent: u(&d)?,
                    prime1: u(&p)?,
                    prime2: u(&q)?,
                    exponent1: u(&dp)?,
                    exponent2: u(&dq)?,
                    coefficient: u(&qi)?,
                    other_prime_infos: None,
                };
                let der = key
                    .to_der()
                    .map_err(|e| JoseError::Malformed(format!("RSA key: {e}")))?;
                crate::pki::keys::wrap_pkcs8(oids::RSA, None, &der)?
            }
            "oct" => {
                return Err(JoseError::BadParameter(
                    "an oct JWK is not an asymmetric private key".into(),
                ));
            }
            other => return Err(JoseError::Unsupported(format!("JWK kty {other:?}"))),
        };
        let key = PrivateKey::from_pkcs8(&pkcs8)?;
        // The public members must belong to the private key.
        if Jwk::from_spki(&key.spki_der())?.thumbprint()? != self.public()?.thumbprint()? {
            return Err(JoseError::Malformed(
                "the JWK's public members do not match its private key".into(),
            ));
        }
        Ok(key)
    }

    /// The SubjectPublicKeyInfo DER of an asymmetric JWK.
    pub fn to_spki_der(&self) -> Result<Vec<u8>, JoseError> {
        use pkcs8::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
        let kty = self.kty.as_str();
        let (oid, params, key): (&str, Option<der::Any>, Vec<u8>) = match kty {
            "EC" => {
                let curve = self.curve()?;
                let c = ObjectIdentifier::new_unwrap(curve_oid(curve));
                (
                    oids::EC_PUBLIC_KEY,
                    Some(der::Any::encode_from(&c).map_err(|e| JoseError::Malformed(e.to_string()))?),
                    self.ec_point()?,
                )
            }
            "OKP" => (oids::ED25519, None, unb64(need(&self.x, "x", kty)?, "x")?),
            "RSA" => {
                let n = unb64(need(&self.n, "n", kty)?, "n")?;
                let e = unb64(need(&self.e, "e", kty)?, "e")?;
                let pk = pkcs1::RsaPublicKey {
                    modulus: u(&n)?,
                    public_exponent: u(&e)?,
                };
                (
                    oids::RSA,
                    Some(der::Any::null()),
                    pk.to_der().map_err(|e| JoseError::Malformed(e.to_string()))?,
                )
            }
            _ => return Err(JoseError::BadParameter(format!("a {kty} JWK has no public key"))),
        };
        let spki = SubjectPublicKeyInfoOwned {
            algorithm: AlgorithmIdentifierOwned {
                oid: ObjectIdentifier::new_unwrap(oid),
                parameters: params,
            },
            subject_public_key: der::asn1::BitString::from_bytes(&key)
                .map_err(|e| JoseError::Malformed(e.to_string()))?,
        };
        spki.to_der().map_err(|e| JoseError::Malformed(e.to_string()))
    }

    /// The curve of an EC JWK.
    pub fn curve(&self) -> Result<Curve, JoseError> {
        match self.crv.as_deref() {
            Some("P-256") => Ok(Curve::P256),
            Some("P-384") => Ok(Curve::P384),
            Some("P-521") => Ok(Curve::P521),
            other => Err(JoseError::Unsupported(format!("EC curve {other:?}"))),
        }
    }

    /// The uncompressed EC point `04 || x || y`.
    pub fn ec_point(&self) -> Result<Vec<u8>, JoseError> {
        let n = field_len(self.curve()?);
        let x = unb64(need(&self.x, "x", "EC")?, "x")?;
        let y = unb64(need(&self.y, "y", "EC")?, "y")?;
        if x.len() != n || y.len() != n {
            return Err(JoseError::Malformed(format!(
                "EC x and y must be {n} bytes for {}",
                self.crv.as_deref().unwrap_or("")
            )));
        }
        let mut p = vec![4u8];
        p.extend_from_slice(&x);
        p.extend_from_slice(&y);
        Ok(p)
    }
}

fn u(b: &[u8]) -> Result<der::asn1::UintRef<'_>, JoseError> {
    der::asn1::UintRef::new(strip_zeros(b)).map_err(|e| JoseError::Malformed(e.to_string()))
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialize")
}

fn field_len(c: Curve) -> usize {
    match c {
        Curve::P256 => 32,
        Curve::P384 => 48,
        Curve::P521 => 66,
    }
}

fn curve_oid(c: Curve) -> &'static str {
    match c {
        Curve::P256 => oids::P256,
        Curve::P384 => oids::P384,
        Curve::P521 => oids::P521,
    }
}

fn curve_from_oid(oid: &str) -> Result<Curve, JoseError> {
    match oid {
        oids::P256 => Ok(Curve::P256),
        oids::P384 => Ok(Curve::P384),
        oids::P521 => Ok(Curve::P521),
        other => Err(JoseError::Unsupported(format!("EC curve {other}"))),
    }
}

fn left_pad(b: &[u8], len: usize) -> Vec<u8> {
    let b = strip_zeros(b);
    let mut v = vec![0u8; len.saturating_sub(b.len())];
    v.extend_from_slice(b);
    v
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let i = b.iter().take_while(|x| **x == 0).count();
    &b[i.min(b.len().saturating_sub(1))..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::keys::KeySpec;

    #[test]
    fn rfc7638_thumbprint() {
        // RFC 7638 §3.1.
        let jwk = Jwk::from_json(br#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#).unwrap();
        assert_eq!(jwk.thumbprint().unwrap(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }

    #[test]
    fn private_key_round_trips() {
        for spec in [
            KeySpec::P256,
            KeySpec::P384,
            KeySpec::P521,
            KeySpec::Ed25519,
            KeySpec::Rsa(2048),
        ] {
            let key = PrivateKey::generate(spec).unwrap();
            let jwk = Jwk::from_private_key(&key).unwrap();
            let back = jwk.to_private_key().unwrap();
            assert_eq!(back.spki_der(), key.spki_der(), "{spec:?}");
            assert_eq!(jwk.public().unwrap().to_spki_der().unwrap(), key.spki_der(), "{spec:?}");
        }
    }
}
