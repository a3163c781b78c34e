//! ACME through instant-acme, an independent Rust client, for what the command-line clients do not exercise:
//! external account binding with a wrong key and a reused key, key change, deactivation, an IP identifier, ARI
//! `renewalInfo` and `replaces`, revocation by the account, and the rate limits.

use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, CertificateIdentifier, ChallengeType, Error, ExternalAccountKey,
    Identifier, NewAccount, NewOrder, OrderStatus, RetryPolicy, RevocationReason, RevocationRequest,
};

use crate::acme::{WebRoot, challtestsrv, webroot};
use crate::common::*;
use crate::serve::{init_pki, start_with};

fn kind(e: &Error) -> String {
    match e {
        Error::Api(p) => p.r#type.clone().unwrap_or_default(),
        other => format!("{other}"),
    }
}

const POLL: RetryPolicy = RetryPolicy::new().timeout(std::time::Duration::from_secs(30));

/// Orders the identifiers, answers http-01 through the web root, finalizes with a ferrica CSR; returns the
/// chain (PEM).
async fn issue(
    account: &Account,
    ids: &[Identifier],
    web: &WebRoot,
    replaces: Option<CertificateIdentifier<'_>>,
    profile: Option<&str>,
) -> Result<String, Error> {
    let mut new = NewOrder::new(ids);
    if let Some(r) = replaces {
        new = new.replaces(r);
    }
    if let Some(p) = profile {
        new = new.profile(p);
    }
    let mut order = account.new_order(&new).await?;
    {
        let mut auths = order.authorizations();
        while let Some(a) = auths.next().await {
            let mut a = a?;
            if a.status == AuthorizationStatus::Valid {
                continue;
            }
            let mut ch = a.challenge(ChallengeType::Http01).expect("http-01 offered");
            std::fs::write(
                web.dir.join(".well-known/acme-challenge").join(&ch.token),
                ch.key_authorization().as_str(),
            )
            .unwrap();
            ch.set_ready().await?;
        }
    }
    assert_eq!(order.poll_ready(&POLL).await?, OrderStatus::Ready);
    let key = ferrica::pki::keys::PrivateKey::generate(ferrica::pki::keys::KeySpec::P256).unwrap();
    let sans: Vec<ferrica::pki::issue::San> = ids
        .iter()
        .map(|i| match i {
            Identifier::Ip(ip) => ferrica::pki::issue::San::Ip(*ip),
            Identifier::Dns(d) => ferrica::pki::issue::San::Dns(d.clone()),
            _ => unreachable!(),
        })
        .collect();
    let csr = ferrica::pki::issue::create_csr("", &sans, &key).unwrap();
    order.finalize_csr(&csr).await?;
    order.poll_certificate(&POLL).await
}

fn cert_der(pem_chain: &str) -> Vec<u8> {
    ::pem::parse_many(pem_chain).unwrap()[0].contents().to_vec()
}

fn ari_id(der: &[u8]) -> CertificateIdentifier<'static> {
    use x509_parser::prelude::*;
    let (_, c) = X509Certificate::from_der(der).unwrap();
    let aki = c
        .extensions()
        .iter()
        .find_map(|e| match e.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(a) => a.key_identifier.as_ref().map(|k| k.0.to_vec()),
            _ => None,
        })
        .unwrap();
    let serial = c.raw_serial().to_vec();
    let id = CertificateIdentifier::new(
        rustls::pki_types::Der::from_slice(&aki),
        rustls::pki_types::Der::from_slice(&serial),
    );
    CertificateIdentifier {
        authority_key_identifier: id.authority_key_identifier.into_owned().into(),
        serial: id.serial.into_owned().into(),
    }
}

