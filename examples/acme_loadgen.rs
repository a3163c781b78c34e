//! Load generator for `scripts/bench-acme.sh`: completed ACME orders per second against any ACME server.
//!
//! Each client is an instant-acme account; it loops (new order for a fresh name, http-01 answered by one shared
//! responder on HTTP_ADDR, finalize with a P-256 CSR, download) for a fixed time. Prints orders/s, p50 and p99 of
//! the whole order per concurrency level. Every order must end with a certificate.
//!
//! It looks before it waits: after the challenges it asks for the order at once, and sleeps (5 ms, then half as
//! long again each time) only while the answer is "not yet"; the same after finalize. instant-acme's own
//! `poll_ready` and `poll_certificate` sleep before their first look (20 ms each as this tool used them until
//! 2026-12-07), which put 40 ms of the client's own waiting under every order whichever server answered, and so
//! capped what 16 clients could measure.
//!
//! usage: acme_loadgen DIRECTORY_URL ROOT_PEM HTTP_ADDR [SECONDS] [LEVELS, e.g. 16,64]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use instant_acme::{Account, ChallengeType, Identifier, NewAccount, NewOrder, Order, OrderStatus};

use ferrica::io::acme_client::Tokens;

/// instant-acme's HTTP client with TCP_NODELAY (its default client waits for delayed ACKs, about 40 ms per request,
/// which bounds each client, not the server) and the CA's root.
fn http_client(root: &str) -> Result<Box<dyn instant_acme::HttpClient>, Box<dyn std::error::Error>> {
    let mut roots = rustls::RootCertStore::empty();
    for p in ::pem::parse_many(std::fs::read(root)?)? {
        roots.add(rustls::pki_types::CertificateDer::from(p.contents().to_vec()))?;
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.set_nodelay(true);
    http.enforce_http(false);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    Ok(Box::new(
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build::<_, instant_acme::BodyWrapper<hyper::body::Bytes>>(https),
    ))
}

async fn one_order(account: &Account, name: String, tokens: &Tokens) -> Result<(), Box<dyn std::error::Error>> {
    let ids = [Identifier::Dns(name.clone())];
    let mut order = account.new_order(&NewOrder::new(&ids)).await?;
    {
        let mut auths = order.authorizations();
        while let Some(a) = auths.next().await {
            let mut a = a?;
            let mut ch = a.challenge(ChallengeType::Http01).ok_or("no http-01")?;
            tokens
                .lock()
                .unwrap()
                .insert(ch.token.clone(), ch.key_authorization().as_str().to_string());
            ch.set_ready().await?;
        }
    }
    if until_ready(&mut order).await? != OrderStatus::Ready {
        return Err("order not ready".into());
    }
    let key = ferrica::pki::keys::PrivateKey::generate(ferrica::pki::keys::KeySpec::P256)?;
    let csr = ferrica::pki::issue::create_csr(&name, &[ferrica::pki::issue::San::Dns(name.clone())], &key)?;
    order.finalize_csr(&csr).await?;
    let mut pause = Backoff::new();
    while order.certificate().await?.is_none() {
        pause.wait().await?;
    }
    Ok(())
}

/// The pause between two looks at an order: 5 ms, growing by half each time, for at most a minute in all.
struct Backoff {
    delay: Duration,
    deadline: Instant,
}

impl Backoff {
    fn new() -> Backoff {
        Backoff {
            delay: Duration::from_millis(5),
            deadline: Instant::now() + Duration::from_secs(60),
        }
    }

    async fn wait(&mut self) -> Result<(), Box<dyn std::error::Error>> {
        if Instant::now() + self.delay > self.deadline {
            return Err("the order did not move on within 60 s".into());
        }
        tokio::time::sleep(self.delay).await;
        self.delay = self.delay.mul_f32(1.5);
        Ok(())
    }
}

/// The order's status once it is no longer pending: looked at first, waited for only if need be.
async fn until_ready(order: &mut Order) -> Result<OrderStatus, Box<dyn std::error::Error>> {
    let mut pause = Backoff::new();
    loop {
        let state = order.refresh().await?;
        if let Some(e) = &state.error {
            return Err(format!("the order failed: {e:?}").into());
        }
        if matches!(
            state.status,
            OrderStatus::Ready | OrderStatus::Valid | OrderStatus::Invalid
        ) {
            return Ok(state.status);
        }
        pause.wait().await?;
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: acme_loadgen DIRECTORY_URL ROOT_PEM HTTP_ADDR [SECONDS] [LEVELS]");
        std::process::exit(2);
    }
    let (directory, root, http) = (args[1].clone(), args[2].clone(), args[3].clone());
    let secs: u64 = args.get(4).map_or(Ok(5), |s| s.parse())?;
    let levels: Vec<usize> = args
        .get(5)
        .map_or("16,64", String::as_str)
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let tokens: Tokens = Arc::default();
        let _responder = ferrica::io::acme_client::standalone(http.parse()?, tokens.clone()).await?;
        let counter = Arc::new(AtomicUsize::new(0));
        for level in levels {
            // Accounts first, outside the clock.
            let mut accounts = Vec::new();
            for _ in 0..level {
                let (a, _) = Account::builder_with_http(http_client(&root)?)
                    .create(
                        &NewAccount {
                            contact: &[],
                            terms_of_service_agreed: true,
                            only_return_existing: false,
                        },
                        directory.clone(),
                        None,
                    )
                    .await?;
                accounts.push(Arc::new(a));
            }
            let stop = Arc::new(AtomicBool::new(false));
            let start = Instant::now();
            let mut tasks = Vec::new();
            for a in accounts {
                let (stop, tokens, counter) = (stop.clone(), tokens.clone(), counter.clone());
                tasks.push(tokio::spawn(async move {
                    let mut lat = Vec::new();
                    let mut errors = 0usize;
                    while !stop.load(Ordering::Relaxed) {
                        let n = counter.fetch_add(1, Ordering::Relaxed);
                        let t = Instant::now();
                        match one_order(&a, format!("o{n}.bench.test"), &tokens).await {
                            Ok(()) => lat.push(t.elapsed()),
                            Err(e) => {
                                errors += 1;
                                if errors < 3 {
                                    eprintln!("order failed: {e}");
                                }
                            }
                        }
                    }
                    (lat, errors)
                }));
            }
            tokio::time::sleep(Duration::from_secs(secs)).await;
            stop.store(true, Ordering::Relaxed);
            let mut lat = Vec::new();
            let mut errors = 0;
            for t in tasks {
                let (l, e) = t.await?;
                lat.extend(l);
                errors += e;
            }
            let elapsed = start.elapsed().as_secs_f64();
            lat.sort();
            let pct = |p: f64| {
                lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
                    .map_or(0.0, |d| d.as_secs_f64() * 1e3)
            };
            println!(
                "clients={level} orders={} orders/s={:.1} p50_ms={:.1} p99_ms={:.1} errors={errors}",
                lat.len(),
                lat.len() as f64 / elapsed,
                pct(0.5),
                pct(0.99)
            );
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
