//! `ferrica ca ...`

use clap::{Args, Subcommand};

use super::{EXIT_CODES, KeyTypeArgs};

/// `ferrica ca` subcommands.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum CaCommand {
    /// Create a PKI for the online CA under $FERRICA_PATH: root, intermediate, a JWK provisioner, ca.json.
    Init(Box<InitArgs>),
    /// Mint a one-time token (OTT) for /sign, /revoke, /renew or /rekey with a JWK provisioner.
    Token(Box<TokenArgs>),
    /// List, add, update and remove provisioners in ca.json.
    #[command(subcommand)]
    Provisioner(ProvisionerCommand),
    /// ACME administration: external account binding keys.
    #[command(subcommand)]
    Acme(AcmeCommand),
    /// The CA's database: move the embedded store into PostgreSQL (and back).
    #[command(subcommand)]
    Db(DbCommand),
    /// Get a certificate from the CA: make a key and a CSR, send them with a token to /sign.
    Certificate(Box<CertificateArgs>),
    /// Send a CSR with a token to the CA's /sign.
    Sign(Box<SignArgs>),
    /// Renew a certificate (mTLS with the certificate, or a token signed with its key once it has expired).
    Renew(Box<RenewArgs>),
    /// Replace a certificate's key: a new key (or --private-key), its CSR sent over mTLS with the current certificate
    /// to /rekey.
    Rekey(Box<RekeyArgs>),
    /// Revoke a certificate (passively and on the CRL): with a token, or with the certificate and its key.
    Revoke(Box<RevokeArgs>),
    /// Download the root whose SHA-256 fingerprint is given, and refuse any other.
    Root(RootArgs),
    /// Download the CA's roots (trusting --root).
    Roots(RootsArgs),
    /// Download the CA's federation: its roots and the roots it federates with (ca.json's federatedRoots).
    Federation(RootsArgs),
    /// Trust a CA by fingerprint: write its root and config/defaults.json under $FERRICA_PATH.
    Bootstrap(BootstrapArgs),
    /// Check that the CA answers (GET /health).
    Health(CaClientArgs),
}

// Where the CA is and which root its TLS certificate must chain to.
#[derive(Debug, Clone, Args)]
pub struct CaClientArgs {
    /// The CA URL (default: ca-url in $FERRICA_PATH/config/defaults.json, written by `ca init` and `ca bootstrap`).
    #[arg(long, env = "FERRICA_CA_URL", value_name = "URL")]
    pub ca_url: Option<String>,
    /// The root certificate the CA must present a chain to (default: root in defaults.json).
    #[arg(long, env = "FERRICA_ROOT", value_name = "FILE")]
    pub root: Option<String>,
    /// step's in-process CA (`--offline`): parsed so that it is refused with the reason.
    #[arg(long, hide = true)]
    pub offline: bool,
}

// How a client command gets its one-time token.
#[derive(Debug, Clone, Args)]
pub struct MintArgs {
    /// A token from `ferrica ca token` (else one is minted with --provisioner).
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// The JWK provisioner to mint the token with (default: the CA's only one; with several, asked on a terminal).
    #[arg(long, visible_alias = "issuer", value_name = "NAME")]
    pub provisioner: Option<String>,
    /// File with the provisioner key password (`-` = stdin).
    #[arg(
        long,
        value_name = "FILE",
        env = "FERRICA_PROVISIONER_PASSWORD_FILE",
        hide_env_values = true
    )]
    pub provisioner_password_file: Option<String>,
    /// Mint the token for an X5C provisioner, signed with this certificate's key (the chain goes in the token).
    #[arg(long, value_name = "FILE", requires = "x5c_key", conflicts_with = "token")]
    pub x5c_cert: Option<String>,
    /// The private key of --x5c-cert (its password: --provisioner-password-file, piped stdin or a prompt).
    #[arg(long, value_name = "FILE", requires = "x5c_cert")]
    pub x5c_key: Option<String>,
}

// `ca certificate` flags.
#[derive(Debug, Args)]
#[command(after_long_help = format!("Writes CRT_FILE (leaf, then intermediate) and KEY_FILE (0600, unencrypted, as step: the service and `ca renew --daemon` read it).

EXAMPLES:
  $ TOKEN=$(ferrica ca token svc.lab.internal --password-file prov.pw)
  $ ferrica ca certificate svc.lab.internal svc.crt svc.key --token \"$TOKEN\"
  $ echo \"$PROV_PASS\" | ferrica ca certificate svc.lab.internal svc.crt svc.key --san svc.lab.internal --san 10.0.0.5 \
      --provisioner ci@lab.internal --not-after 2h

