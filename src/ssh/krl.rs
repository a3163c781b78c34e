//! OpenSSH key revocation lists (PROTOCOL.krl): for each CA key, the serials of the certificates it signed that are
//! revoked. sshd reads the file named by `RevokedKeys`; `ssh-keygen -Q -f krl` checks keys against it.

use ssh_encoding::Encode;
use ssh_key::public::KeyData;

use super::cert::SshError;

const MAGIC: u64 = 0x5353_484b_524c_0a00; // "SSHKRL\n\0"
const FORMAT_VERSION: u32 = 1;
const SECTION_CERTIFICATES: u8 = 1;
const CERT_SECTION_SERIAL_LIST: u8 = 0x20;

/// Builds a KRL: `version` (increases with each revocation), `generated` (unix seconds), and per CA key its revoked
/// serials (sorted, without duplicates; an empty list writes no section for that key).
pub fn build(
    version: u64,
    generated: u64,
    comment: &str,
    revoked: &[(&KeyData, Vec<u64>)],
) -> Result<Vec<u8>, SshError> {
    let e = |err: ssh_encoding::Error| SshError::Sign(err.to_string());
    let mut out = Vec::new();
    MAGIC.encode(&mut out).map_err(e)?;
    FORMAT_VERSION.encode(&mut out).map_err(e)?;
    version.encode(&mut out).map_err(e)?;
    generated.encode(&mut out).map_err(e)?;
    0u64.encode(&mut out).map_err(e)?; // flags
    Vec::<u8>::new().encode(&mut out).map_err(e)?; // reserved
    comment.encode(&mut out).map_err(e)?;
    for (ca, serials) in revoked {
        let mut serials = serials.clone();
        serials.sort_unstable();
        serials.dedup();
        if serials.is_empty() {
            continue;
        }
        let mut list = Vec::new();
        for s in &serials {
            s.encode(&mut list).map_err(e)?;
        }
        let mut section = Vec::new();
        ca.encode_prefixed(&mut section).map_err(e)?; // ca_key
        Vec::<u8>::new().encode(&mut section).map_err(e)?; // reserved
        CERT_SECTION_SERIAL_LIST.encode(&mut section).map_err(e)?;
        list.encode(&mut section).map_err(e)?;
        SECTION_CERTIFICATES.encode(&mut out).map_err(e)?;
        section.encode(&mut out).map_err(e)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_krl_is_the_header_alone_and_serials_are_sorted() {
        let key = KeyData::Ed25519(ssh_key::public::Ed25519PublicKey([3; 32]));
        let empty = build(1, 2, "", &[(&key, vec![])]).unwrap();
        assert_eq!(&empty[..8], b"SSHKRL\n\0");
        assert_eq!(empty.len(), 8 + 4 + 8 + 8 + 8 + 4 + 4);
        let krl = build(2, 3, "c", &[(&key, vec![9, 5, 9])]).unwrap();
        // The serial list: 5 then 9, once each.
        let tail = &krl[krl.len() - 16..];
        assert_eq!(tail, [0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 9]);
    }
}
