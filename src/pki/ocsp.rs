//! OCSP (RFC 6960) without I/O, in the lightweight profile of RFC 5019: parse a request, match its CertIDs to the
//! issuer, and sign an answer with the issuer's key or with a delegated responder's.
//!
//! The ASN.1 comes from RustCrypto's `x509-ocsp`; signatures are made by `PrivateKey` (aws-lc-rs). The caller
//! (`server::ocsp`) looks each serial up in the store and passes the statuses and the clock in.

use std::sync::Arc;

use aws_lc_rs::digest;
use der07::asn1::{Any, AnyRef, BitString, GeneralizedTime, Null, ObjectIdentifier, OctetString};
use der07::{Decode, Encode};
use x509_cert02::ext::Extension;
use x509_cert02::spki::AlgorithmIdentifierOwned;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspGeneralizedTime, OcspRequest, OcspResponse, OcspResponseStatus,
    ResponderId, ResponseData, RevokedInfo, SingleResponse,
};
use x509_parser::prelude::{FromDer, X509Certificate};

use super::keys::{Curve, KeyKind, PrivateKey};

/// id-pkix-ocsp-nonce (RFC 9654).
pub const NONCE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.2");
/// id-pkix-ocsp-nocheck, as DER arcs for rcgen.
pub const NOCHECK_ARCS: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 48, 1, 5];
/// The most CertIDs one request may ask about (RFC 5019 clients send one).
pub const MAX_REQUESTS: usize = 8;

/// Why a request cannot be answered.
#[derive(Debug, thiserror::Error)]
pub enum OcspError {
    /// Not an OCSPRequest, or one this responder refuses (answered `malformedRequest`).
    #[error("malformed OCSP request: {0}")]
    Malformed(String),
    /// The responder's key could not sign, or a structure could not be encoded (answered `internalError`).
    #[error("OCSP response: {0}")]
    Internal(String),
}

/// A parsed request: the CertIDs asked about and the nonce extension, echoed as it came.
#[derive(Debug, Clone)]
pub struct Request {
    /// The certificates asked about, in order.
    pub cert_ids: Vec<CertId>,
    /// The request's nonce extension (RFC 9654), if any.
    pub nonce: Option<Extension>,
}

impl Request {
    /// Parses a DER OCSPRequest. Signed requests are accepted and their signature ignored (RFC 5019 §2.1.2);
    /// an unknown critical extension, more than [`MAX_REQUESTS`] CertIDs or a nonce outside 1..=32 octets
    /// (RFC 9654 §2.1) is refused.
    pub fn parse(der: &[u8]) -> Result<Request, OcspError> {
        let req = OcspRequest::from_der(der).map_err(|e| OcspError::Malformed(e.to_string()))?;
        let tbs = req.tbs_request;
        if tbs.request_list.is_empty() {
            return Err(OcspError::Malformed("the request list is empty".into()));
        }
        if tbs.request_list.len() > MAX_REQUESTS {
            return Err(OcspError::Malformed(format!(
                "{} certificates in one request; at most {MAX_REQUESTS}",
                tbs.request_list.len()
            )));
        }
        let mut nonce = None;
        for ext in tbs.request_extensions.into_iter().flatten() {
            if ext.extn_id == NONCE {
                let value = ext.extn_value.as_bytes();
                let len = OctetString::from_der(value).map_or(value.len(), |o| o.as_bytes().len());
                if !(1..=32).contains(&len) {
                    return Err(OcspError::Malformed(format!(
                        "a nonce of {len} octets; 1 to 32 are allowed"
                    )));
                }
                nonce = Some(ext);
            } else if ext.critical {
                return Err(OcspError::Malformed(format!(
                    "unknown critical extension {}",
                    ext.extn_id
                )));
            }
        }
        let mut cert_ids = Vec::with_capacity(tbs.request_list.len());
        for r in tbs.request_list {
            if r.single_request_extensions.iter().flatten().any(|e| e.critical) {
                return Err(OcspError::Malformed("a critical single-request extension".into()));
            }
            cert_ids.push(r.req_cert);
        }
        Ok(Request { cert_ids, nonce })
    }
}

/// The serial of a CertID in decimal, as the store keys certificates.
pub fn serial_decimal(id: &CertId) -> String {
    x509_parser::num_bigint::BigUint::from_bytes_be(id.serial_number.as_bytes()).to_str_radix(10)
}