{EXIT_CODES}"))]
pub struct CertificateArgs {
    /// The subject (common name); the default SAN.
    pub subject: String,
    /// Where to write the certificate chain.
    pub crt_file: String,
    /// Where to write the new private key.
    pub key_file: String,
    /// A SAN (repeatable; default: the subject). Must match the token's.
    #[arg(long)]
    pub san: Vec<String>,
    /// Certificate start: RFC 3339 or a duration from now.
    #[arg(long, allow_hyphen_values = true)]
    pub not_before: Option<String>,
    /// Certificate end: RFC 3339 or a duration from now (default: the provisioner's, 24h).
    #[arg(long, allow_hyphen_values = true)]
    pub not_after: Option<String>,
    /// Key type of the new key.
    #[command(flatten)]
    pub key_type: KeyTypeArgs,
    /// Get the certificate over ACME from this directory URL instead of /sign with a token (any ACME CA:
    /// `ferrica serve`'s is https://CA/acme/PROVISIONER/directory). The account key is kept under
    /// $FERRICA_PATH/acme/.
    #[arg(long, value_name = "URL", conflicts_with_all = ["token", "provisioner"])]
    pub acme: Option<String>,
    /// ACME http-01: answer from a listener of our own (the default; see --http-listen).
    #[arg(long, requires = "acme", conflicts_with = "webroot")]
    pub standalone: bool,
    /// ACME http-01: write the challenge files under DIR/.well-known/acme-challenge/ for a web server to serve.
    #[arg(long, value_name = "DIR", requires = "acme")]
    pub webroot: Option<String>,
    /// ACME http-01 standalone: the address to listen on.
    #[arg(long, value_name = "ADDR", default_value = ":80", requires = "acme")]
    pub http_listen: String,
    /// ACME: a contact email for a new account (repeatable).
    #[arg(long, value_name = "EMAIL", requires = "acme")]
    pub contact: Vec<String>,
    /// The token.
    #[command(flatten)]
    pub mint: MintArgs,
    /// The CA.
    #[command(flatten)]
    pub ca: CaClientArgs,
    /// Overwrite CRT_FILE and KEY_FILE.
    #[arg(short, long)]
    pub force: bool,
}

// `ca sign` flags.
#[derive(Debug, Args)]
#[command(after_long_help = format!("EXAMPLES:
  $ ferrica ca sign svc.csr svc.crt --token \"$TOKEN\"

{EXIT_CODES}"))]
pub struct SignArgs {
    /// The CSR (PEM/DER; `-` = stdin).
    pub csr_file: String,
    /// Where to write the certificate chain.
    pub crt_file: String,
    /// Certificate start: RFC 3339 or a duration from now.
    #[arg(long, allow_hyphen_values = true)]
    pub not_before: Option<String>,
    /// Certificate end: RFC 3339 or a duration from now.
    #[arg(long, allow_hyphen_values = true)]
    pub not_after: Option<String>,
    /// The token (minted for the CSR's CN and SANs when not given).
    #[command(flatten)]
    pub mint: MintArgs,
    /// The CA.
    #[command(flatten)]
    pub ca: CaClientArgs,
    /// Overwrite CRT_FILE.
    #[arg(short, long)]
    pub force: bool,
}

// `ca renew` flags.
#[derive(Debug, Args)]
#[command(after_long_help = format!("Renewal keeps the key, the names and the lifetime. Over mTLS by default; once the certificate has expired (or with --mtls=false) a token signed with the certificate's key is sent instead, which the provisioner must allow (allowRenewalAfterExpiry).

DAEMON: with --daemon, renews when 2/3 of the lifetime has passed (with jitter), or every --renew-period; after a failure it retries with exponential backoff (1 s doubling to 1 min, never past expiry); SIGHUP renews now; SIGINT and SIGTERM stop it (exit 0). After each renewal: --exec runs, and --pid-file/--pid gets --signal.

EXAMPLES:
  $ ferrica ca renew svc.crt svc.key --force
  $ ferrica ca renew svc.crt svc.key --force --expires-in 8h    # cron: only when close to expiry
  $ ferrica ca renew svc.crt svc.key --daemon --exec 'systemctl reload nginx'

{EXIT_CODES}"))]
pub struct RenewArgs {
    /// The certificate to renew.
    pub crt_file: String,
    /// Its private key.
    pub key_file: String,
    /// File with the password of KEY_FILE, if encrypted (`-` = stdin).
    #[arg(long, value_name = "FILE", env = "FERRICA_PASSWORD_FILE", hide_env_values = true)]
    pub password_file: Option<String>,
    /// Write the new certificate here instead of over CRT_FILE.
    #[arg(long, visible_alias = "output-file", value_name = "FILE")]
    pub out: Option<String>,
    /// Overwrite the output file (needed to replace CRT_FILE; implied by --daemon).
    #[arg(short, long)]
    pub force: bool,
    /// Renew only when the certificate expires within this duration (plus up to 1/20 of it as jitter).
    #[arg(long, value_name = "DURATION")]
    pub expires_in: Option<String>,
    /// Authenticate with the certificate over mTLS (`--mtls=false`: send a token signed with its key).
    #[arg(long, default_value_t = true, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, value_name = "BOOL")]
    pub mtls: bool,
    /// Keep running and renew before expiry.
    #[arg(long)]
    pub daemon: bool,
    /// With --daemon: renew at this fixed interval instead of at 2/3 of the lifetime.
    #[arg(long, value_name = "DURATION", requires = "daemon")]
    pub renew_period: Option<String>,
    /// What to run or signal after each renewal.
    #[command(flatten)]
    pub after: AfterArgs,
    /// The CA.
    #[command(flatten)]
    pub ca: CaClientArgs,
}

