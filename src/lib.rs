#![forbid(unsafe_code)]
#![warn(missing_docs)]
//! ferrica: a private certificate authority in one binary.
//!
//! Layers (dependencies point one way): `cli` (clap definitions) -> `cmd` (one thin `run` per subcommand) ->
//! `pki` (the domain: no files, terminal, network or clock) and `io` (passwords, inputs, safe outputs, remote TLS).
//! See ARCHITECTURE.md.

pub mod acme;
pub mod ca;
pub mod cli;
pub mod cmd;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod io;
pub mod jose;
pub mod pki;
pub mod server;
pub mod ssh;