#[test]
fn instant_acme_exercises_eab_key_change_deactivation_ip_identifiers_ari_revocation_and_limits() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let cts = challtestsrv();
    let http_port = free_port();
    init_pki(dir);
    let ca = |args: &[&str]| {
        let out = ferrica(dir)
            .env("FERRICA_PATH", dir.join("pki"))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr_of(&out));
        out
    };
    ca(&["ca", "provisioner", "add", "acme", "--type", "ACME"]);
    ca(&["ca", "provisioner", "add", "eab", "--type", "ACME", "--require-eab"]);
    // Limits for the main provisioner: three accounts an hour per address, two pending orders per account.
    let path = dir.join("pki/config/ca.json");
    let mut cfg: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    for p in cfg["authority"]["provisioners"].as_array_mut().unwrap() {
        if p["name"] == "acme" {
            p["limits"] = serde_json::json!({"newAccountsPerIPPerHour": 3, "pendingOrdersPerAccount": 2});
            p["options"] = serde_json::json!({"profiles": {"short": {
                "description": "two days",
                "claims": {"defaultTLSCertDuration": "48h", "maxTLSCertDuration": "48h"}
            }}});
        }
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
    let key: serde_json::Value =
        serde_json::from_slice(&ca(&["ca", "acme", "eab", "add", "eab", "--format", "json"]).stdout).unwrap();
    let server = start_with(
        dir,
        "127.0.0.1:0",
        &[
            "--acme-http-port",
            &http_port.to_string(),
            "--resolver",
            &format!("127.0.0.1:{}", cts.dns),
        ],
    );
    let web = webroot(dir, http_port);
    let root = dir.join("pki/certs/root_ca.crt");
    let main_dir = format!("{}/acme/acme/directory", server.url);
    let eab_dir = format!("{}/acme/eab/directory", server.url);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let new_account = NewAccount {
            contact: &["mailto:ops@lab.test"],
            terms_of_service_agreed: true,
            only_return_existing: false,
        };
        let new_account = &new_account;
        let root = &root;
        let create = move |url: String, eab: Option<ExternalAccountKey>| async move {
            Account::builder_with_root(root)
                .unwrap()
                .create(new_account, url, eab.as_ref())
                .await
        };
        use base64::Engine;
        let hmac = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(key["hmacKey"].as_str().unwrap())
            .unwrap();
        let kid = key["kid"].as_str().unwrap().to_string();

        // EAB: none, a wrong key, the right key, the right key again.
        let e = create(eab_dir.clone(), None).await.err().expect("EAB is required");
        assert!(kind(&e).ends_with("externalAccountRequired"), "{e}");
        let e = create(
            eab_dir.clone(),
            Some(ExternalAccountKey::new(kid.clone(), b"not the key at all, 32 bytes!!!")),
        )
        .await
        .err()
        .unwrap();
        assert!(kind(&e).ends_with("unauthorized"), "{e}");
        let _bound = create(eab_dir.clone(), Some(ExternalAccountKey::new(kid.clone(), &hmac)))
            .await
            .expect("bound");
        let e = create(eab_dir.clone(), Some(ExternalAccountKey::new(kid.clone(), &hmac)))
            .await
            .err()
            .unwrap();
        assert!(format!("{e}").contains("already bound"), "{e}");

        // An order for an IP address and a name.
        let (mut account, _creds): (Account, AccountCredentials) = create(main_dir.clone(), None).await.unwrap();
        let ids = [
            Identifier::Ip("127.0.0.1".parse().unwrap()),
            Identifier::Dns("ip.lab.test".into()),
        ];
        let first = issue(&account, &ids, &web, None, None)
            .await
            .expect("first certificate");
        let first_der = cert_der(&first);
        {
            use x509_parser::prelude::*;
            let (_, c) = X509Certificate::from_der(&first_der).unwrap();
            let san = c.subject_alternative_name().unwrap().unwrap();
            let names: Vec<String> = san.value.general_names.iter().map(|g| format!("{g}")).collect();
            assert_eq!(names.len(), 2, "{names:?}");
        }

        // Profiles: listed in the directory, chosen per order; an unknown one is refused.
        let names: Vec<String> = account.profiles().map(|p| p.name.to_string()).collect();
        assert_eq!(names, ["short"]);
        let short = issue(
            &account,
            &[Identifier::Dns("short.lab.test".into())],
            &web,
            None,
            Some("short"),
        )
        .await
        .expect("profile");
        {
            use x509_parser::prelude::*;
            let der = cert_der(&short);
            let (_, c) = X509Certificate::from_der(&der).unwrap();
            let life = c.validity().not_after.timestamp() - c.validity().not_before.timestamp();
            assert_eq!(life, 48 * 3600 + 60, "the profile's default lifetime");
        }
        let e = account
            .new_order(&NewOrder::new(&[Identifier::Dns("x.lab.test".into())]).profile("long"))
            .await
            .err()
            .unwrap();
        assert!(kind(&e).ends_with("invalidProfile"), "{e}");

        // ARI: a window, then a renewal that replaces the first certificate, once.
        let (info, _retry) = account.renewal_info(&ari_id(&first_der)).await.expect("renewalInfo");
        assert!(info.suggested_window.start < info.suggested_window.end);
        let second = issue(&account, &ids, &web, Some(ari_id(&first_der)), None)
            .await
            .expect("replacement");
        // The account's valid authorizations are reused: a new order for the same names is ready at once.
        let mut reused = account
            .new_order(&NewOrder::new(&ids))
            .await
            .expect("order with reused authorizations");
        assert_eq!(reused.state().status, OrderStatus::Ready);
        let e = account
            .new_order(&NewOrder::new(&ids).replaces(ari_id(&first_der)))
            .await
            .err()
            .unwrap();
        assert!(kind(&e).ends_with("alreadyReplaced"), "{e}");

        // Key change: the account goes on with its new key.
        let _new_creds = account.update_key().await.expect("keyChange");
        let _pending = account
            .new_order(&NewOrder::new(&[Identifier::Dns("k1.lab.test".into())]))
            .await
            .expect("order after keyChange");
        // Two pending orders at most.
        let _pending2 = account
            .new_order(&NewOrder::new(&[Identifier::Dns("k2.lab.test".into())]))
            .await
            .unwrap();
        let e = account
            .new_order(&NewOrder::new(&[Identifier::Dns("k3.lab.test".into())]))
            .await
            .err()
            .unwrap();
        assert!(kind(&e).ends_with("rateLimited"), "{e}");

        // Revocation by the account: ARI now says renew.
        let second_der = cert_der(&second);
        account
            .revoke(&RevocationRequest {
                certificate: &rustls::pki_types::CertificateDer::from(second_der.clone()),
                reason: Some(RevocationReason::Superseded),
            })
            .await
            .expect("revoke");
        let (info, _) = account.renewal_info(&ari_id(&second_der)).await.unwrap();
        assert!(
            info.suggested_window.end <= time::OffsetDateTime::now_utc(),
            "{:?}",
            info.suggested_window
        );

        // Deactivation: the account can do nothing more.
        let creds = {
            let (a2, c2) = create(main_dir.clone(), None).await.expect("a second account");
            a2.deactivate().await.expect("deactivate");
            c2
        };
        let gone = Account::builder_with_root(root)
            .unwrap()
            .from_credentials(creds)
            .await
            .unwrap();
        let e = gone
            .new_order(&NewOrder::new(&[Identifier::Dns("x.lab.test".into())]))
            .await
            .err()
            .unwrap();
        assert!(kind(&e).ends_with("unauthorized"), "{e}");

        // Three new accounts an hour from one address (two made above): the fourth is refused.
        let _third = create(main_dir.clone(), None).await.expect("third account");
        let e = create(main_dir.clone(), None).await.err().unwrap();
        assert!(kind(&e).ends_with("rateLimited"), "{e}");
    });
    // The CRL lists the revoked certificate; the CA is still serving.
    let (code, _) = crate::serve::curl(dir, &[&format!("{}/health", server.url)]);
    assert_eq!(code, 200);
}