// What `ca renew` and `ca rekey` run or signal once the new certificate is in place (a web server to reload).
#[derive(Debug, Clone, Args)]
pub struct AfterArgs {
    /// A command run (with sh -c) after each renewal.
    #[arg(long, value_name = "CMD")]
    pub exec: Option<String>,
    /// A process to signal after each renewal.
    #[arg(long, value_name = "PID")]
    pub pid: Option<i32>,
    /// A file with the PID of a process to signal after each renewal.
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<String>,
    /// The signal for --pid/--pid-file: a name (HUP, USR1, TERM...) or number.
    #[arg(long, default_value = "HUP")]
    pub signal: String,
}

// `ca rekey` flags (step's `ca rekey`, without its daemon mode).
#[derive(Debug, Args)]
#[command(after_long_help = format!("The new certificate keeps the old one's names and lifetime (never more than the provisioner's \
maximum). The new key is written unencrypted, 0600, as step does; the old key authenticates the request (mTLS), so the \
certificate must not have expired.

EXAMPLES:
  $ ferrica ca rekey svc.crt svc.key --force
  $ ferrica ca rekey svc.crt svc.key --out-cert new.crt --out-key new.key --kty RSA --size 3072

{EXIT_CODES}"))]
pub struct RekeyArgs {
    /// The certificate to rekey.
    pub crt_file: String,
    /// Its private key.
    pub key_file: String,
    /// File with the password of KEY_FILE, if encrypted (`-` = stdin).
    #[arg(long, value_name = "FILE", env = "FERRICA_PASSWORD_FILE", hide_env_values = true)]
    pub password_file: Option<String>,
    /// Write the new certificate here instead of over CRT_FILE.
    #[arg(long, value_name = "FILE")]
    pub out_cert: Option<String>,
    /// Write the new key here instead of over KEY_FILE.
    #[arg(long, value_name = "FILE")]
    pub out_key: Option<String>,
    /// Use this (unencrypted) key instead of generating one.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["kty", "crv", "size"])]
    pub private_key: Option<String>,
    /// Key type of the new key.
    #[command(flatten)]
    pub key_type: KeyTypeArgs,
    /// Overwrite the output files (needed to replace CRT_FILE and KEY_FILE).
    #[arg(short, long)]
    pub force: bool,
    /// What to run or signal after the rekey.
    #[command(flatten)]
    pub after: AfterArgs,
    /// The CA.
    #[command(flatten)]
    pub ca: CaClientArgs,
}

// `ca revoke` flags.
#[derive(Debug, Args)]
#[command(after_long_help = format!("ferrica revokes passively (renewals are refused) and actively: the serial is published on the CA's CRL (GET /crl). step-ca refuses active revocation with 501.

EXAMPLES:
  $ ferrica ca revoke 2853482957437859 --token \"$(ferrica ca token 2853482957437859 --revoke --password-file p)\"
  $ ferrica ca revoke 2853482957437859 --cert svc.crt --key svc.key --reason 'key leaked' --reasonCode 1

{EXIT_CODES}"))]
pub struct RevokeArgs {
    /// The serial (decimal or 0x-hex); may be omitted with --cert.
    pub serial: Option<String>,
    /// Authenticate with this certificate over mTLS (with --key).
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<String>,
    /// The key of --cert.
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<String>,
    /// File with the password of --key, if encrypted.
    #[arg(long, value_name = "FILE")]
    pub key_password_file: Option<String>,
    /// Why, in words.
    #[arg(long, default_value = "")]
    pub reason: String,
    /// RFC 5280 reason code: 0 unspecified, 1 keyCompromise, 2 cACompromise, 3 affiliationChanged, 4 superseded,
    /// 5 cessationOfOperation, 6 certificateHold, 8 removeFromCRL, 9 privilegeWithdrawn, 10 aACompromise.
    #[arg(
        long = "reasonCode",
        visible_alias = "reason-code",
        default_value_t = 0,
        value_name = "CODE"
    )]
    pub reason_code: u8,
    /// The token (minted with --provisioner when neither it nor --cert is given).
    #[command(flatten)]
    pub mint: MintArgs,
    /// The CA.
    #[command(flatten)]
    pub ca: CaClientArgs,
}

