//! ACME (RFC 8555) without I/O: the objects and the rules that move them (`model`), the JWS rules for requests
//! (`jws`), and problem documents (`problem`). The HTTP handlers are in `server::acme`, the validation of challenges
//! (the only network work) in `server::acme::validate`, and the records in the `ca::store::AcmeStore`.

pub mod eab;
pub mod jws;
pub mod limits;
pub mod model;
pub mod problem;
