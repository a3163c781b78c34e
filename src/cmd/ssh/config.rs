//! `ferrica ssh config`, `ssh needs-renewal`, `ssh hosts` and `ssh check-host`.

use std::path::PathBuf;

use anyhow::Result;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use ssh_encoding::Decode as _;

use crate::cli::ssh::{SshCaArgs, SshCheckHostArgs, SshConfigArgs, SshHostsArgs, SshNeedsRenewalArgs};
use crate::error::UserError;
use crate::ssh::cert;

fn connect(a: &SshCaArgs) -> Result<crate::io::http::CaClient> {
    Ok(super::connect(a)?.0)
}

/// `~/...` under $HOME.
fn expand(path: &str) -> Result<PathBuf> {
    match path.strip_prefix("~/") {
        Some(rest) => {
            let home = std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .ok_or_else(|| UserError::usage(format!("{path}: HOME is not set")))?;
            Ok(PathBuf::from(home).join(rest))
        }
        None => Ok(PathBuf::from(path)),
    }
}

/// Replaces (or appends) the block between ferrica's markers for `name` in `existing`.
fn with_snippet(existing: &str, name: &str, comment: &str, content: &str) -> String {
    let begin = format!("{comment} ferrica {name} begin");
    let end = format!("{comment} ferrica {name} end");
    let block = format!(
        "{begin}\n{}{}{end}\n",
        content,
        if content.ends_with('\n') { "" } else { "\n" }
    );
    match (existing.find(&begin), existing.find(&end)) {
        (Some(b), Some(e)) if e > b => {
            let after = existing[e + end.len()..].trim_start_matches('\n');
            format!("{}{block}{after}", &existing[..b])
        }
        _ if existing.is_empty() => block,
        _ => format!(
            "{}{}{block}",
            existing,
            if existing.ends_with('\n') { "" } else { "\n" }
        ),
    }
}

/// Runs `ssh config`.
pub fn run_config(a: SshConfigArgs) -> Result<u8> {
    let ca = connect(&a.ca)?;
    if a.roots {
        let roots = ca.get("/1.0/ssh/roots")?.json("GET /ssh/roots")?;
        let field = if a.host { "userKey" } else { "hostKey" };
        let mut out = String::new();
        for k in roots
            .get(field)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            let bytes = B64
                .decode(k)
                .map_err(|_| UserError::input("the CA sent a key that is not base64"))?;
            let key = ssh_key::public::KeyData::decode(&mut bytes.as_slice())
                .map_err(|e| UserError::input(format!("the CA sent a bad key: {e}")))?;
            out += &format!("{}\n", cert::public_line(&key, ""));
        }
        crate::cmd::print_stdout(out.as_bytes())?;
        return Ok(0);
    }
    let mut data = serde_json::Map::new();
    data.insert(
        "StepPath".into(),
        json!(crate::cmd::ca::ferrica_path()?.display().to_string()),
    );
    for kv in &a.set {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| UserError::usage(format!("--set {kv:?} is not KEY=VALUE")))?;
        data.insert(k.to_string(), json!(v));
    }
    let kind = if a.host { "host" } else { "user" };
    let answer = ca
        .post("/1.0/ssh/config", &json!({"type": kind, "data": data}), None)?
        .json("POST /ssh/config")?;
    let list = answer
        .get(if a.host { "hostTemplates" } else { "userTemplates" })
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut shown = String::new();
    for t in &list {
        let field = |k: &str| t.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        let (name, kind, path, comment) = (field("name"), field("type"), field("path"), field("comment"));
        let content = B64
            .decode(field("content"))
            .map_err(|_| UserError::input(format!("template {name}: content is not base64")))?;
        let target = expand(&path)?;
        if a.dry_run {
            match String::from_utf8(content.clone()) {
                Ok(text) => shown += &format!("{comment} {}\n{text}\n", target.display()),
                Err(_) => shown += &format!("{comment} {} ({} bytes)\n\n", target.display(), content.len()),
            }
            continue;
        }
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir).map_err(|e| UserError::input(format!("creating {}: {e}", dir.display())))?;
        }
        let data = if kind == "snippet" {
            let existing = std::fs::read_to_string(&target).unwrap_or_default();
            with_snippet(&existing, &name, &comment, &String::from_utf8_lossy(&content)).into_bytes()
        } else {
            content
        };
        // These are configuration the command exists to (re)write: replaced in place, atomically.
        let mut out = crate::io::output::OutputSet::new(true);
        out.stage(&target, &data, crate::io::output::PUBLIC_MODE)?;
        out.commit()?;
        eprintln!("✔ {}", target.display());
    }
    if a.dry_run {
        crate::cmd::print_stdout(shown.as_bytes())?;
    }
    Ok(0)
}

/// Runs `ssh needs-renewal`: exit 0 when it does, 1 when not.
pub fn run_needs_renewal(a: SshNeedsRenewalArgs) -> Result<u8> {
    let text = crate::io::input::read_input(&a.crt_file, "the certificate")?;
    let c = cert::parse_certificate(&String::from_utf8_lossy(&text))
        .map_err(|e| UserError::input(format!("{}: {e}", a.crt_file)))?;
    let at = |t: u64| {
        time::OffsetDateTime::from_unix_timestamp(t.min(253_402_300_799) as i64)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    };
    let needs = crate::pki::validity::needs_renewal(
        at(c.valid_after()),
        at(c.valid_before()),
        time::OffsetDateTime::now_utc(),
        a.expires_in.as_deref(),
    )
    .map_err(UserError::usage)?;
    Ok(if needs { 0 } else { 1 })
}

/// Runs `ssh hosts`.
pub fn run_hosts(a: SshHostsArgs) -> Result<u8> {
    let ca = connect(&a.ca)?;
    let answer = ca.get("/1.0/ssh/hosts")?.json("GET /ssh/hosts")?;
    let out = if a.format == "json" {
        serde_json::to_string_pretty(&answer)? + "\n"
    } else {
        answer
            .get("hosts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|h| h.get("hostname").and_then(Value::as_str))
            .map(|h| format!("{h}\n"))
            .collect()
    };
    crate::cmd::print_stdout(out.as_bytes())?;
    Ok(0)
}

/// Runs `ssh check-host`: exit 0 when the CA knows the host, 1 when not.
pub fn run_check_host(a: SshCheckHostArgs) -> Result<u8> {
    let ca = connect(&a.ca)?;
    let answer = ca
        .post(
            "/1.0/ssh/check-host",
            &json!({"type": "host", "principal": a.hostname}),
            None,
        )?
        .json("POST /ssh/check-host")?;
    let exists = answer.get("exists").and_then(Value::as_bool).unwrap_or(false);
    crate::cmd::print_stdout(format!("{exists}\n").as_bytes())?;
    Ok(if exists { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::with_snippet;

    #[test]
    fn a_snippet_is_appended_once_and_replaced_in_place() {
        let once = with_snippet("Host old\n", "config.tpl", "#", "Host *\n\tInclude x\n");
        assert_eq!(
            once,
            "Host old\n# ferrica config.tpl begin\nHost *\n\tInclude x\n# ferrica config.tpl end\n"
        );
        let twice = with_snippet(
            &(once.clone() + "Host after\n"),
            "config.tpl",
            "#",
            "Host *\n\tInclude y\n",
        );
        assert_eq!(
            twice,
            "Host old\n# ferrica config.tpl begin\nHost *\n\tInclude y\n# ferrica config.tpl end\nHost after\n"
        );
    }
}