// `ca root` flags.
#[derive(Debug, Args)]
pub struct RootArgs {
    /// Where to write the root (default: stdout).
    pub root_file: Option<String>,
    /// The SHA-256 fingerprint the root must have (default: fingerprint in defaults.json).
    #[arg(long, value_name = "SHA256")]
    pub fingerprint: Option<String>,
    /// The CA URL (default: defaults.json's ca-url).
    #[arg(long, env = "FERRICA_CA_URL", value_name = "URL")]
    pub ca_url: Option<String>,
    /// Overwrite ROOT_FILE.
    #[arg(short, long)]
    pub force: bool,
}

// `ca roots` flags.
#[derive(Debug, Args)]
pub struct RootsArgs {
    /// Where to write the roots (default: stdout).
    pub roots_file: Option<String>,
    /// The CA.
    #[command(flatten)]
    pub ca: CaClientArgs,
    /// Overwrite ROOTS_FILE.
    #[arg(short, long)]
    pub force: bool,
}

// `ca bootstrap` flags.
#[derive(Debug, Args)]
#[command(after_long_help = format!("Fetches /root/<fingerprint> without trusting the server's certificate, checks that the root's SHA-256 is the fingerprint, then writes $FERRICA_PATH/certs/root_ca.crt and config/defaults.json so that later `ca` commands need no --ca-url or --root.

EXAMPLES:
  $ ferrica ca bootstrap --ca-url https://ca.lab.internal:9000 --fingerprint 5b8f...e1 --install

{EXIT_CODES}"))]
pub struct BootstrapArgs {
    /// The CA URL.
    #[arg(long, env = "FERRICA_CA_URL", value_name = "URL")]
    pub ca_url: String,
    /// The root's SHA-256 fingerprint (as `ca init` printed it).
    #[arg(long, value_name = "SHA256")]
    pub fingerprint: String,
    /// Also install the root in the system trust store (as `certificate install`).
    #[arg(long)]
    pub install: bool,
    /// With --install: the root directory of the system store (images, tests).
    #[arg(long, value_name = "DIR", requires = "install")]
    pub prefix: Option<String>,
    /// Overwrite an existing root_ca.crt and defaults.json.
    #[arg(short, long)]
    pub force: bool,
}

/// `ca provisioner` subcommands.
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ProvisionerCommand {
    /// Print the provisioners as JSON (from ca.json, or from a running CA with --ca-url).
    List(ProvisionerListArgs),
    /// Add a provisioner.
    Add(Box<ProvisionerAddArgs>),
    /// Change a provisioner's claims or policy.
    Update(Box<ProvisionerUpdateArgs>),
    /// Remove a provisioner.
    Remove(ProvisionerRemoveArgs),
}

// `ca provisioner list` flags.
#[derive(Debug, Clone, Args)]
pub struct ProvisionerListArgs {
    /// Ask this CA (GET /provisioners) instead of reading ca.json. Without --ca-url and --ca-config: the local
    /// ca.json if there is one, else the CA that `ca bootstrap` recorded in defaults.json.
    #[arg(long, env = "FERRICA_CA_URL", value_name = "URL")]
    pub ca_url: Option<String>,
    /// The root the CA must chain to (default: FERRICA_ROOT, else defaults.json's root).
    #[arg(long, env = "FERRICA_ROOT", value_name = "FILE")]
    pub root: Option<String>,
    /// Where ca.json is.
    #[command(flatten)]
    pub config: ConfigArg,
}

// Where ca.json is.
#[derive(Debug, Clone, Args)]
pub struct ConfigArg {
    /// The CA configuration (default: $FERRICA_PATH/config/ca.json).
    #[arg(long, value_name = "FILE")]
    pub ca_config: Option<String>,
}

