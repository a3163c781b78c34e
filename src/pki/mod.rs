//! The PKI domain: keys, profiles, the issuance path, certificate input, inspection and fingerprints.
//!
//! Nothing in here touches files, the terminal, the network or the clock: callers pass bytes and `now`.

pub mod der_input;
pub mod ext;
pub mod fingerprint;
pub mod inspect;
pub mod issue;
pub mod keys;
pub mod lint;
pub mod names;
pub mod ocsp;
pub mod profile;
pub mod step_json;
pub mod template;
pub mod validity;
