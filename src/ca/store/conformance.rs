//! The behaviour every store backend must have, as one suite: run on the embedded store by the unit tests and on a
//! real PostgreSQL by `tests/integration/postgres.rs`. Each check panics with what went wrong.

use super::*;

fn cert(serial: &str) -> IssuedCert {
    IssuedCert {
        serial: serial.into(),
        provisioner: "p".into(),
        der: vec![1, 2, 3],
        not_after: 9,
    }
}

fn ssh(serial: &str) -> SshIssued {
    SshIssued {
        serial: serial.into(),
        cert_type: "host".into(),
        key_id: "web".into(),
        principals: vec!["web.lab".into(), "10.0.0.1".into()],
        valid_after: 1,
        valid_before: 2,
        provisioner: "p".into(),
        cert: vec![9, 9],
    }
}

/// Runs every check against `store`, which must be empty.
pub fn run(store: Arc<dyn Backend>) {
    x509(&*store);
    tokens_race(store.clone());
    async_writes(&*store);
    ssh_records(&*store);
    acme(&*store);
}

fn x509(s: &dyn Backend) {
    let c = cert("42");
    s.record_certificate(&c).unwrap();
    assert!(
        matches!(s.record_certificate(&c), Err(StoreError::DuplicateSerial(_))),
        "a serial is recorded once"
    );
    assert_eq!(s.certificate("42").unwrap().as_ref(), Some(&c));
    assert!(s.certificate("4").unwrap().is_none());
    let r = Revocation {
        serial: "42".into(),
        reason_code: 1,
        reason: "key compromise".into(),
        revoked_at: 5,
    };
    s.revoke(&r).unwrap();
    assert!(matches!(s.revoke(&r), Err(StoreError::AlreadyRevoked(_))));
    assert_eq!(s.revocation("42").unwrap().as_ref(), Some(&r));
    assert!(s.revocation("43").unwrap().is_none());
    assert_eq!(s.revocations().unwrap(), vec![r]);
    let (a, b) = (s.next_crl_number().unwrap(), s.next_crl_number().unwrap());
    assert!(a >= 1 && b > a, "CRL numbers increase: {a}, {b}");
    // A token and its certificate together: a reused token records nothing, a duplicate serial uses no token.
    s.record_issued("jti-2", 100, &cert("43")).unwrap();
    assert!(matches!(
        s.record_issued("jti-2", 100, &cert("44")),
        Err(StoreError::TokenReused)
    ));
    assert!(s.certificate("44").unwrap().is_none());
    assert!(matches!(
        s.record_issued("jti-3", 100, &cert("43")),
        Err(StoreError::DuplicateSerial(_))
    ));
    s.use_token("jti-3", 100)
        .expect("a refused write leaves its token unused");
    assert!(matches!(s.use_token("jti-3", 100), Err(StoreError::TokenReused)));
    // Expired token IDs can go; live ones stay used.
    s.use_token("jti-old", 10).unwrap();
    assert_eq!(s.purge_tokens(50).unwrap(), 1);
    s.use_token("jti-old", 10).unwrap();
    assert!(matches!(s.use_token("jti-2", 100), Err(StoreError::TokenReused)));
    assert!(s.lead().unwrap(), "a lone instance leads");
    crl(s);
}

fn crl(s: &dyn Backend) {
    let (g0, _) = s.crl_state().unwrap();
    let mut signed = 0;
    let mut sign = |n: u64| {
        signed += 1;
        Ok(n.to_be_bytes().to_vec())
    };
    let first = s.crl_publish(g0, 100, (100, 200), &mut sign).unwrap().unwrap();
    assert_eq!(s.crl_state().unwrap(), (g0, Some(first.clone())));
    // Current (same generation, before half-way): served as it is, not signed again.
    let again = s.crl_publish(g0, 140, (140, 240), &mut sign).unwrap().unwrap();
    assert_eq!(again, first);
    // Half-way: a new one with a higher number.
    let later = s.crl_publish(g0, 150, (150, 250), &mut sign).unwrap().unwrap();
    assert!(later.number > first.number, "{} then {}", first.number, later.number);
    // A revocation makes it out of date at once; so does an invalidation.
    s.revoke(&Revocation {
        serial: "crl-1".into(),
        reason_code: 1,
        reason: String::new(),
        revoked_at: 1,
    })
    .unwrap();
    let (g1, stored) = s.crl_state().unwrap();
    assert!(g1 > g0 && !stored.unwrap().is_current(g1, 151));
    s.crl_invalidate().unwrap();
    let (g2, _) = s.crl_state().unwrap();
    assert!(g2 > g1);
    let newer = s.crl_publish(g2, 151, (151, 251), &mut sign).unwrap().unwrap();
    assert!(newer.number > later.number && newer.generation == g2);
    // An instance that read an older generation gets the newer CRL rather than replacing it.
    assert_eq!(s.crl_publish(g1, 152, (152, 252), &mut sign).unwrap().unwrap(), newer);
    assert_eq!(signed, 3);
    // A signing failure stores nothing.
    s.crl_invalidate().unwrap();
    let (g3, _) = s.crl_state().unwrap();
    assert!(
        s.crl_publish(g3, 153, (153, 253), &mut |_| Err("no key".into()))
            .unwrap()
            .is_err()
    );
    assert_eq!(s.crl_state().unwrap().1, Some(newer));
}

