//! The edges that touch the outside: password sources, reading inputs, writing outputs safely.

pub mod acme_client;
pub mod agent;
pub mod http;
pub mod input;
pub mod log;
pub mod output;
pub mod password;
pub mod prompt;
pub mod remote;
