//! The SSH endpoints in step-ca's shapes: `POST /ssh/sign`, `/ssh/revoke`, `GET /ssh/roots`, `/ssh/federation`,
//! `/ssh/hosts`, `POST /ssh/check-host`, and beyond step-ca `GET /ssh/krl`: an OpenSSH KRL of every revoked SSH
//! certificate, per CA key, for sshd's `RevokedKeys`.
//!
//! Authorization is `ca::authorize` (the token) and `ca::ssh` (enableSSHCA, lifetimes, name policy); certificates
//! come from `ssh::cert`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use serde_json::{Value, json};
use ssh_encoding::{Decode as _, Encode as _};
use ssh_key::certificate::CertType;
use ssh_key::public::KeyData;

use super::{ApiError, Ca, blocking, json_body};
use crate::ca::authorize::{self, AuthError};
use crate::ca::ssh as rules;
use crate::ca::store::{Revocation, SshIssued, StoreError};
use crate::ssh::cert::{self, CertSpec, SshCa};

/// The SSH routes (merged under `/` and `/1.0`).
pub fn routes() -> Router<Arc<Ca>> {
    Router::new()
        .route("/ssh/sign", post(sign))
        .route("/ssh/revoke", post(revoke))
        .route("/ssh/renew", post(renew))
        .route("/ssh/rekey", post(rekey))
        .route("/ssh/roots", get(roots))
        .route("/ssh/federation", get(roots))
        .route("/ssh/hosts", get(hosts))
        .route("/ssh/check-host", post(check_host))
        .route("/ssh/krl", get(krl))
        .route("/ssh/config", post(config))
        .route("/ssh/config/{type}", post(config_typed))
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn b64_key(k: &KeyData) -> String {
    let mut blob = Vec::new();
    k.encode(&mut blob).expect("a public key encodes");
    B64.encode(blob)
}

/// `{"userKey": [...], "hostKey": [...]}`: the CA keys, base64 of the wire encoding (step-ca's shape).
async fn roots(State(ca): State<Arc<Ca>>) -> Result<Response, ApiError> {
    if ca.ssh_user.is_none() && ca.ssh_host.is_none() {
        return Err(ApiError::new(404, "the CA has no SSH keys"));
    }
    let mut body = json!({});
    if let Some(u) = &ca.ssh_user {
        body["userKey"] = json!([b64_key(u.public())]);
    }
    if let Some(h) = &ca.ssh_host {
        body["hostKey"] = json!([b64_key(h.public())]);
    }
    Ok(axum::Json(body).into_response())
}

/// step's `TimeDuration`: an RFC 3339 time, a duration from now (`5m`, `-1h`), or empty.
fn time_duration(v: Option<&Value>, field: &str, now: i64) -> Result<Option<i64>, ApiError> {
    let Some(s) = v.and_then(Value::as_str).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let base = time::OffsetDateTime::from_unix_timestamp(now).map_err(|e| ApiError::new(500, e.to_string()))?;
    crate::pki::validity::parse_time_or_duration(s, base)
        .map(|t| Some(t.unix_timestamp()))
        .map_err(|e| ApiError::new(400, format!("{field}: {e}")))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignRequest {
    public_key: String,
    ott: String,
    #[serde(default)]
    cert_type: String,
    #[serde(default, rename = "keyID")]
    key_id: String,
    #[serde(default)]
    principals: Vec<String>,
    #[serde(default)]
    valid_after: Option<Value>,
    #[serde(default)]
    valid_before: Option<Value>,
    #[serde(default)]
    add_user_public_key: Option<String>,
}

fn decode_key(b64: &str, field: &str) -> Result<KeyData, ApiError> {
    let bytes = B64
        .decode(b64.trim())
        .map_err(|_| ApiError::new(400, format!("{field} is not base64")))?;
    let key = KeyData::decode(&mut bytes.as_slice()).map_err(|e| ApiError::new(400, format!("{field}: {e}")))?;
    cert::check_key(&key).map_err(|e| ApiError::new(400, format!("{field}: {e}")))?;
    Ok(key)
}

fn signer(ca: &Ca, t: CertType) -> Result<&SshCa, ApiError> {
    match t {
        CertType::User => ca.ssh_user.as_ref(),
        CertType::Host => ca.ssh_host.as_ref(),
    }
    .ok_or_else(|| ApiError::new(501, format!("the CA has no SSH {} key", rules::cert_type_name(t))))
}

fn random_nonce() -> Result<Vec<u8>, ApiError> {
    crate::jose::random(32).map_err(|e| ApiError::new(500, e.to_string()))
}

fn record(ca: &Ca, token: Option<(&str, i64)>, c: &ssh_key::Certificate, provisioner: &str) -> Result<(), ApiError> {
    ca.ssh_store
        .record_ssh(token, &issued_record(c, provisioner)?)
        .map_err(|e| ApiError::from(authorize::store_error(e)))
}

fn issued_record(c: &ssh_key::Certificate, provisioner: &str) -> Result<SshIssued, ApiError> {
    let mut blob = Vec::new();
    c.encode(&mut blob).map_err(|e| ApiError::new(500, e.to_string()))?;
    Ok(SshIssued {
        serial: c.serial().to_string(),
        cert_type: rules::cert_type_name(c.cert_type()).into(),
        key_id: c.key_id().to_string(),
        principals: c.valid_principals().to_vec(),
        valid_after: c.valid_after(),
        valid_before: c.valid_before(),
        provisioner: provisioner.to_string(),
        cert: blob,
    })
}

fn wire(c: &ssh_key::Certificate) -> Result<String, ApiError> {
    let mut blob = Vec::new();
    c.encode(&mut blob).map_err(|e| ApiError::new(500, e.to_string()))?;
    Ok(B64.encode(blob))
}

/// `POST /ssh/sign`: `{publicKey, ott, certType, keyID, principals, validAfter, validBefore, addUserPublicKey}` ->
/// 201 `{crt[, addUserCrt]}`, with a JWK or X5C token carrying step's `step.ssh` claims.
async fn sign(State(ca): State<Arc<Ca>>, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let req: SignRequest = json_body(body)?;
    let store = ca.ssh_store.clone();
    // The crypto (about 0.1 ms, no I/O) on this worker, as for `/sign`; the write (token and certificate, one
    // transaction) awaited without holding a thread. A serial that another certificate of the same second already
    // has (a chance of 2^-32 a pair, see `time_ordered_serial`) is refused before anything is written, the token
    // included: sign again with a fresh one.
    let mut retries = 0;
    let (answer, issued, add_user) = loop {
        let (answer, issued, token, add_user) = sign_blocking(&ca, &req)?;
        match store.record_ssh_async(Some((&token.0, token.1)), &issued).done().await {
            Ok(()) => break (answer, issued, add_user),
            Err(StoreError::DuplicateSerial(_)) if retries < 3 => retries += 1,
            Err(e) => return Err(ApiError::from(authorize::store_error(e))),
        }
    };
    // The add-user certificate only once the token has paid for the main one.
    if let Some(extra) = add_user {
        store
            .record_ssh_async(None, &extra)
            .done()
            .await
            .map_err(|e| ApiError::from(authorize::store_error(e)))?;
    }
    tracing::info!(serial = %issued.serial, key_id = %issued.key_id, cert_type = issued.cert_type, "ssh certificate");
    Ok((StatusCode::CREATED, axum::Json(answer)).into_response())
}

type Signed = (Value, SshIssued, (String, i64), Option<SshIssued>);

fn sign_blocking(ca: &Ca, req: &SignRequest) -> Result<Signed, ApiError> {
    let now = now();
    let config = ca.config();
    let auth = authorize::authorize_token(&req.ott, &config, "ssh/sign", now, ca.replay_floor())?;
    let opts =
        auth.step.as_ref().and_then(|s| s.get("ssh")).cloned().ok_or_else(|| {
            AuthError::Unauthorized("the token is not an SSH token (it has no step.ssh claims)".into())
        })?;
    let text = |k: &str| opts.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    // The request may narrow what the token allows, never widen it (step-ca's sshCertOptionsValidator).
    let token_type = text("certType");
    let cert_type = match (req.cert_type.as_str(), token_type.as_str()) {
        ("", "") => CertType::User,
        (r, "") | ("", r) => rules::parse_cert_type(r)?,
        (r, t) if r.eq_ignore_ascii_case(t) => rules::parse_cert_type(r)?,
        (r, t) => {
            return Err(AuthError::Forbidden(format!("certType {r:?} is not the token's {t:?}")).into());
        }
    };
    let token_key_id = Some(text("keyID"))
        .filter(|k| !k.is_empty())
        .unwrap_or_else(|| auth.sub.clone());
    if !req.key_id.is_empty() && req.key_id != token_key_id {
        return Err(AuthError::Forbidden(format!("keyID {:?} is not the token's {token_key_id:?}", req.key_id)).into());
    }
    let token_principals: Vec<String> = opts
        .get("principals")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    let principals = if req.principals.is_empty() {
        if token_principals.is_empty() {
            vec![auth.sub.clone()]
        } else {
            token_principals.clone()
        }
    } else {
        if !token_principals.is_empty()
            && let Some(p) = req.principals.iter().find(|p| !token_principals.contains(p))
        {
            return Err(AuthError::Forbidden(format!("principal {p:?} is not in the token")).into());
        }
        req.principals.clone()
    };
    let token_after = time_duration(opts.get("validAfter"), "the token's validAfter", now)?;
    let token_before = time_duration(opts.get("validBefore"), "the token's validBefore", now)?;
    let req_after = time_duration(req.valid_after.as_ref(), "validAfter", now)?;
    let req_before = time_duration(req.valid_before.as_ref(), "validBefore", now)?;
    for (r, t, name) in [
        (req_after, token_after, "validAfter"),
        (req_before, token_before, "validBefore"),
    ] {
        if let (Some(r), Some(t)) = (r, t)
            && (r - t).abs() > 60
        {
            return Err(AuthError::Forbidden(format!("{name} is not the token's")).into());
        }
    }
    rules::check_enabled(&auth.entry, &config, cert_type)?;
    rules::check_policy(&auth.entry, cert_type, &principals)?;
    let window = rules::window(
        Some(&auth.entry),
        &config,
        cert_type,
        req_after.or(token_after),
        req_before.or(token_before),
        now,
    )?;
    let subject = decode_key(&req.public_key, "publicKey")?;
    let ca_key = signer(ca, cert_type)?;
    let spec = CertSpec::new(
        cert_type,
        &token_key_id,
        principals.clone(),
        window,
        crate::cmd::ssh::time_ordered_serial(now),
    );
    let c = cert::sign(&spec, &subject, &random_nonce()?, ca_key).map_err(|e| ApiError::new(400, e.to_string()))?;
    let issued = issued_record(&c, &auth.provisioner)?;
    let mut answer = json!({"crt": wire(&c)?});
    let mut add_user = None;
    // step-ca's "add user": a second user certificate, for the same window, that lets the provisioning account
    // create the user on first login.
    if let Some(add) = req.add_user_public_key.as_deref().filter(|s| !s.is_empty()) {
        if cert_type != CertType::User || principals.len() != 1 || principals[0] == "root" {
            return Err(ApiError::new(
                400,
                "addUserPublicKey needs a user certificate with one principal other than root",
            ));
        }
        let key = decode_key(add, "addUserPublicKey")?;
        let p = &principals[0];
        let mut extra = CertSpec::new(
            CertType::User,
            &format!("{p}-provisioner"),
            vec!["provisioner".into()],
            window,
            crate::cmd::ssh::random_serial(),
        );
        extra.critical_options.insert(
            "force-command".into(),
            format!("sudo useradd -m {p}; nc -q0 localhost 22"),
        );
        let c2 = cert::sign(&extra, &key, &random_nonce()?, ca_key).map_err(|e| ApiError::new(400, e.to_string()))?;
        add_user = Some(issued_record(&c2, &auth.provisioner)?);
        answer["addUserCrt"] = json!(wire(&c2)?);
    }
    Ok((answer, issued, (auth.token_id, auth.token_exp), add_user))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RenewRequest {
    ott: String,
    #[serde(default)]
    public_key: Option<String>,
}

/// `POST /ssh/renew`: `{ott}` with an SSHPOP token signed by the host certificate's key -> 201 `{crt}`: the same
/// key, key id and principals, the same lifetime from now. User certificates do not renew (as with step-ca).
async fn renew(State(ca): State<Arc<Ca>>, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let req: RenewRequest = json_body(body)?;
    let answer = blocking(move || renew_blocking(&ca, req, "ssh/renew")).await?;
    Ok((StatusCode::CREATED, axum::Json(answer)).into_response())
}

/// `POST /ssh/rekey`: `{ott, publicKey}` -> 201 `{crt}`: as renew, for a new key.
async fn rekey(State(ca): State<Arc<Ca>>, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let req: RenewRequest = json_body(body)?;
    let answer = blocking(move || renew_blocking(&ca, req, "ssh/rekey")).await?;
    Ok((StatusCode::CREATED, axum::Json(answer)).into_response())
}

fn renew_blocking(ca: &Ca, req: RenewRequest, endpoint: &str) -> Result<Value, ApiError> {
    let now = now();
    let config = ca.config();
    let auth = authorize::authorize_token(&req.ott, &config, endpoint, now, ca.replay_floor())?;
    let old = auth.sshpop.clone().ok_or_else(|| {
        AuthError::Unauthorized(format!(
            "{endpoint} takes an SSHPOP token (signed by the certificate's key)"
        ))
    })?;
    if old.cert_type() != CertType::Host {
        return Err(ApiError::new(400, "the sshpop certificate must be a host certificate"));
    }
    let ca_key = signer(ca, CertType::Host)?;
    if old.signature_key() != ca_key.public() {
        return Err(
            AuthError::Unauthorized("the sshpop certificate was not signed by this CA's host key".into()).into(),
        );
    }
    let serial = old.serial().to_string();
    if ca.ssh_store.ssh_revocation(&serial).map_err(ApiError::from)?.is_some() {
        return Err(AuthError::Unauthorized(format!("SSH certificate {serial} is revoked")).into());
    }
    let (after, before) = (old.valid_after() as i64, old.valid_before() as i64);
    // A rekey proves possession with a certificate that is still valid; a renewal follows the renewal claims.
    if endpoint == "ssh/rekey" && !(after <= now && now < before) {
        return Err(AuthError::Unauthorized("the sshpop certificate is not valid now".into()).into());
    }
    authorize::check_renewal(Some(&auth.entry), &config, after, before, now)?;
    authorize::use_token(ca.store.as_ref(), &auth)?;
    let subject = match (endpoint, &req.public_key) {
        ("ssh/rekey", Some(k)) => decode_key(k, "publicKey")?,
        ("ssh/rekey", None) => return Err(ApiError::new(400, "missing publicKey")),
        _ => old.public_key().clone(),
    };
    let backdate = authorize::BACKDATE.whole_seconds();
    let window = ((now - backdate) as u64, (now - backdate + (before - after)) as u64);
    let mut spec = CertSpec::new(
        CertType::Host,
        old.key_id(),
        old.valid_principals().to_vec(),
        window,
        crate::cmd::ssh::random_serial(),
    );
    spec.critical_options = old
        .critical_options()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    spec.extensions = old.extensions().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let c = cert::sign(&spec, &subject, &random_nonce()?, ca_key).map_err(|e| ApiError::new(400, e.to_string()))?;
    record(ca, None, &c, &auth.provisioner)?;
    tracing::info!(old = %serial, serial = c.serial(), endpoint, "ssh host certificate");
    Ok(json!({"crt": wire(&c)?}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RevokeRequest {
    serial: String,
    ott: String,
    #[serde(default)]
    reason_code: i64,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    #[allow(dead_code)]
    passive: bool,
}

/// `POST /ssh/revoke`: `{serial, ott, reasonCode, reason, passive}` -> `{"status": "ok"}`. The certificate is then
/// listed in `/ssh/krl` (and refused renewal).
async fn revoke(State(ca): State<Arc<Ca>>, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let req: RevokeRequest = json_body(body)?;
    blocking(move || {
        let serial: u64 = req
            .serial
            .trim()
            .parse()
            .map_err(|_| ApiError::new(400, format!("serial {:?} is not a decimal SSH serial", req.serial)))?;
        if !ca.store.is_persistent() {
            return Err(ApiError::new(
                501,
                "revocation needs a database: this CA's ca.json has no \"db\", so a revocation would not survive a restart",
            ));
        }
        let now = now();
        let config = ca.config();
        let auth = authorize::authorize_token(&req.ott, &config, "ssh/revoke", now, ca.replay_floor())?;
        if auth.sub.trim() != serial.to_string() {
            return Err(AuthError::Unauthorized(format!("the token's sub {:?} is not serial {serial}", auth.sub)).into());
        }
        authorize::use_token(ca.store.as_ref(), &auth)?;
        ca.ssh_store
            .revoke_ssh(&Revocation {
                serial: serial.to_string(),
                reason_code: req.reason_code.clamp(0, 10) as u8,
                reason: req.reason.clone(),
                revoked_at: now,
            })
            .map_err(|e| match e {
                StoreError::AlreadyRevoked(_) => ApiError::new(400, format!("SSH certificate {serial} is already revoked")),
                other => ApiError::new(500, other.to_string()),
            })?;
        tracing::info!(serial, "ssh certificate revoked");
        Ok(())
    })
    .await?;
    Ok(axum::Json(json!({"status": "ok"})).into_response())
}

/// The KRL of every revoked SSH certificate, a section per CA key (serials are looked up in the store to know
/// which CA signed them; one not in the store is listed under both keys).
pub fn krl_bytes(ca: &Ca) -> Result<Vec<u8>, ApiError> {
    let internal = |e: StoreError| ApiError::new(500, e.to_string());
    let revoked = ca.ssh_store.ssh_revocations().map_err(ApiError::from)?;
    let (mut user, mut host) = (Vec::new(), Vec::new());
    for r in &revoked {
        let Ok(serial) = r.serial.parse::<u64>() else { continue };
        match ca
            .ssh_store
            .ssh_certificate(&r.serial)
            .map_err(internal)?
            .map(|c| c.cert_type)
        {
            Some(t) if t == "host" => host.push(serial),
            Some(_) => user.push(serial),
            None => {
                user.push(serial);
                host.push(serial);
            }
        }
    }
    let mut sections = Vec::new();
    if let Some(u) = &ca.ssh_user {
        sections.push((u.public(), user));
    }
    if let Some(h) = &ca.ssh_host {
        sections.push((h.public(), host));
    }
    crate::ssh::krl::build(revoked.len() as u64, now() as u64, "ferrica", &sections)
        .map_err(|e| ApiError::new(500, e.to_string()))
}

/// `GET /ssh/krl`: the KRL, as `application/octet-stream`.
async fn krl(State(ca): State<Arc<Ca>>) -> Result<Response, ApiError> {
    if ca.ssh_user.is_none() && ca.ssh_host.is_none() {
        return Err(ApiError::new(404, "the CA has no SSH keys"));
    }
    let bytes = blocking(move || krl_bytes(&ca)).await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response())
}

/// The principals of the host certificates that are still valid and not revoked, sorted, once each.
fn valid_hosts(ca: &Ca) -> Result<Vec<String>, ApiError> {
    let now = now() as u64;
    let internal = |e: StoreError| ApiError::new(500, e.to_string());
    let revoked: Vec<String> = ca
        .ssh_store
        .ssh_revocations()
        .map_err(internal)?
        .into_iter()
        .map(|r| r.serial)
        .collect();
    let mut names: Vec<String> = ca
        .ssh_store
        .ssh_certificates()
        .map_err(internal)?
        .into_iter()
        .filter(|c| c.cert_type == "host" && c.valid_before > now && !revoked.contains(&c.serial))
        .flat_map(|c| c.principals)
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// `GET /ssh/hosts`: the hosts the CA has certified and whose certificates are still valid (step-ca's
/// `{"hosts": [{"hostname": ...}]}`).
async fn hosts(State(ca): State<Arc<Ca>>) -> Result<Response, ApiError> {
    let list = blocking(move || valid_hosts(&ca)).await?;
    let hosts: Vec<Value> = list
        .into_iter()
        .map(|h| json!({"hostname": h, "hostID": "", "hostTags": []}))
        .collect();
    Ok(axum::Json(json!({"hosts": hosts})).into_response())
}

#[derive(Deserialize, Default)]
struct ConfigRequest {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    data: std::collections::BTreeMap<String, String>,
}

/// One rendered template, as step-ca answers `/ssh/config`: `content` is base64.
fn template(name: &str, kind: &str, path: &str, content: &[u8]) -> Value {
    json!({"name": name, "type": kind, "comment": "#", "path": path, "content": B64.encode(content)})
}

/// `POST /ssh/config`: `{type: "user"|"host", data}` -> `{userTemplates}` or `{hostTemplates}`: the files a user's
/// ssh or a host's sshd needs to trust this CA (known_hosts `@cert-authority` and an ssh_config include; the
/// sshd_config lines, the user CA key and the KRL). `data` fills `StepPath`, `Certificate` and `Key`.
async fn config(State(ca): State<Arc<Ca>>, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let req: ConfigRequest = json_body(body)?;
    config_answer(ca, req).await
}

/// `POST /ssh/config/{type}` (step-ca's other spelling).
async fn config_typed(
    State(ca): State<Arc<Ca>>,
    axum::extract::Path(kind): axum::extract::Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let mut req: ConfigRequest = json_body(body).unwrap_or_default();
    req.kind = kind;
    config_answer(ca, req).await
}

async fn config_answer(ca: Arc<Ca>, req: ConfigRequest) -> Result<Response, ApiError> {
    let get = |k: &str, dflt: &str| {
        req.data
            .get(k)
            .cloned()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| dflt.to_string())
    };
    let safe = |v: &str| !v.contains(['\n', '\r', '"']);
    let (step_path, crt, key) = (
        get("StepPath", "~/.step"),
        get("Certificate", "ssh_host_ecdsa_key-cert.pub"),
        get("Key", "ssh_host_ecdsa_key"),
    );
    if ![&step_path, &crt, &key].iter().all(|v| safe(v)) {
        return Err(ApiError::new(400, "template data may not contain newlines or quotes"));
    }
    match req.kind.as_str() {
        "" | "user" => {
            let host = ca
                .ssh_host
                .as_ref()
                .ok_or_else(|| ApiError::new(404, "the CA has no SSH host key"))?;
            let include = format!("Host *\n\tInclude \"{step_path}/ssh/config\"\n");
            let step_config = format!("Match all\n\tUserKnownHostsFile \"{step_path}/ssh/known_hosts\"\n");
            let known = format!("@cert-authority * {}\n", host.public_line(""));
            Ok(axum::Json(json!({"userTemplates": [
                template("config.tpl", "snippet", "~/.ssh/config", include.as_bytes()),
                template("step_config.tpl", "file", &format!("{step_path}/ssh/config"), step_config.as_bytes()),
                template("known_hosts.tpl", "file", &format!("{step_path}/ssh/known_hosts"), known.as_bytes()),
            ]}))
            .into_response())
        }
        "host" => {
            let user = ca
                .ssh_user
                .as_ref()
                .ok_or_else(|| ApiError::new(404, "the CA has no SSH user key"))?;
            let sshd = format!(
                "Match all\n\tTrustedUserCAKeys /etc/ssh/ca.pub\n\tHostCertificate /etc/ssh/{crt}\n\tHostKey /etc/ssh/{key}\n\tRevokedKeys /etc/ssh/revoked.krl\n"
            );
            let ca_line = format!("{}\n", user.public_line(""));
            let ca2 = ca.clone();
            let krl = blocking(move || krl_bytes(&ca2)).await?;
            Ok(axum::Json(json!({"hostTemplates": [
                template("sshd_config.tpl", "snippet", "/etc/ssh/sshd_config", sshd.as_bytes()),
                template("ca.tpl", "file", "/etc/ssh/ca.pub", ca_line.as_bytes()),
                template("revoked.krl", "file", "/etc/ssh/revoked.krl", &krl),
            ]}))
            .into_response())
        }
        other => Err(ApiError::new(400, format!("unsupported type {other:?}"))),
    }
}

#[derive(Deserialize)]
struct CheckHostRequest {
    #[serde(rename = "type")]
    kind: String,
    principal: String,
}

/// `POST /ssh/check-host`: `{type: "host", principal}` -> `{exists}`: whether a valid host certificate, not
/// revoked, names it (the hosts `/ssh/hosts` lists).
async fn check_host(State(ca): State<Arc<Ca>>, body: Result<Bytes, BytesRejection>) -> Result<Response, ApiError> {
    let req: CheckHostRequest = json_body(body)?;
    if req.kind != "host" {
        return Err(ApiError::new(400, format!("unsupported type {:?}", req.kind)));
    }
    if req.principal.is_empty() {
        return Err(ApiError::new(400, "missing or empty principal"));
    }
    let exists = blocking(move || Ok(valid_hosts(&ca)?.contains(&req.principal))).await?;
    Ok(axum::Json(json!({"exists": exists})).into_response())
}
