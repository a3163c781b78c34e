//! Certificate templates: JSON with `{{ ... }}` variables, in the spirit of step's x509 templates (a documented
//! subset: no Go text/template logic). See `templates/README.md`.
//!
//! Variables (`.Subject.CommonName`, `.SANs`, `.Insecure.User.<key>` from `--set`/`--set-file`) are replaced by their
//! value: a string is inserted as is (so quote it in the template, `"{{ .Subject.CommonName }}"`), anything else as
//! JSON; `{{ toJson .X }}` always inserts JSON. The result must be a JSON object with any of: `subject` (a string CN
//! or an object), `sans`, `keyUsage`, `extKeyUsage`, `basicConstraints`, `nameConstraints`, `crlDistributionPoints`,
//! `ocspServer`, `issuingCertificateURL`, `extensions`.

use rcgen::{CustomExtension, DnType, ExtendedKeyUsagePurpose, KeyUsagePurpose};
use serde::Deserialize;
use serde_json::Value;

use super::ext::{NameConstraints, parse_cidr};
use super::issue::{IssueRequest, San, Shape};

/// A template problem.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("template: {0}")]
pub struct TemplateError(pub String);

fn err(s: impl Into<String>) -> TemplateError {
    TemplateError(s.into())
}

/// Renders the template text with `data` and parses the result.
pub fn render(text: &str, data: &Value) -> Result<Template, TemplateError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| err("a {{ has no matching }}"))?;
        let expr = after[..end].trim().trim_start_matches('-').trim_end_matches('-').trim();
        let (to_json, path) = match expr.strip_prefix("toJson") {
            Some(p) => (true, p.trim()),
            None => (false, expr),
        };
        let path = path
            .strip_prefix('.')
            .ok_or_else(|| err(format!("unsupported expression {{{{ {expr} }}}}")))?;
        let mut v = data;
        for part in path.split('.').filter(|p| !p.is_empty()) {
            v = v
                .get(part)
                .ok_or_else(|| err(format!("unknown variable .{path} (set it with --set {part}=...)")))?;
        }
        match (to_json, v) {
            (false, Value::String(s)) => out.push_str(s),
            _ => out.push_str(&serde_json::to_string(v).expect("values serialize")),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    serde_json::from_str(&out).map_err(|e| err(format!("the rendered template is not valid JSON: {e}")))
}

/// A rendered template.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Template {
    /// A common name, or an object of name attributes.
    pub subject: Option<Value>,
    /// SANs, typed automatically.
    pub sans: Option<Vec<String>>,
    /// Key usage names.
    pub key_usage: Option<Vec<String>>,
    /// Extended key usage names or OIDs.
    pub ext_key_usage: Option<Vec<String>>,
    /// `{"isCA": bool, "maxPathLen": n}` (-1 or absent: unlimited).
    pub basic_constraints: Option<BasicConstraintsT>,
    /// Name constraints, with step's member names.
    pub name_constraints: Option<NameConstraintsT>,
    /// CRL distribution point URLs.
    pub crl_distribution_points: Option<Vec<String>>,
    /// OCSP URLs.
    pub ocsp_server: Option<Vec<String>>,
    /// CA-issuers URLs.
    #[serde(rename = "issuingCertificateURL")]
    pub issuing_certificate_url: Option<Vec<String>>,
    /// Extra extensions.
    pub extensions: Option<Vec<ExtensionT>>,
}

/// basicConstraints in a template.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BasicConstraintsT {
    /// The CA flag.
    #[serde(rename = "isCA")]
    pub is_ca: bool,
    /// Path length (-1: unlimited).
    pub max_path_len: Option<i32>,
}

/// nameConstraints in a template.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct NameConstraintsT {
    #[serde(default, rename = "permittedDNSDomains")]
    pub permitted_dns_domains: Vec<String>,
    #[serde(default, rename = "excludedDNSDomains")]
    pub excluded_dns_domains: Vec<String>,
    #[serde(default, rename = "permittedIPRanges")]
    pub permitted_ip_ranges: Vec<String>,
    #[serde(default, rename = "excludedIPRanges")]
    pub excluded_ip_ranges: Vec<String>,
    #[serde(default)]
    pub permitted_email_addresses: Vec<String>,
    #[serde(default)]
    pub excluded_email_addresses: Vec<String>,
    #[serde(default, rename = "permittedURIDomains")]
    pub permitted_uri_domains: Vec<String>,
    #[serde(default, rename = "excludedURIDomains")]
    pub excluded_uri_domains: Vec<String>,
}

