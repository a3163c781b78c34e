//! Fills a CA's embedded store with certificate records, fast, for benchmarks at size (`scripts/bench-serve.sh`
//! with `FILL=N`): `fill-store CA_JSON N`. Every record is the same real leaf under a serial of its own, made as
//! `serve` makes them (`pki::issue::ordered_serial`), dated before now so that the server's next ones sort after;
//! all go in with one `Portable::load` into the empty store. Stop `serve` first.

use std::time::Instant;

use ferrica::ca::config::{CaConfig, embedded_store_path};
use ferrica::ca::store::{Dump, IssuedCert, Portable, RedbStore};
use ferrica::pki::issue::{IssueRequest, San, issue, ordered_serial};
use ferrica::pki::keys::{KeySpec, PrivateKey};
use ferrica::pki::profile::Profile;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: fill-store CA_JSON N");
        std::process::exit(2);
    }
    let n: u64 = args[2].parse()?;
    let config = CaConfig::from_json(&std::fs::read(&args[1])?)?;
    let db = config.db.as_ref().ok_or("ca.json has no db")?;
    let path = embedded_store_path(db)?;
    let now = time::OffsetDateTime::now_utc();
    // One self-signed leaf: the server never reads a stored certificate's DER on the /sign path.
    let key = PrivateKey::generate(KeySpec::P256)?;
    let req = IssueRequest::new(
        Profile::SelfSigned,
        "filler.bench",
        vec![San::parse("filler.bench")],
        now,
        now + time::Duration::hours(24),
    );
    let der = issue(&req, key.key_pair(), key.kind(), None, Some(&key))?.der;
    let start = Instant::now();
    let base = now.unix_timestamp_nanos() as u64 - n * 1_000;
    let mut dump = Dump::default();
    for i in 0..n {
        let serial = ordered_serial(base + i * 1_000)?;
        dump.certs.push(IssuedCert {
            serial: x509_parser::num_bigint::BigUint::from_bytes_be(&serial).to_str_radix(10),
            provisioner: "bench".into(),
            der: der.clone(),
            not_after: (now + time::Duration::hours(24)).unix_timestamp(),
        });
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let store = RedbStore::open(&path)?;
    store.load(&dump)?;
    eprintln!(
        "fill-store: {n} certificates into {} in {:.1} s",
        path.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
