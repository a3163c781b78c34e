//! RFC 8555 §6.7 problem documents (`application/problem+json`, RFC 7807) with the `urn:ietf:params:acme:error:`
//! types.

use serde::{Deserialize, Serialize};

use super::model::Identifier;

/// An ACME error: what the client is told, and the HTTP status it comes with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// `urn:ietf:params:acme:error:<kind>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// What went wrong, for people.
    pub detail: String,
    /// The HTTP status.
    pub status: u16,
    /// The identifier a subproblem is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<Box<Identifier>>,
    /// One problem per identifier (§6.7.1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subproblems: Vec<Problem>,
    /// `badSignatureAlgorithm`: the algorithms the server accepts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithms: Option<Box<Vec<String>>>,
    /// `rateLimited`: seconds until a retry may succeed (sent as Retry-After, not in the body).
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl Problem {
    /// A problem of `kind` (the part after `urn:ietf:params:acme:error:`).
    pub fn new(kind: &str, status: u16, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("urn:ietf:params:acme:error:{kind}"),
            detail: detail.into(),
            status,
            identifier: None,
            subproblems: Vec::new(),
            algorithms: None,
            retry_after: None,
        }
    }

    /// 400 malformed.
    pub fn malformed(detail: impl Into<String>) -> Problem {
        Problem::new("malformed", 400, detail)
    }

    /// 401 unauthorized.
    pub fn unauthorized(detail: impl Into<String>) -> Problem {
        Problem::new("unauthorized", 401, detail)
    }

    /// 400 badNonce (the client retries with the fresh nonce of the answer).
    pub fn bad_nonce(detail: impl Into<String>) -> Problem {
        Problem::new("badNonce", 400, detail)
    }

    /// 400 accountDoesNotExist.
    pub fn account_does_not_exist(detail: impl Into<String>) -> Problem {
        Problem::new("accountDoesNotExist", 400, detail)
    }

    /// 403 orderNotReady.
    pub fn order_not_ready(detail: impl Into<String>) -> Problem {
        Problem::new("orderNotReady", 403, detail)
    }

    /// 400 badCSR.
    pub fn bad_csr(detail: impl Into<String>) -> Problem {
        Problem::new("badCSR", 400, detail)
    }

    /// 400 rejectedIdentifier.
    pub fn rejected_identifier(detail: impl Into<String>) -> Problem {
        Problem::new("rejectedIdentifier", 400, detail)
    }

    /// 500 serverInternal.
    pub fn internal(detail: impl Into<String>) -> Problem {
        Problem::new("serverInternal", 500, detail)
    }

    /// The same problem about one identifier (a subproblem).
    pub fn about(mut self, id: &Identifier) -> Problem {
        self.identifier = Some(Box::new(id.clone()));
        self
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.detail)
    }
}
