//! Examples for the man pages of commands whose help carries none, by page name (`ferrica-ca-root`). A unit test
//! parses every one with the real command line definitions, so an example cannot drift from the grammar.

/// The examples for `page`, if the table has some.
pub fn for_page(page: &str) -> &'static [&'static str] {
    match page {
        "ferrica" => &[
            "ferrica certificate create --profile root-ca Lab-Root root.crt root.key --password-file pw",
            "ferrica ca init --name Lab --dns ca.lab.internal --provisioner ci@lab.internal --password-file pw",
        ],
        "ferrica-version" => &["ferrica version"],
        "ferrica-path" => &["ferrica path"],
        "ferrica-ca" => &[
            "ferrica ca health",
            "ferrica ca certificate svc.lab.internal svc.crt svc.key",
        ],
        "ferrica-ca-acme" | "ferrica-ca-acme-eab" | "ferrica-ca-acme-eab-add" => {
            &["ferrica ca acme eab add acme host1.lab.internal --format json"]
        }
        "ferrica-ca-acme-eab-list" => &["ferrica ca acme eab list acme"],
        "ferrica-ca-acme-eab-remove" => &["ferrica ca acme eab remove acme kid-from-list"],
        "ferrica-ca-db" | "ferrica-ca-db-copy" => &[
            "ferrica ca db copy --from ~/.ferrica/db/ferrica.redb --to postgresql://ferrica:pw@db.lab.internal/ferrica",
        ],
        "ferrica-ca-federation" => &["ferrica ca federation federated.pem"],
        "ferrica-ca-health" => &["ferrica ca health --ca-url https://ca.lab.internal:9000 --root root_ca.crt"],
        "ferrica-ca-provisioner" | "ferrica-ca-provisioner-list" => &["ferrica ca provisioner list"],
        "ferrica-ca-provisioner-remove" => &["ferrica ca provisioner remove old-ci"],
        "ferrica-ca-provisioner-update" => &[
            "ferrica ca provisioner update ci@lab.internal --x509-max-dur 720h --allow-dns *.lab.internal",
            "ferrica ca provisioner update ci@lab.internal --ssh --ssh-user-max-dur 8h",
        ],
        "ferrica-ca-root" => &["ferrica ca root root_ca.crt --ca-url https://ca.lab.internal:9000 --fingerprint 4f1c"],
        "ferrica-ca-roots" => &["ferrica ca roots roots.pem"],
        "ferrica-certificate" => &["ferrica certificate inspect svc.crt --short"],
        "ferrica-certificate-bundle" => &["ferrica certificate bundle leaf.crt intermediate.crt chain.crt"],
        "ferrica-certificate-format" => &["ferrica certificate format svc.crt --out svc.der"],
        "ferrica-certificate-key" => &["ferrica certificate key svc.crt"],
        "ferrica-certificate-lint" => &["ferrica certificate lint svc.crt --format json"],
        "ferrica-crypto" => &["ferrica crypto keypair pub.pem priv.pem --password-file pw"],
        "ferrica-crypto-hash" | "ferrica-crypto-hash-compare" => {
            &["ferrica crypto hash compare 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 file.txt"]
        }
        "ferrica-crypto-jwe" | "ferrica-crypto-jwe-decrypt" => {
            &["ferrica crypto jwe decrypt --password-file pw secret.jwe"]
        }
        "ferrica-crypto-jwk" | "ferrica-crypto-jwk-public" => {
            &["ferrica crypto jwk public --password-file pw < priv.json"]
        }
        "ferrica-crypto-jwk-thumbprint" => &["ferrica crypto jwk thumbprint < pub.json"],
        "ferrica-crypto-jwk-keyset" | "ferrica-crypto-jwk-keyset-add" => {
            &["ferrica crypto jwk keyset add jwks.json < pub.json"]
        }
        "ferrica-crypto-jwk-keyset-find" => &["ferrica crypto jwk keyset find jwks.json --kid 1f3a"],
        "ferrica-crypto-jwk-keyset-list" => &["ferrica crypto jwk keyset list jwks.json"],
        "ferrica-crypto-jwk-keyset-remove" => &["ferrica crypto jwk keyset remove jwks.json --kid 1f3a"],
        "ferrica-crypto-jws" | "ferrica-crypto-jws-sign" => {
            &["ferrica crypto jws sign payload.txt --key priv.json --password-file pw"]
        }
        "ferrica-crypto-jws-verify" => &["ferrica crypto jws verify token.jws --key pub.json"],
        "ferrica-crypto-jws-inspect" => &["ferrica crypto jws inspect token.jws --insecure"],
        "ferrica-crypto-jwt" | "ferrica-crypto-jwt-inspect" => &["ferrica crypto jwt inspect token.jwt --insecure"],
        "ferrica-crypto-key" | "ferrica-crypto-key-public" => &["ferrica crypto key public priv.pem"],
        "ferrica-crypto-key-fingerprint" => &["ferrica crypto key fingerprint pub.pem"],
        "ferrica-crypto-key-format" => &["ferrica crypto key format priv.pem --to jwk --password-file pw"],
        "ferrica-crypto-rand" => &["ferrica crypto rand 32 --format hex"],
        "ferrica-ssh" | "ferrica-ssh-inspect" => &["ferrica ssh inspect id_ecdsa-cert.pub --format json"],
        "ferrica-ssh-check-host" => &["ferrica ssh check-host web.lab.internal"],
        "ferrica-ssh-config" => &["ferrica ssh config", "ferrica ssh config --host --dry-run"],
        "ferrica-ssh-fingerprint" => &["ferrica ssh fingerprint id_ecdsa.pub"],
        "ferrica-ssh-hosts" => &["ferrica ssh hosts --format json"],
        "ferrica-ssh-krl" => &["ferrica ssh krl /etc/ssh/revoked.krl --force"],
        "ferrica-ssh-needs-renewal" => &["ferrica ssh needs-renewal id_ecdsa-cert.pub --expires-in 2h"],
        "ferrica-ssh-rekey" => &[
            "ferrica ssh rekey ssh_host_ecdsa_key-cert.pub ssh_host_ecdsa_key --out new_host_key --no-password --insecure",
        ],
        "ferrica-ssh-renew" => &["ferrica ssh renew ssh_host_ecdsa_key-cert.pub ssh_host_ecdsa_key --force"],
        "ferrica-ssh-revoke" => &["ferrica ssh revoke 9502641939632611009 --provisioner-password-file pw"],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    fn pages(c: &clap::Command, name: &str, out: &mut Vec<(String, clap::Command)>) {
        out.push((name.to_string(), c.clone()));
        for sub in c.get_subcommands().filter(|s| s.get_name() != "help") {
            pages(sub, &format!("{name}-{}", sub.get_name()), out);
        }
    }

    #[test]
    fn every_page_has_examples_and_every_example_parses() {
        let mut all = Vec::new();
        pages(&crate::cmd::full_command(), "ferrica", &mut all);
        for (name, cmd) in &all {
            let help = cmd.get_after_long_help().map(|h| h.to_string()).unwrap_or_default();
            let table = for_page(name);
            assert!(help.contains("EXAMPLES") || !table.is_empty(), "{name} has no examples");
            for ex in table {
                // The command itself: shell redirections and pipes are not its arguments.
                let command = ex.split(['<', '|', '>']).next().unwrap_or_default();
                let args: Vec<&str> = command.split_whitespace().collect();
                if let Err(e) = crate::cli::Cli::try_parse_from(&args) {
                    panic!("{name}: {ex:?} does not parse: {e}");
                }
            }
        }
    }
}