/// The issuer's name and key hashed with each algorithm a CertID may use.
#[derive(Debug, Clone)]
pub struct IssuerHashes {
    name_der: Vec<u8>,
    key_bits: Vec<u8>,
}

impl IssuerHashes {
    /// From the issuing CA's certificate.
    pub fn new(issuer_der: &[u8]) -> Result<IssuerHashes, OcspError> {
        let (_, cert) = X509Certificate::from_der(issuer_der).map_err(|e| OcspError::Internal(e.to_string()))?;
        Ok(IssuerHashes {
            name_der: cert.subject().as_raw().to_vec(),
            key_bits: cert.public_key().subject_public_key.data.to_vec(),
        })
    }

    /// Whether `id` names this issuer (issuerNameHash and issuerKeyHash under its hash algorithm).
    pub fn matches(&self, id: &CertId) -> bool {
        let Some(alg) = hash_alg(&id.hash_algorithm.oid) else {
            return false;
        };
        digest::digest(alg, &self.name_der).as_ref() == id.issuer_name_hash.as_bytes()
            && digest::digest(alg, &self.key_bits).as_ref() == id.issuer_key_hash.as_bytes()
    }
}

fn hash_alg(oid: &ObjectIdentifier) -> Option<&'static digest::Algorithm> {
    Some(match oid.to_string().as_str() {
        "1.3.14.3.2.26" => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        "2.16.840.1.101.3.4.2.1" => &digest::SHA256,
        "2.16.840.1.101.3.4.2.2" => &digest::SHA384,
        "2.16.840.1.101.3.4.2.3" => &digest::SHA512,
        _ => return None,
    })
}

/// What the store says about one serial.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Issued here and not revoked.
    Good,
    /// Revoked at `at` (unix seconds) for `reason` (an RFC 5280 CRLReason code).
    Revoked {
        /// When.
        at: i64,
        /// Why, when a reason was given (0, unspecified, is left out as RFC 5280 asks).
        reason: Option<u8>,
    },
    /// Not a certificate this CA issued.
    Unknown,
}

/// Signs OCSP answers: the issuing CA itself, or a delegated responder certificate it issued (id-kp-OCSPSigning),
/// which is then sent along in `certs`.
pub struct Signer {
    cert_der: Vec<u8>,
    key: Arc<PrivateKey>,
    key_hash: Vec<u8>,
    delegated: bool,
}

impl Signer {
    /// `cert_der` is the certificate of `key`: the issuer's (`delegated` false) or the responder's.
    pub fn new(cert_der: Vec<u8>, key: Arc<PrivateKey>, delegated: bool) -> Result<Signer, OcspError> {
        let (_, cert) = X509Certificate::from_der(&cert_der).map_err(|e| OcspError::Internal(e.to_string()))?;
        if cert.public_key().raw != key.spki_der().as_slice() {
            return Err(OcspError::Internal(
                "the responder key does not match its certificate".into(),
            ));
        }
        let key_hash = digest::digest(
            &digest::SHA1_FOR_LEGACY_USE_ONLY,
            &cert.public_key().subject_public_key.data,
        )
        .as_ref()
        .to_vec();
        Ok(Signer {
            cert_der,
            key,
            key_hash,
            delegated,
        })
    }

    /// The signer's certificate (DER).
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// A signed `successful` OCSPResponse answering `answers` in order, with the nonce echoed if given.
    /// Times are unix seconds: `produced` for producedAt, `this_update` and `next_update` for every answer.
    pub fn respond(
        &self,
        answers: &[(CertId, Status)],
        nonce: Option<&Extension>,
        produced: i64,
        this_update: i64,
        next_update: i64,
    ) -> Result<Vec<u8>, OcspError> {
        let bad = |e: der07::Error| OcspError::Internal(e.to_string());
        let mut responses = Vec::with_capacity(answers.len());
        for (id, status) in answers {
            let cert_status = match *status {
                Status::Good => CertStatus::good(),
                Status::Unknown => CertStatus::unknown(),
                Status::Revoked { at, reason } => CertStatus::revoked(RevokedInfo {
                    revocation_time: gtime(at)?,
                    revocation_reason: reason.filter(|&r| r != 0).and_then(crl_reason),
                }),
            };
            responses.push(SingleResponse {
                cert_id: id.clone(),
                cert_status,
                this_update: gtime(this_update)?,
                next_update: Some(gtime(next_update)?),
                single_extensions: None,
            });
        }
        let data = ResponseData {
            version: Default::default(),
            responder_id: ResponderId::ByKey(OctetString::new(self.key_hash.clone()).map_err(bad)?),
            produced_at: gtime(produced)?,
            responses,
            response_extensions: nonce.map(|n| vec![n.clone()]),
        };
        let tbs = data.to_der().map_err(bad)?;
        let signature = {
            use rcgen::SigningKey as _;
            self.key
                .key_pair()
                .sign(&tbs)
                .map_err(|e| OcspError::Internal(format!("signing: {e}")))?
        };
        let certs = if self.delegated {
            Some(vec![x509_cert02::Certificate::from_der(&self.cert_der).map_err(bad)?])
        } else {
            None
        };
        let basic = BasicOcspResponse {
            tbs_response_data: data,
            signature_algorithm: signature_algorithm(self.key.kind()),
            signature: BitString::from_bytes(&signature).map_err(bad)?,
            certs,
        };
        OcspResponse::successful(basic).map_err(bad)?.to_der().map_err(bad)
    }
}