// Claims and policy flags for `provisioner add|update`.
#[derive(Debug, Clone, Args)]
pub struct ProvisionerOptions {
    /// step-ca's claims as a JSON object: minTLSCertDuration, maxTLSCertDuration, defaultTLSCertDuration,
    /// disableRenewal, allowRenewalAfterExpiry (the --x509-* flags win over it).
    #[arg(long, value_name = "JSON")]
    pub claims: Option<String>,
    /// ACME: a challenge type to offer (http-01, dns-01, tls-alpn-01; repeatable; default: all).
    #[arg(long, value_name = "TYPE")]
    pub challenge: Vec<String>,
    /// A key type the provisioner signs for (repeatable; ca.json's `keyTypes`): "EC P-256", "EC P-384", "EC P-521",
    /// "OKP Ed25519", "RSA 2048", "RSA 3072", "RSA 4096", or "EC" / "RSA" for any; default: all (never RSA under
    /// 2048 bits).
    #[arg(long, value_name = "TYPE")]
    pub key_type: Vec<String>,
    /// ACME: new accounts must carry an external account binding (`ferrica ca acme eab add`; `=false` to stop).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub require_eab: Option<bool>,
    /// Shortest certificate lifetime allowed (e.g. 5m).
    #[arg(long, value_name = "DURATION")]
    pub x509_min_dur: Option<String>,
    /// Longest certificate lifetime allowed (e.g. 720h).
    #[arg(long, value_name = "DURATION")]
    pub x509_max_dur: Option<String>,
    /// Lifetime when the request names none.
    #[arg(long, value_name = "DURATION")]
    pub x509_default_dur: Option<String>,
    /// Refuse renewals of this provisioner's certificates (`--disable-renewal=false` to allow again).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub disable_renewal: Option<bool>,
    /// Allow renewing expired certificates (`=false` to turn off).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub allow_renewal_after_expiry: Option<bool>,
    /// Let the provisioner sign SSH certificates (claims.enableSSHCA; `--ssh=false` to stop).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub ssh: Option<bool>,
    /// Shortest SSH user certificate lifetime (default 5m).
    #[arg(long, value_name = "DURATION")]
    pub ssh_user_min_dur: Option<String>,
    /// Longest SSH user certificate lifetime (default 24h).
    #[arg(long, value_name = "DURATION")]
    pub ssh_user_max_dur: Option<String>,
    /// SSH user certificate lifetime when the request names none (default 16h).
    #[arg(long, value_name = "DURATION")]
    pub ssh_user_default_dur: Option<String>,
    /// Shortest SSH host certificate lifetime (default 5m).
    #[arg(long, value_name = "DURATION")]
    pub ssh_host_min_dur: Option<String>,
    /// Longest SSH host certificate lifetime (default 720h).
    #[arg(long, value_name = "DURATION")]
    pub ssh_host_max_dur: Option<String>,
    /// SSH host certificate lifetime when the request names none (default 720h).
    #[arg(long, value_name = "DURATION")]
    pub ssh_host_default_dur: Option<String>,
    /// Policy: allow DNS names matching this (e.g. *.lab.internal; repeatable).
    #[arg(long, value_name = "PATTERN")]
    pub allow_dns: Vec<String>,
    /// Policy: deny DNS names matching this.
    #[arg(long, value_name = "PATTERN")]
    pub deny_dns: Vec<String>,
    /// Policy: allow IPs in this range.
    #[arg(long, value_name = "CIDR")]
    pub allow_ip: Vec<String>,
    /// Policy: deny IPs in this range.
    #[arg(long, value_name = "CIDR")]
    pub deny_ip: Vec<String>,
    /// Policy: allow emails matching this (e.g. @lab.internal).
    #[arg(long, value_name = "PATTERN")]
    pub allow_email: Vec<String>,
    /// Policy: deny emails matching this.
    #[arg(long, value_name = "PATTERN")]
    pub deny_email: Vec<String>,
    /// Policy: allow URIs whose host matches this.
    #[arg(long, value_name = "PATTERN")]
    pub allow_uri: Vec<String>,
    /// Policy: deny URIs whose host matches this.
    #[arg(long, value_name = "PATTERN")]
    pub deny_uri: Vec<String>,
    /// Policy: allow wildcard DNS names (`=false` to forbid).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub allow_wildcard_names: Option<bool>,
}

// `ca provisioner add` flags.
#[derive(Debug, Args)]
#[command(
    after_long_help = "EXAMPLES:\n  $ ferrica ca provisioner add ci@lab.internal --type JWK --create --password-file prov.pw \\\n      \
--x509-max-dur 720h --allow-dns '*.lab.internal'\n  $ ferrica ca provisioner add acme --type ACME\n  \
$ ferrica ca provisioner add hosts --type X5C --x5c-roots host-roots.crt"
)]
pub struct ProvisionerAddArgs {
    /// The provisioner name.
    pub name: String,
    /// JWK: the key, as step takes it: a public JWK (or PEM), or an encrypted private JWK as `crypto jwk create`
    /// writes it (decrypted with --password-file; its public part is registered, the encrypted one becomes the
    /// encryptedKey that clients fetch).
    #[arg(value_name = "JWK_FILE", conflicts_with_all = ["create", "public_key"])]
    pub jwk_file: Option<String>,
    /// JWK, ACME or X5C.
    #[arg(long = "type", value_name = "TYPE", default_value = "JWK")]
    pub kind: String,
    /// JWK: create a new key pair (the private key is stored encrypted as encryptedKey).
    #[arg(long, conflicts_with = "public_key")]
    pub create: bool,
    /// JWK: use this public key (JWK or PEM); tokens are signed with its private key elsewhere.
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<String>,
    /// JWK --create: file with the password of the new key (`-` = stdin).
    #[arg(long, value_name = "FILE", env = "FERRICA_PASSWORD_FILE", hide_env_values = true)]
    pub password_file: Option<String>,
    /// X5C: the roots that client certificates must chain to.
    #[arg(long, visible_alias = "x5c-root", value_name = "FILE")]
    pub x5c_roots: Option<String>,
    /// Claims and policy.
    #[command(flatten)]
    pub opts: ProvisionerOptions,
    /// Where ca.json is.
    #[command(flatten)]
    pub config: ConfigArg,
}