fn tokens_race(s: Arc<dyn Backend>) {
    // Eight threads race to use the same token ID: exactly one wins.
    let wins: usize = (0..8)
        .map(|_| {
            let s = s.clone();
            std::thread::spawn(move || s.use_token("jti-race", 100).is_ok())
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| usize::from(h.join().unwrap()))
        .sum();
    assert_eq!(wins, 1, "one token, one use");
}

fn async_writes(s: &dyn Backend) {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let results = rt.block_on(async {
        let shared: Vec<_> = (0..16)
            .map(|i| s.record_issued_async("shared", 100, &cert(&format!("1{i}"))))
            .collect();
        let own: Vec<_> = (0..16)
            .map(|i| s.record_issued_async(&format!("own-{i}"), 100, &cert(&format!("2{i}"))))
            .collect();
        let mut out = Vec::new();
        for p in shared.into_iter().chain(own) {
            out.push(p.done().await);
        }
        out
    });
    let (shared, own) = results.split_at(16);
    assert_eq!(shared.iter().filter(|r| r.is_ok()).count(), 1, "{shared:?}");
    assert!(
        shared
            .iter()
            .filter(|r| r.is_err())
            .all(|r| matches!(r, Err(StoreError::TokenReused)))
    );
    assert!(own.iter().all(Result::is_ok), "{own:?}");
    for i in 0..16 {
        assert!(s.certificate(&format!("2{i}")).unwrap().is_some());
    }
}

fn ssh_records(s: &dyn Backend) {
    let c = ssh("7");
    s.record_ssh(Some(("ssh-jti", 100)), &c).unwrap();
    assert!(matches!(
        s.record_ssh(Some(("ssh-jti", 100)), &ssh("8")),
        Err(StoreError::TokenReused)
    ));
    assert!(matches!(s.record_ssh(None, &c), Err(StoreError::DuplicateSerial(_))));
    // A duplicate serial refuses the whole write, the token's use included: /ssh/sign signs again with a fresh
    // serial and the same token.
    assert!(matches!(
        s.record_ssh(Some(("retry-jti", 100)), &c),
        Err(StoreError::DuplicateSerial(_))
    ));
    s.record_ssh(Some(("retry-jti", 100)), &ssh("10")).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(s.record_ssh_async(None, &ssh("9")).done()).unwrap();
    assert_eq!(s.ssh_certificate("7").unwrap().as_ref(), Some(&c));
    assert_eq!(s.ssh_certificates().unwrap().len(), 3);
    let r = Revocation {
        serial: "7".into(),
        reason_code: 0,
        reason: String::new(),
        revoked_at: 3,
    };
    s.revoke_ssh(&r).unwrap();
    assert!(matches!(s.revoke_ssh(&r), Err(StoreError::AlreadyRevoked(_))));
    assert_eq!(s.ssh_revocations().unwrap(), vec![r.clone()]);
    assert_eq!(s.ssh_revocation(&r.serial).unwrap(), Some(r));
    assert_eq!(s.ssh_revocation("1").unwrap(), None);
    assert!(
        s.revocation("7").unwrap().is_none(),
        "SSH and X.509 revocations are apart"
    );
}

fn acme(s: &dyn Backend) {
    assert_eq!(s.acme_new_account("thumb", "a1", b"{}", Some("k1")).unwrap(), Ok(()));
    assert_eq!(
        s.acme_new_account("thumb", "a2", b"{}", None).unwrap(),
        Err(AccountConflict::Key("a1".into()))
    );
    assert_eq!(
        s.acme_new_account("other", "a2", b"{}", Some("k1")).unwrap(),
        Err(AccountConflict::EabUsed("a1".into())),
        "an EAB key binds one account"
    );
    assert!(s.acme_account_by_key("other").unwrap().is_none(), "nothing written");
    assert!(
        s.acme_get(AcmeTable::Account, "a2").unwrap().is_none(),
        "nothing written"
    );
    assert_eq!(s.acme_account_by_key("thumb").unwrap().as_deref(), Some("a1"));
    assert_eq!(s.acme_change_key("a1", "thumb", "new", b"{1}").unwrap(), Ok(()));
    assert!(s.acme_account_by_key("thumb").unwrap().is_none());
    assert_eq!(
        s.acme_get(AcmeTable::Account, "a1").unwrap().as_deref(),
        Some(&b"{1}"[..])
    );
    s.acme_new_account("thumb2", "a4", b"{}", None).unwrap().unwrap();
    assert_eq!(
        s.acme_change_key("a1", "new", "thumb2", b"{}").unwrap(),
        Err("a4".into()),
        "a key held by another account"
    );
    assert_eq!(
        s.acme_new_account("new", "a3", b"{}", None).unwrap(),
        Err(AccountConflict::Key("a1".into()))
    );
    s.acme_new_nonce("n", 100).unwrap();
    assert!(s.acme_use_nonce("n", 50).unwrap());
    assert!(!s.acme_use_nonce("n", 50).unwrap(), "a nonce is single-use");
    s.acme_new_nonce("old", 10).unwrap();
    assert!(!s.acme_use_nonce("old", 50).unwrap(), "an expired nonce is refused");
    s.acme_new_nonce("stale", 10).unwrap();
    s.acme_new_nonce("fresh", 100).unwrap();
    assert_eq!(s.acme_purge_nonces(50).unwrap(), 1);
    assert!(s.acme_use_nonce("fresh", 50).unwrap());
    s.acme_new_order("a1", "o1", b"1", &[("z1".into(), b"z".to_vec())], 5)
        .unwrap();
    s.acme_new_order("a1", "o2", b"2", &[], 6).unwrap();
    s.acme_new_order("a10", "o3", b"3", &[], 6).unwrap();
    assert_eq!(s.acme_orders_of("a1").unwrap(), ["o1", "o2"]);
    let mut pending = s.acme_pending_of("a1").unwrap();
    pending.sort();
    assert_eq!(
        pending,
        ["o1", "o2"],
        "a new order is pending, and a1's set is not a10's"
    );
    assert_eq!(s.acme_pending_of("a10").unwrap(), ["o3"]);
    s.acme_settle("a1", &["o1".to_string()]).unwrap();
    assert_eq!(s.acme_pending_of("a1").unwrap(), ["o2"]);
    assert_eq!(
        s.acme_orders_of("a1").unwrap(),
        ["o1", "o2"],
        "settling leaves the order list alone"
    );
    // The purge keeps what its test keeps (the value is the creation time, decimal).
    assert_eq!(s.acme_purge(AcmeTable::PendingOrder, &mut |v| v != b"6").unwrap(), 2);
    assert!(s.acme_pending_of("a1").unwrap().is_empty());
    s.acme_new_order("a1", "o4", b"4", &[], 7).unwrap();
    assert_eq!(
        s.acme_get(AcmeTable::PendingOrder, "a1/o4").unwrap().as_deref(),
        Some(&b"7"[..])
    );
    s.acme_settle("a1", &["o4".to_string(), "never".to_string()]).unwrap();
    assert!(s.acme_pending_of("a1").unwrap().is_empty());
    assert_eq!(s.acme_get(AcmeTable::Authz, "z1").unwrap().as_deref(), Some(&b"z"[..]));
    let r = s
        .acme_update(AcmeTable::Order, "o1", &mut |v| {
            assert_eq!(v, b"1");
            Err("no".into())
        })
        .unwrap();
    assert!(r.is_err());
    assert_eq!(s.acme_get(AcmeTable::Order, "o1").unwrap().as_deref(), Some(&b"1"[..]));
    s.acme_update(AcmeTable::Order, "o1", &mut |_| Ok(b"9".to_vec()))
        .unwrap()
        .unwrap();
    assert_eq!(s.acme_get(AcmeTable::Order, "o1").unwrap().as_deref(), Some(&b"9"[..]));
    assert!(
        s.acme_update(AcmeTable::Order, "nope", &mut |_| Ok(vec![]))
            .unwrap()
            .is_err()
    );
    s.acme_put(AcmeTable::Certificate, "c1", b"chain").unwrap();
    s.acme_put_durably(&[
        (AcmeTable::Certificate, "c2", b"chain2"),
        (AcmeTable::Order, "o2", b"22"),
    ])
    .unwrap();
    assert_eq!(s.acme_get(AcmeTable::Order, "o2").unwrap().as_deref(), Some(&b"22"[..]));
    assert_eq!(s.acme_purge(AcmeTable::Order, &mut |v| v != b"9").unwrap(), 1);
    assert_eq!(
        s.acme_orders_of("a1").unwrap(),
        ["o2", "o4"],
        "a purged order leaves the account's list"
    );
    assert_eq!(
        s.acme_get(AcmeTable::Certificate, "c2").unwrap().as_deref(),
        Some(&b"chain2"[..])
    );
}
