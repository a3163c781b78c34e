//! `ferrica ca db copy --from PATH_OR_URL --to PATH_OR_URL`

use std::sync::Arc;

use anyhow::Result;
use serde_json::{Value, json};

use crate::ca::store::postgres::{PgOptions, PgStore};
use crate::ca::store::{Backend, RedbStore, StoreError};
use crate::cli::ca::DbCopyArgs;
use crate::error::UserError;

fn is_url(s: &str) -> bool {
    s.starts_with("postgresql://") || s.starts_with("postgres://")
}

/// Opens a store named by a path (redb) or a URL (PostgreSQL). A source file must exist; a target file must not.
fn open(place: &str, flag: &str, source: bool) -> Result<Arc<dyn Backend>> {
    if is_url(place) {
        let store = PgStore::connect(place, None, &PgOptions::default()).map_err(|e| match e {
            StoreError::Unavailable(m) => UserError::unavailable(format!("{flag} {}: {m}", redact(place))),
            other => UserError::input(format!("{flag} {}: {other}", redact(place))),
        })?;
        return Ok(Arc::new(store));
    }
    let path = std::path::Path::new(place);
    if source && !path.exists() {
        return Err(UserError::input(format!("{flag} {place}: no such file"))
            .hint("the embedded store is db/ferrica.redb under $FERRICA_PATH")
            .into());
    }
    if !source && path.exists() {
        return Err(UserError::usage(format!("{flag} {place}: exists; the target must be a new file")).into());
    }
    let store = RedbStore::open(path).map_err(|e| UserError::input(format!("{flag} {place}: {e}")))?;
    Ok(Arc::new(store))
}

/// A URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(s), Some(at)) if at > s => {
            let cred = &url[s + 3..at];
            match cred.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Copies, then compares the counts of every table.
pub fn run_copy(a: DbCopyArgs) -> Result<u8> {
    if a.from == a.to {
        return Err(UserError::usage("--from and --to name the same store").into());
    }
    let from = open(&a.from, "--from", true)?;
    let to = open(&a.to, "--to", false)?;
    let dump = from
        .dump()
        .map_err(|e| UserError::input(format!("reading --from: {e}")))?;
    let want = dump.counts();
    to.load(&dump).map_err(|e| match e {
        StoreError::Unavailable(m) => UserError::unavailable(format!("writing --to: {m}")),
        other => UserError::input(format!("writing --to: {other}")),
    })?;
    let got = to
        .counts()
        .map_err(|e| UserError::input(format!("counting --to: {e}")))?;
    if got != want {
        return Err(UserError::input(format!("the copy does not match: source {want:?}, target {got:?}")).into());
    }
    if a.format == "json" {
        let counts: serde_json::Map<String, Value> = want.iter().map(|(t, n)| (t.to_string(), json!(n))).collect();
        let out = json!({"from": redact(&a.from), "to": redact(&a.to), "counts": counts, "crlNumber": dump.crl_number});
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for (t, n) in &want {
            println!("{t:<22} {n}");
        }
        eprintln!("copied {} to {}: every count matches", redact(&a.from), redact(&a.to));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_left_out_of_messages() {
        assert_eq!(
            super::redact("postgresql://ferrica:s3cret@db/ferrica"),
            "postgresql://ferrica:***@db/ferrica"
        );
        assert_eq!(super::redact("postgresql://ferrica@db/x"), "postgresql://ferrica@db/x");
        assert_eq!(super::redact("db/ferrica.redb"), "db/ferrica.redb");
    }
}