// `ca provisioner update` flags.
#[derive(Debug, Args)]
pub struct ProvisionerUpdateArgs {
    /// The provisioner name.
    pub name: String,
    /// Claims and policy.
    #[command(flatten)]
    pub opts: ProvisionerOptions,
    /// Where ca.json is.
    #[command(flatten)]
    pub config: ConfigArg,
}

// `ca provisioner remove` flags.
#[derive(Debug, Args)]
pub struct ProvisionerRemoveArgs {
    /// The provisioner name.
    pub name: String,
    /// Where ca.json is.
    #[command(flatten)]
    pub config: ConfigArg,
}

// `ca token` flags.
#[derive(Debug, Args)]
#[command(
    after_long_help = "CLAIMS (as step): iss = provisioner name, aud = https://<ca>/1.0/sign (or /revoke, /renew,\n\
/rekey), sub, sans (default [sub]), sha = root fingerprint, jti = 64 random hex, iat = nbf = now, exp = now+5m;\n\
header kid = the provisioner's kid.\n\n\
EXAMPLES:\n  $ TOKEN=$(ferrica ca token svc.lab.internal --offline --password-file prov.pw --san svc.lab.internal --san 10.0.0.5)\n  \
$ ferrica ca token 1234567890 --revoke --offline --provisioner ci@lab.internal --password-file prov.pw\n\n\
Without --offline the provisioner key is fetched from the CA (GET /provisioners/<kid>/encrypted-key, trusting \
--root) and decrypted with --password-file."
)]
pub struct TokenArgs {
    /// The subject: the certificate's common name (or the serial with --revoke).
    pub subject: String,
    /// Sign locally with the provisioner key from ca.json (or --key).
    #[arg(long)]
    pub offline: bool,
    /// The CA configuration (default: $FERRICA_PATH/config/ca.json).
    #[arg(long, value_name = "FILE")]
    pub ca_config: Option<String>,
    /// The provisioner name (default: the only JWK provisioner; with several, asked on a terminal).
    #[arg(long, visible_alias = "issuer")]
    pub provisioner: Option<String>,
    /// A private JWK or PEM key to sign with instead of the provisioner's encryptedKey (with --kid and --issuer).
    #[arg(long, value_name = "FILE")]
    pub key: Option<String>,
    /// The key id for --key.
    #[arg(long, allow_hyphen_values = true)]
    pub kid: Option<String>,
    /// File with the provisioner key password (`-` = stdin).
    #[arg(
        long,
        visible_alias = "provisioner-password-file",
        value_name = "FILE",
        env = "FERRICA_PASSWORD_FILE",
        hide_env_values = true
    )]
    pub password_file: Option<String>,
    /// A SAN the certificate may have (repeatable; default: the subject).
    #[arg(long)]
    pub san: Vec<String>,
    /// The CA URL (default: defaults.json's ca-url, else the first dnsName and the address port).
    #[arg(long, env = "FERRICA_CA_URL")]
    pub ca_url: Option<String>,
    /// The root certificate, for the sha claim (default: ca.json's root).
    #[arg(long, env = "FERRICA_ROOT", value_name = "FILE")]
    pub root: Option<String>,
    /// Token start: RFC 3339 or a duration from now (default: now).
    #[arg(long, allow_hyphen_values = true)]
    pub not_before: Option<String>,
    /// Token end: RFC 3339 or a duration from now (default: 5m; 10s to 1h after the start).
    #[arg(long, allow_hyphen_values = true)]
    pub not_after: Option<String>,
    /// Sign the token for an X5C provisioner with this certificate's key (the chain goes in the `x5c` header).
    #[arg(long, value_name = "FILE", requires = "x5c_key", conflicts_with = "key")]
    pub x5c_cert: Option<String>,
    /// The private key of --x5c-cert (its password: --password-file, piped stdin or a prompt).
    #[arg(long, value_name = "FILE", requires = "x5c_cert")]
    pub x5c_key: Option<String>,
    /// A revocation token (subject = the serial).
    #[arg(long, conflicts_with_all = ["renew", "rekey"])]
    pub revoke: bool,
    /// A renewal token.
    #[arg(long, conflicts_with = "rekey")]
    pub renew: bool,
    /// A rekey token.
    #[arg(long)]
    pub rekey: bool,
    /// An SSH token (for /ssh/sign, or with --revoke /ssh/revoke), with step's `step.ssh` claims.
    #[arg(long)]
    pub ssh: bool,
    /// With --ssh: for a host certificate (default: user).
    #[arg(long, requires = "ssh")]
    pub host: bool,
    /// With --ssh: a principal the certificate may carry (repeatable; default: the subject, and for a user's email
    /// its local part first, as step does).
    #[arg(long, short = 'n', value_name = "NAME", requires = "ssh")]
    pub principal: Vec<String>,
    /// Write the token here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output_file: Option<String>,
    /// Overwrite --output-file.
    #[arg(short, long)]
    pub force: bool,
}

