//! Certificate profiles: the shape (CA flag, key usages, EKUs, default lifetime) of what we issue.
//!
//! Values follow step's default templates (`x509util/templates.go`, see `step-and-peers.md` §3.7). The profile
//! always decides these fields: nothing a CSR asks for is copied through.

use rcgen::{BasicConstraints, ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose};
use time::Duration;

use super::keys::KeyKind;

/// The kinds of certificate `certificate create` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Profile {
    /// A self-signed root CA: CA:TRUE pathlen 1, keyCertSign + cRLSign, 10 years.
    RootCa,
    /// An intermediate CA signed by `--ca`: CA:TRUE pathlen 0, keyCertSign + cRLSign, 10 years.
    IntermediateCa,
    /// A TLS leaf signed by `--ca`: digitalSignature (+keyEncipherment for RSA), serverAuth + clientAuth, 24 h.
    Leaf,
    /// A self-signed leaf: like `leaf` but signed by its own key.
    SelfSigned,
}

impl Profile {
    /// Whether the profile signs with its own key.
    pub fn is_self_signed(self) -> bool {
        matches!(self, Profile::RootCa | Profile::SelfSigned)
    }

    /// Whether the profile makes a CA.
    pub fn is_ca(self) -> bool {
        matches!(self, Profile::RootCa | Profile::IntermediateCa)
    }

    /// The lifetime used when `--not-after` is not given.
    pub fn default_lifetime(self) -> Duration {
        match self {
            Profile::RootCa | Profile::IntermediateCa => Duration::hours(24 * 365 * 10),
            Profile::Leaf | Profile::SelfSigned => Duration::hours(24),
        }
    }

    /// The path length constraint of a CA profile.
    pub fn default_path_len(self) -> Option<u8> {
        match self {
            Profile::RootCa => Some(1),
            Profile::IntermediateCa => Some(0),
            _ => None,
        }
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Profile::RootCa => "root-ca",
            Profile::IntermediateCa => "intermediate-ca",
            Profile::Leaf => "leaf",
            Profile::SelfSigned => "self-signed",
        }
    }

    /// Writes the profile's CA flag, key usages and EKUs into `params`, replacing whatever was there.
    pub fn apply(self, params: &mut rcgen::CertificateParams, subject_key: KeyKind, path_len: Option<u8>) {
        if self.is_ca() {
            params.is_ca = IsCa::Ca(match path_len.or(self.default_path_len()) {
                Some(n) => BasicConstraints::Constrained(n),
                None => BasicConstraints::Unconstrained,
            });
            params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            params.extended_key_usages = Vec::new();
        } else {
            // No basicConstraints at all, as step's leaf template.
            params.is_ca = IsCa::NoCa;
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            if matches!(subject_key, KeyKind::Rsa(_)) {
                params.key_usages.push(KeyUsagePurpose::KeyEncipherment);
            }
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        }
        params.name_constraints = None;
    }
}
