//! The certificate authority: `ca.json` (step-ca's schema) and `ca init`. Provisioners, token checks, policy and
//! the `Store` trait come with the online CA.

pub mod authorize;
pub mod config;
pub mod init;
pub mod provisioner;
pub mod ssh;
pub mod store;