/// An unsigned OCSPResponse with an error status (`malformedRequest`, `internalError`, `tryLater`,
/// `unauthorized`).
pub fn error_response(status: OcspResponseStatus) -> Vec<u8> {
    OcspResponse {
        response_status: status,
        response_bytes: None,
    }
    .to_der()
    .unwrap_or_else(|_| vec![0x30, 0x03, 0x0a, 0x01, status as u8])
}

fn gtime(unix: i64) -> Result<OcspGeneralizedTime, OcspError> {
    let secs = u64::try_from(unix).map_err(|_| OcspError::Internal(format!("time {unix} before 1970")))?;
    GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(secs))
        .map(OcspGeneralizedTime)
        .map_err(|e| OcspError::Internal(e.to_string()))
}

fn crl_reason(code: u8) -> Option<x509_cert02::ext::pkix::CrlReason> {
    use x509_cert02::ext::pkix::CrlReason as R;
    Some(match code {
        1 => R::KeyCompromise,
        2 => R::CaCompromise,
        3 => R::AffiliationChanged,
        4 => R::Superseded,
        5 => R::CessationOfOperation,
        6 => R::CertificateHold,
        8 => R::RemoveFromCRL,
        9 => R::PrivilegeWithdrawn,
        10 => R::AaCompromise,
        _ => return None,
    })
}

