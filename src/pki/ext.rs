//! X.509 extensions rcgen cannot write as we need them, encoded here in DER: name constraints with URI subtrees
//! ([RFC 5280 §4.2.1.10]), Authority Information Access ([RFC 5280 §4.2.2.1]) and a bare subject key identifier.
//!
//! [RFC 5280 §4.2.1.10]: https://datatracker.ietf.org/doc/html/rfc5280#section-4.2.1.10
//! [RFC 5280 §4.2.2.1]: https://datatracker.ietf.org/doc/html/rfc5280#section-4.2.2.1

use std::net::IpAddr;

use rcgen::CustomExtension;

/// One DER TLV.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n.to_be_bytes().iter().copied().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(content);
    out
}

/// Name constraints from flags (`--permit-dns`, `--exclude-ip`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameConstraints {
    /// Permitted DNS suffixes (`example.com`, `.example.com`).
    pub permit_dns: Vec<String>,
    /// Excluded DNS suffixes.
    pub exclude_dns: Vec<String>,
    /// Permitted IP ranges.
    pub permit_ip: Vec<(IpAddr, u8)>,
    /// Excluded IP ranges.
    pub exclude_ip: Vec<(IpAddr, u8)>,
    /// Permitted email domains or addresses.
    pub permit_email: Vec<String>,
    /// Excluded email domains or addresses.
    pub exclude_email: Vec<String>,
    /// Permitted URI hosts.
    pub permit_uri: Vec<String>,
    /// Excluded URI hosts.
    pub exclude_uri: Vec<String>,
}

impl NameConstraints {
    /// Whether no constraint is set.
    pub fn is_empty(&self) -> bool {
        self.permit_dns.is_empty()
            && self.exclude_dns.is_empty()
            && self.permit_ip.is_empty()
            && self.exclude_ip.is_empty()
            && self.permit_email.is_empty()
            && self.exclude_email.is_empty()
            && self.permit_uri.is_empty()
            && self.exclude_uri.is_empty()
    }

    /// The critical nameConstraints extension.
    pub fn extension(&self) -> CustomExtension {
        fn subtrees(dns: &[String], ip: &[(IpAddr, u8)], email: &[String], uri: &[String]) -> Vec<u8> {
            let mut out = Vec::new();
            // GeneralSubtree ::= SEQUENCE { base GeneralName }; GeneralName tags are implicit.
            for e in email {
                out.extend(tlv(0x30, &tlv(0x81, e.as_bytes())));
            }
            for d in dns {
                out.extend(tlv(0x30, &tlv(0x82, d.as_bytes())));
            }
            for u in uri {
                out.extend(tlv(0x30, &tlv(0x86, u.as_bytes())));
            }
            for (addr, prefix) in ip {
                let (mut bytes, bits) = match addr {
                    IpAddr::V4(a) => (a.octets().to_vec(), 32u8),
                    IpAddr::V6(a) => (a.octets().to_vec(), 128u8),
                };
                let mask = prefix_mask(*prefix, bits);
                for (b, m) in bytes.iter_mut().zip(&mask) {
                    *b &= m;
                }
                bytes.extend(mask);
                out.extend(tlv(0x30, &tlv(0x87, &bytes)));
            }
            out
        }
        let mut body = Vec::new();
        let permitted = subtrees(&self.permit_dns, &self.permit_ip, &self.permit_email, &self.permit_uri);
        if !permitted.is_empty() {
            body.extend(tlv(0xa0, &permitted));
        }
        let excluded = subtrees(
            &self.exclude_dns,
            &self.exclude_ip,
            &self.exclude_email,
            &self.exclude_uri,
        );
        if !excluded.is_empty() {
            body.extend(tlv(0xa1, &excluded));
        }
        let mut ext = CustomExtension::from_oid_content(&[2, 5, 29, 30], tlv(0x30, &body));
        ext.set_criticality(true);
        ext
    }
}

fn prefix_mask(prefix: u8, bits: u8) -> Vec<u8> {
    (0..bits / 8)
        .map(|i| {
            let start = i * 8;
            if prefix >= start + 8 {
                0xff
            } else if prefix <= start {
                0
            } else {
                0xffu8 << (8 - (prefix - start))
            }
        })
        .collect()
}

/// Parses `10.0.0.0/8`, `fd00::/8` or a bare address (a /32 or /128).
pub fn parse_cidr(s: &str) -> Result<(IpAddr, u8), String> {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| format!("{s:?} is not an IP address or CIDR range"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix {
        Some(p) => p
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| format!("{s:?}: bad prefix length"))?,
        None => max,
    };
    Ok((addr, prefix))
}

/// The authorityInfoAccess extension with OCSP and CA-issuers URLs.
pub fn authority_info_access(ocsp: &[String], ca_issuers: &[String]) -> CustomExtension {
    const OCSP: [u8; 8] = [0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01];
    const CA_ISSUERS: [u8; 8] = [0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x02];
    let mut body = Vec::new();
    for (oid, urls) in [(OCSP, ocsp), (CA_ISSUERS, ca_issuers)] {
        for u in urls {
            let mut desc = tlv(0x06, &oid);
            desc.extend(tlv(0x86, u.as_bytes()));
            body.extend(tlv(0x30, &desc));
        }
    }
    CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 1], tlv(0x30, &body))
}

/// A subjectKeyIdentifier extension.
pub fn subject_key_identifier(id: &[u8]) -> CustomExtension {
    CustomExtension::from_oid_content(&[2, 5, 29, 14], tlv(0x04, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_masks() {
        assert_eq!(tlv(0x04, &[1, 2]), vec![4, 2, 1, 2]);
        assert_eq!(&tlv(0x04, &[0; 200])[..3], &[4, 0x81, 200]);
        assert_eq!(&tlv(0x04, &[0; 300])[..4], &[4, 0x82, 1, 44]);
        assert_eq!(prefix_mask(20, 32), vec![255, 255, 240, 0]);
        assert_eq!(parse_cidr("10.1.2.3/8").unwrap(), ("10.1.2.3".parse().unwrap(), 8));
        assert!(parse_cidr("10.0.0.0/33").is_err());
    }
}
