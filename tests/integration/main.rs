//! Integration tests: they drive the real `ferrica` binary and judge its output with openssl.
//!
//! openssl is required (installed by `scripts/install-test-deps.sh`); a missing tool fails the test.

mod acme;
mod acme_hostile;
mod acme_instant;
mod ca;
mod common;
mod create;
mod crypto;
mod distribution;
mod errors;
mod faults;
mod fingerprint;
mod hostile;
mod inspect;
mod keys;
mod limits;
mod lint;
mod load;
mod ocsp;
mod passwords;
mod postgres;
mod secrets;
mod seeds;
mod serve;
mod ssh;
mod step_compat;
mod toolbox;
mod x5c;