/// An extra extension: DER value in base64.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtensionT {
    /// Dotted OID.
    pub id: String,
    /// Criticality.
    #[serde(default)]
    pub critical: bool,
    /// The extension value (DER), standard base64.
    pub value: String,
}

impl Template {
    /// Applies the template to a request: what it names replaces the request's values.
    pub fn apply(&self, req: &mut IssueRequest) -> Result<(), TemplateError> {
        if let Some(s) = &self.subject {
            req.subject = subject(s)?;
        }
        if let Some(s) = &self.sans {
            req.sans = s.iter().map(|v| San::parse(v)).collect();
        }
        if self.key_usage.is_some() || self.ext_key_usage.is_some() || self.basic_constraints.is_some() {
            let ca = match &self.basic_constraints {
                Some(bc) if bc.is_ca => Some(match bc.max_path_len {
                    None | Some(-1) => None,
                    Some(n) => Some(u8::try_from(n).map_err(|_| err(format!("maxPathLen {n} is not -1..=255")))?),
                }),
                Some(_) => None,
                None => req.profile.is_ca().then(|| req.profile.default_path_len()),
            };
            let key_usages = match &self.key_usage {
                Some(k) => k.iter().map(|n| key_usage(n)).collect::<Result<_, _>>()?,
                None if ca.is_some() => vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign],
                None => vec![KeyUsagePurpose::DigitalSignature],
            };
            let ext_key_usages = match &self.ext_key_usage {
                Some(e) => e.iter().map(|n| ext_key_usage(n)).collect::<Result<_, _>>()?,
                None if ca.is_some() => Vec::new(),
                None => vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth],
            };
            req.shape = Some(Shape {
                ca,
                key_usages,
                ext_key_usages,
            });
        }
        if let Some(nc) = &self.name_constraints {
            let cidrs = |v: &[String]| {
                v.iter()
                    .map(|s| parse_cidr(s).map_err(err))
                    .collect::<Result<Vec<_>, _>>()
            };
            req.name_constraints = NameConstraints {
                permit_dns: nc.permitted_dns_domains.clone(),
                exclude_dns: nc.excluded_dns_domains.clone(),
                permit_ip: cidrs(&nc.permitted_ip_ranges)?,
                exclude_ip: cidrs(&nc.excluded_ip_ranges)?,
                permit_email: nc.permitted_email_addresses.clone(),
                exclude_email: nc.excluded_email_addresses.clone(),
                permit_uri: nc.permitted_uri_domains.clone(),
                exclude_uri: nc.excluded_uri_domains.clone(),
            };
        }
        if let Some(u) = &self.crl_distribution_points {
            req.crl_urls = u.clone();
        }
        if let Some(u) = &self.ocsp_server {
            req.ocsp_urls = u.clone();
        }
        if let Some(u) = &self.issuing_certificate_url {
            req.ca_issuers_urls = u.clone();
        }
        for e in self.extensions.iter().flatten() {
            let oid: Vec<u64> =
                e.id.split('.')
                    .map(|p| {
                        p.parse::<u64>()
                            .map_err(|_| err(format!("extension id {:?} is not a dotted OID", e.id)))
                    })
                    .collect::<Result<_, _>>()?;
            let value = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &e.value)
                .map_err(|_| err(format!("extension {} value is not base64", e.id)))?;
            let mut ext = CustomExtension::from_oid_content(&oid, value);
            ext.set_criticality(e.critical);
            req.extra_extensions.push(ext);
        }
        Ok(())
    }
}