// `ca init` flags.
#[derive(Debug, Args)]
#[command(after_long_help = format!("WRITES (under $FERRICA_PATH, default ~/.ferrica; see `ferrica path`):\n  \
certs/root_ca.crt  certs/intermediate_ca.crt  secrets/root_ca_key  secrets/intermediate_ca_key (0600, encrypted)\n  \
config/ca.json (step-ca's schema)  config/defaults.json (ca-url, fingerprint, root)  db/\n\n\
The root fingerprint is printed on stdout.\n\n\
EXAMPLES:\n  Non-interactive, as in CI (the password is piped in; the provisioner key reuses it):\n    \
$ echo \"$PASS\" | FERRICA_PATH=$PWD/pki ferrica ca init --name Lab --dns ca.lab.internal --address :9000 \\\n        \
--provisioner ci@lab.internal\n\n  An RSA PKI (step cannot):\n    \
$ ferrica ca init --name Lab --dns ca.lab.internal --provisioner ci --kty RSA --size 3072 --password-file pw\n\n  \
From an existing root:\n    $ ferrica ca init --name Lab --dns ca.lab.internal --provisioner ci --root root.crt --key root.key \\\n        \
--key-password-file root.pw --password-file pw\n\n{EXIT_CODES}"))]
pub struct InitArgs {
    /// The PKI name (root \"<name> Root CA\", intermediate \"<name> Intermediate CA\").
    #[arg(long)]
    pub name: Option<String>,
    /// A DNS name or IP of the CA (repeatable, or comma-separated as step takes it).
    #[arg(long)]
    pub dns: Vec<String>,
    /// The listen address of `ferrica serve`.
    #[arg(long, default_value = ":9000")]
    pub address: String,
    /// The name of the first JWK provisioner (e.g. an email).
    #[arg(long)]
    pub provisioner: Option<String>,
    /// File with the password that encrypts the root and intermediate keys (`-` = stdin).
    #[arg(long, value_name = "FILE", env = "FERRICA_PASSWORD_FILE", hide_env_values = true)]
    pub password_file: Option<String>,
    /// File with the password of the provisioner key (default: the CA key password).
    #[arg(
        long,
        value_name = "FILE",
        env = "FERRICA_PROVISIONER_PASSWORD_FILE",
        hide_env_values = true
    )]
    pub provisioner_password_file: Option<String>,
    /// Use this existing root certificate (with --key).
    #[arg(long, value_name = "FILE", requires = "key")]
    pub root: Option<String>,
    /// The key of --root.
    #[arg(long, value_name = "FILE", requires = "root")]
    pub key: Option<String>,
    /// File with the password of --key.
    #[arg(long, value_name = "FILE")]
    pub key_password_file: Option<String>,
    /// Key type of the new keys (RSA works too).
    #[command(flatten)]
    pub key_type: KeyTypeArgs,
    /// Add an ACME provisioner named "acme".
    #[arg(long)]
    pub acme: bool,
    /// Write no db stanza.
    #[arg(long)]
    pub no_db: bool,
    /// Write only the PKI (certificates and keys): no ca.json, defaults.json or db.
    #[arg(long)]
    pub pki: bool,
    /// Also make SSH host and user CA keys (secrets/ssh_*_ca_key, certs/ssh_*_ca_key.pub), ca.json's `ssh`
    /// section, enableSSHCA on the JWK provisioner and an SSHPOP provisioner.
    #[arg(long)]
    pub ssh: bool,
    /// step's deployment type: `standalone` (the default; `linked` and `hosted` need smallstep's service).
    #[arg(long, value_name = "TYPE", default_value = "standalone", value_parser = ["standalone", "linked", "hosted"])]
    pub deployment_type: String,
    /// The CA URL clients use, written to defaults.json (default: https://<first --dns><address>).
    #[arg(long, value_name = "URL")]
    pub with_ca_url: Option<String>,
    /// Replace an existing PKI under $FERRICA_PATH.
    #[arg(short, long)]
    pub force: bool,
    /// step ca init's flags for what ferrica does not do: refused with the reason.
    #[command(flatten)]
    pub step: StepInitFlags,
}

