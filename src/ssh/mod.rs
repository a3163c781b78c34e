//! SSH certificates and revocation lists, without I/O: `cert` builds and signs OpenSSH certificates
//! (PROTOCOL.certkeys) with ferrica's keys, `krl` writes OpenSSH key revocation lists (PROTOCOL.krl).

pub mod cert;
pub mod keys;
pub mod krl;