fn subject(v: &Value) -> Result<Vec<(DnType, String)>, TemplateError> {
    match v {
        Value::String(cn) if cn.is_empty() => Ok(Vec::new()),
        Value::String(cn) => Ok(vec![(DnType::CommonName, cn.clone())]),
        Value::Object(m) => {
            let mut out = Vec::new();
            // A fixed, conventional order: C, ST, L, O, OU, CN.
            for (key, ty) in [
                ("country", DnType::CountryName),
                ("province", DnType::StateOrProvinceName),
                ("locality", DnType::LocalityName),
                ("organization", DnType::OrganizationName),
                ("organizationalUnit", DnType::OrganizationalUnitName),
                ("commonName", DnType::CommonName),
            ] {
                match m.get(key) {
                    None | Some(Value::Null) => {}
                    Some(Value::String(s)) if s.is_empty() => {}
                    Some(Value::String(s)) => out.push((ty, s.clone())),
                    Some(Value::Array(a)) => {
                        for s in a {
                            out.push((
                                ty.clone(),
                                s.as_str().ok_or_else(|| err(format!("subject.{key}: strings")))?.into(),
                            ));
                        }
                    }
                    Some(_) => return Err(err(format!("subject.{key} must be a string or a list of strings"))),
                }
            }
            if let Some(k) = m.keys().find(|k| {
                ![
                    "country",
                    "province",
                    "locality",
                    "organization",
                    "organizationalUnit",
                    "commonName",
                ]
                .contains(&k.as_str())
            }) {
                return Err(err(format!("unknown subject attribute {k:?}")));
            }
            Ok(out)
        }
        _ => Err(err("subject must be a string or an object")),
    }
}

fn key_usage(n: &str) -> Result<KeyUsagePurpose, TemplateError> {
    Ok(match n {
        "digitalSignature" => KeyUsagePurpose::DigitalSignature,
        "contentCommitment" | "nonRepudiation" => KeyUsagePurpose::ContentCommitment,
        "keyEncipherment" => KeyUsagePurpose::KeyEncipherment,
        "dataEncipherment" => KeyUsagePurpose::DataEncipherment,
        "keyAgreement" => KeyUsagePurpose::KeyAgreement,
        "certSign" | "keyCertSign" => KeyUsagePurpose::KeyCertSign,
        "crlSign" | "cRLSign" => KeyUsagePurpose::CrlSign,
        "encipherOnly" => KeyUsagePurpose::EncipherOnly,
        "decipherOnly" => KeyUsagePurpose::DecipherOnly,
        other => return Err(err(format!("unknown keyUsage {other:?}"))),
    })
}

fn ext_key_usage(n: &str) -> Result<ExtendedKeyUsagePurpose, TemplateError> {
    Ok(match n {
        "serverAuth" => ExtendedKeyUsagePurpose::ServerAuth,
        "clientAuth" => ExtendedKeyUsagePurpose::ClientAuth,
        "codeSigning" => ExtendedKeyUsagePurpose::CodeSigning,
        "emailProtection" => ExtendedKeyUsagePurpose::EmailProtection,
        "timeStamping" => ExtendedKeyUsagePurpose::TimeStamping,
        "ocspSigning" | "OCSPSigning" => ExtendedKeyUsagePurpose::OcspSigning,
        "any" => ExtendedKeyUsagePurpose::Any,
        oid if oid.contains('.') => ExtendedKeyUsagePurpose::Other(
            oid.split('.')
                .map(|p| p.parse().map_err(|_| err(format!("bad EKU OID {oid:?}"))))
                .collect::<Result<_, _>>()?,
        ),
        other => return Err(err(format!("unknown extKeyUsage {other:?}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_variables() {
        let data = json!({"Subject": {"CommonName": "svc"}, "SANs": ["a.test"], "Insecure": {"User": {"team": "ops"}}});
        let t = render(
            r#"{"subject": {"commonName": "{{ .Subject.CommonName }}", "organizationalUnit": "{{ .Insecure.User.team }}"},
                "sans": {{ toJson .SANs }}, "keyUsage": ["digitalSignature"]}"#,
            &data,
        )
        .unwrap();
        assert_eq!(t.sans.unwrap(), vec!["a.test"]);
        assert!(
            render(r#"{"subject": "{{ .Insecure.User.nope }}"}"#, &data)
                .unwrap_err()
                .0
                .contains("unknown variable")
        );
        assert!(render(r#"{"subjekt": "x"}"#, &data).is_err());
    }
}
