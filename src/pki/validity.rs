//! `--not-before` / `--not-after` values: an RFC 3339 time, or a duration relative to `now`.
//!
//! Durations follow Go's `time.ParseDuration` as step does (`300ms`, `-1.5h`, `2h45m`; units ns, us, µs, ms, s, m,
//! h), plus `d` for days, which step lacks (`90d`). A leading `+` is allowed.

use time::{Duration, OffsetDateTime, format_description::well_known::Rfc3339};

/// A bad time or duration value.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("{value:?} is neither an RFC 3339 time (2026-01-02T15:04:05Z) nor a duration (8760h, 30m, 90d): {reason}")]
pub struct ValidityError {
    /// The value as given.
    pub value: String,
    /// What was wrong.
    pub reason: String,
}

/// Parses a time or a duration relative to `now`.
pub fn parse_time_or_duration(value: &str, now: OffsetDateTime) -> Result<OffsetDateTime, ValidityError> {
    let v = value.trim();
    if v.contains('T') || v.contains(':') {
        return OffsetDateTime::parse(v, &Rfc3339).map_err(|e| ValidityError {
            value: value.into(),
            reason: e.to_string(),
        });
    }
    let d = parse_duration(v).map_err(|reason| ValidityError {
        value: value.into(),
        reason,
    })?;
    now.checked_add(d).ok_or_else(|| ValidityError {
        value: value.into(),
        reason: "out of range".into(),
    })
}

/// Parses a Go-style duration with an optional `d` unit.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest.is_empty() {
        return Err("empty duration".into());
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total_ns: i128 = 0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(format!("expected a number at {rest:?}"));
        }
        let num: f64 = rest[..num_len]
            .parse()
            .map_err(|_| format!("bad number {:?}", &rest[..num_len]))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let ns_per: f64 = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "d" => 86400e9,
            "" => return Err("missing unit (use ns, us, ms, s, m, h or d)".into()),
            other => {
                return Err(format!("unknown unit {other:?} (use ns, us, ms, s, m, h or d)"));
            }
        };
        let ns = num * ns_per;
        if !ns.is_finite() || ns > 1e20 {
            return Err("duration too large".into());
        }
        total_ns += ns as i128;
    }
    let total_ns = if neg { -total_ns } else { total_ns };
    let nanos = i64::try_from(total_ns).map_err(|_| "duration too large".to_string())?;
    Ok(Duration::nanoseconds(nanos))
}

/// Whether a certificate valid from `not_before` to `not_after` needs renewal at `now`: with no `expires_in`, once
/// two thirds of its lifetime have passed; with `75%` when less than that share of the lifetime is left; with a
/// duration (`8h`) when less than that is left. The error names what is wrong with `expires_in`.
pub fn needs_renewal(
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    now: OffsetDateTime,
    expires_in: Option<&str>,
) -> Result<bool, String> {
    let life = not_after - not_before;
    let left = not_after - now;
    match expires_in {
        None => Ok(now - not_before > life * 2 / 3),
        Some(p) if p.ends_with('%') => {
            let pct: f64 = p
                .trim_end_matches('%')
                .parse()
                .map_err(|_| format!("--expires-in {p}: bad percentage"))?;
            if !(0.0..=100.0).contains(&pct) {
                return Err(format!("--expires-in {p}: the percentage must be 0..100"));
            }
            Ok(left < Duration::seconds_f64(life.as_seconds_f64() * pct / 100.0))
        }
        Some(d) => Ok(left < parse_duration(d).map_err(|e| format!("--expires-in {d}: {e}"))?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("8760h").unwrap(), Duration::hours(8760));
        assert_eq!(parse_duration("30m").unwrap(), Duration::minutes(30));
        assert_eq!(parse_duration("90d").unwrap(), Duration::days(90));
        assert_eq!(parse_duration("2h45m").unwrap(), Duration::minutes(165));
        assert_eq!(parse_duration("-1.5h").unwrap(), Duration::minutes(-90));
        assert_eq!(parse_duration("300ms").unwrap(), Duration::milliseconds(300));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("5y").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn times() {
        let now = datetime!(2026-01-01 00:00 UTC);
        assert_eq!(
            parse_time_or_duration("24h", now).unwrap(),
            datetime!(2026-01-02 00:00 UTC)
        );
        assert_eq!(
            parse_time_or_duration("2030-05-06T07:08:09Z", now).unwrap(),
            datetime!(2030-05-06 07:08:09 UTC)
        );
        assert!(parse_time_or_duration("2030-05-06", now).is_err());
    }
}