/// The AlgorithmIdentifier of what `PrivateKey::key_pair().sign` makes for this key kind.
fn signature_algorithm(kind: KeyKind) -> AlgorithmIdentifierOwned {
    let (oid, null) = match kind {
        KeyKind::Ec(Curve::P256) => ("1.2.840.10045.4.3.2", false),
        KeyKind::Ec(Curve::P384) => ("1.2.840.10045.4.3.3", false),
        KeyKind::Ec(Curve::P521) => ("1.2.840.10045.4.3.4", false),
        KeyKind::Ed25519 => ("1.3.101.112", false),
        KeyKind::Rsa(_) => ("1.2.840.113549.1.1.11", true),
    };
    AlgorithmIdentifierOwned {
        oid: ObjectIdentifier::new_unwrap(oid),
        parameters: null.then(|| Any::from(AnyRef::from(Null))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::issue::{IssueRequest, issue};
    use crate::pki::keys::KeySpec;
    use crate::pki::profile::Profile;
    use time::{Duration, OffsetDateTime};

    fn ca(spec: KeySpec) -> (Vec<u8>, Arc<PrivateKey>) {
        let key = PrivateKey::generate(spec).unwrap();
        let now = OffsetDateTime::now_utc();
        let req = IssueRequest::new(Profile::RootCa, "OCSP Test CA", vec![], now, now + Duration::days(1));
        let der = issue(&req, key.key_pair(), key.kind(), None, Some(&key)).unwrap().der;
        (der, Arc::new(key))
    }

    /// A request built the way openssl builds one (SHA-1 CertID, a 16-byte nonce in an OCTET STRING).
    fn request(issuer: &[u8], serial: &[u8], nonce: Option<&[u8]>) -> Vec<u8> {
        let (_, cert) = X509Certificate::from_der(issuer).unwrap();
        let h = |b: &[u8]| {
            OctetString::new(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, b).as_ref().to_vec()).unwrap()
        };
        let id = CertId {
            hash_algorithm: AlgorithmIdentifierOwned {
                oid: ObjectIdentifier::new_unwrap("1.3.14.3.2.26"),
                parameters: Some(Any::from(AnyRef::from(Null))),
            },
            issuer_name_hash: h(cert.subject().as_raw()),
            issuer_key_hash: h(&cert.public_key().subject_public_key.data),
            serial_number: x509_cert02::serial_number::SerialNumber::new(serial).unwrap(),
        };
        let exts = nonce.map(|n| {
            vec![Extension {
                extn_id: NONCE,
                critical: false,
                extn_value: OctetString::new(OctetString::new(n.to_vec()).unwrap().to_der().unwrap()).unwrap(),
            }]
        });
        OcspRequest {
            tbs_request: x509_ocsp::TbsRequest {
                version: Default::default(),
                requestor_name: None,
                request_list: vec![x509_ocsp::Request {
                    req_cert: id,
                    single_request_extensions: None,
                }],
                request_extensions: exts,
            },
            optional_signature: None,
        }
        .to_der()
        .unwrap()
    }

    #[test]
    fn answers_parse_back_with_the_status_nonce_and_a_valid_signature() {
        for spec in [KeySpec::P256, KeySpec::P384, KeySpec::Ed25519, KeySpec::Rsa(2048)] {
            let (issuer, key) = ca(spec);
            let der = request(&issuer, &[0x01, 0x02], Some(&[7; 16]));
            let req = Request::parse(&der).unwrap();
            assert_eq!(serial_decimal(&req.cert_ids[0]), "258");
            let hashes = IssuerHashes::new(&issuer).unwrap();
            assert!(hashes.matches(&req.cert_ids[0]));
            let other = ca(KeySpec::P256).0;
            assert!(!IssuerHashes::new(&other).unwrap().matches(&req.cert_ids[0]));

            let signer = Signer::new(issuer.clone(), key.clone(), false).unwrap();
            let status = Status::Revoked {
                at: 1_700_000_000,
                reason: Some(1),
            };
            let answer = signer
                .respond(
                    &[(req.cert_ids[0].clone(), status)],
                    req.nonce.as_ref(),
                    1_700_000_100,
                    1_700_000_100,
                    1_700_003_700,
                )
                .unwrap();
            let parsed = OcspResponse::from_der(&answer).unwrap();
            assert_eq!(parsed.response_status, OcspResponseStatus::Successful);
            let basic = BasicOcspResponse::from_der(parsed.response_bytes.unwrap().response.as_bytes()).unwrap();
            assert_eq!(basic.nonce().unwrap().0.as_bytes(), &[7; 16]);
            let single = &basic.tbs_response_data.responses[0];
            assert_eq!(single.cert_id, req.cert_ids[0]);
            let CertStatus::Revoked(info) = single.cert_status else {
                panic!("not revoked: {:?}", single.cert_status)
            };
            assert_eq!(
                info.revocation_reason,
                Some(x509_cert02::ext::pkix::CrlReason::KeyCompromise)
            );
            // The signature verifies with the issuer's key under the algorithm the response names.
            let tbs = basic.tbs_response_data.to_der().unwrap();
            let (_, cert) = X509Certificate::from_der(&issuer).unwrap();
            let alg_der = basic.signature_algorithm.to_der().unwrap();
            let alg = x509_parser::x509::AlgorithmIdentifier::from_der(&alg_der).unwrap().1;
            x509_parser::verify::verify_signature(
                cert.public_key(),
                &alg,
                &x509_parser::der_parser::asn1_rs::BitString::new(0, basic.signature.raw_bytes()),
                &tbs,
            )
            .unwrap_or_else(|e| panic!("{spec:?}: {e}"));
        }
    }

    #[test]
    fn malformed_requests_are_refused() {
        assert!(matches!(Request::parse(b"nope"), Err(OcspError::Malformed(_))));
        let (issuer, _) = ca(KeySpec::P256);
        let long = request(&issuer, &[1], Some(&[1; 33]));
        assert!(Request::parse(&long).unwrap_err().to_string().contains("33 octets"));
        let empty = request(&issuer, &[1], Some(&[]));
        assert!(Request::parse(&empty).is_err());
        assert_eq!(
            error_response(OcspResponseStatus::Unauthorized),
            [0x30, 0x03, 0x0a, 0x01, 0x06]
        );
    }
}