// `step ca init` flags with no meaning in ferrica. They parse, so that a step command line gets a reason rather
// than "unexpected argument", and are then refused.
#[derive(Debug, Args)]
pub struct StepInitFlags {
    /// step: keep provisioners in the database, managed through the admin API.
    #[arg(long, hide = true)]
    pub remote_management: bool,
    /// step: the first admin's subject (with --remote-management).
    #[arg(long, value_name = "SUBJECT", hide = true)]
    pub admin_subject: Option<String>,
    /// step: a registration authority (StepCAS, CloudCAS).
    #[arg(long, value_name = "NAME", hide = true)]
    pub ra: Option<String>,
    /// step: a key management system for the CA keys.
    #[arg(long, value_name = "KMS", hide = true)]
    pub kms: Option<String>,
    /// step: print Helm values instead of writing files.
    #[arg(long, hide = true)]
    pub helm: bool,
    /// step: the context to create.
    #[arg(long, value_name = "NAME", hide = true)]
    pub context: Option<String>,
    /// step: the profile of the context.
    #[arg(long, value_name = "NAME", hide = true)]
    pub profile: Option<String>,
    /// step: the authority name of the context.
    #[arg(long, value_name = "NAME", hide = true)]
    pub authority: Option<String>,
}

impl StepInitFlags {
    /// The first flag given, with why ferrica cannot honour it.
    pub fn refusal(&self) -> Option<(&'static str, &'static str)> {
        let no_contexts = "ferrica has no step contexts: set FERRICA_PATH (or STEPPATH) to choose the tree";
        let no_admin = "ferrica has no admin API: provisioners live in ca.json, managed with `ferrica ca provisioner`";
        [
            (self.remote_management, "--remote-management", no_admin),
            (self.admin_subject.is_some(), "--admin-subject", no_admin),
            (
                self.ra.is_some(),
                "--ra",
                "ferrica has no registration-authority mode: it holds its own CA keys",
            ),
            (
                self.kms.is_some(),
                "--kms",
                "ferrica keeps its CA keys in encrypted files, not in a KMS",
            ),
            (self.helm, "--helm", "ferrica writes the PKI to files, not Helm values"),
            (self.context.is_some(), "--context", no_contexts),
            (self.profile.is_some(), "--profile", no_contexts),
            (self.authority.is_some(), "--authority", no_contexts),
        ]
        .into_iter()
        .find(|(given, _, _)| *given)
        .map(|(_, flag, why)| (flag, why))
    }
}

/// `ca db ...`
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum DbCommand {
    /// Copy every record (certificates, revocations, used tokens, the CRL number, SSH and ACME state) from one
    /// store into another, empty one, in one transaction, then check that the counts agree. Stop `serve` first.
    Copy(DbCopyArgs),
}

// `ca db copy` flags.
#[derive(Debug, Args)]
pub struct DbCopyArgs {
    /// The source: an embedded store file (`db/ferrica.redb`) or a `postgresql://` URL.
    #[arg(long, value_name = "PATH_OR_URL")]
    pub from: String,
    /// The target, empty: a new embedded store file or a `postgresql://` URL (the database is created if missing).
    #[arg(long, value_name = "PATH_OR_URL")]
    pub to: String,
    /// `text` (default) or `json` (`{"from","to","counts":{table: n}}`).
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
}

/// `ca acme ...`
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum AcmeCommand {
    /// External account binding keys (RFC 8555 §7.3.4) for ACME provisioners.
    #[command(subcommand)]
    Eab(EabCommand),
}

/// `ca acme eab ...`
#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum EabCommand {
    /// Make a key: prints its key id and base64url HMAC key (give both to the ACME client, e.g. certbot's
    /// --eab-kid/--eab-hmac-key). The running CA reads new keys at once.
    Add(EabAddArgs),
    /// List the keys of a provisioner (without their secrets).
    List(EabListArgs),
    /// Remove a key: accounts it bound stay, no new account can use it.
    Remove(EabRemoveArgs),
}

// `ca acme eab add` flags.
#[derive(Debug, Args)]
pub struct EabAddArgs {
    /// The ACME provisioner.
    pub provisioner: String,
    /// A reference of yours (a customer or host name), shown by `list`; unique per provisioner.
    pub reference: Option<String>,
    /// `text` (default) or `json` (`{"kid","hmacKey","provisioner","reference"}`).
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
    /// Where ca.json is.
    #[command(flatten)]
    pub config: ConfigArg,
}

// `ca acme eab list` flags.
#[derive(Debug, Args)]
pub struct EabListArgs {
    /// The ACME provisioner.
    pub provisioner: String,
    /// `text` (default) or `json`.
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
    /// Where ca.json is.
    #[command(flatten)]
    pub config: ConfigArg,
}

// `ca acme eab remove` flags.
#[derive(Debug, Args)]
pub struct EabRemoveArgs {
    /// The ACME provisioner.
    pub provisioner: String,
    /// The key id to remove (it may start with `-`: keys made before 2026-12 could).
    #[arg(allow_hyphen_values = true)]
    pub kid: String,
    /// Where ca.json is.
    #[command(flatten)]
    pub config: ConfigArg,
}
