//! ACME rate limits, per provisioner (`"limits"` in its ca.json entry), applied per client address: new accounts
//! per address per hour, requests per second per address (a token bucket with a burst of twice the rate), pending
//! orders per account. Time is passed in (seconds, fractional for the bucket); the server keeps the state.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use serde_json::{Map, Value};

use super::problem::Problem;

/// The limits of one provisioner.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// New accounts one address may create per hour (0: no limit).
    pub new_accounts_per_ip_per_hour: u32,
    /// Requests per second one address may send, sustained (0: no limit).
    pub requests_per_second_per_ip: f64,
    /// Orders an account may have pending at once.
    pub pending_orders_per_account: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            new_accounts_per_ip_per_hour: 100,
            requests_per_second_per_ip: 0.0,
            pending_orders_per_account: 300,
        }
    }
}

impl Limits {
    /// The provisioner's `limits` member (`newAccountsPerIPPerHour`, `requestsPerSecondPerIP`,
    /// `pendingOrdersPerAccount`), over the defaults.
    pub fn of(provisioner: &Map<String, Value>) -> Limits {
        let mut l = Limits::default();
        if let Some(m) = provisioner.get("limits").and_then(Value::as_object) {
            if let Some(n) = m.get("newAccountsPerIPPerHour").and_then(Value::as_u64) {
                l.new_accounts_per_ip_per_hour = n.min(u64::from(u32::MAX)) as u32;
            }
            if let Some(n) = m.get("requestsPerSecondPerIP").and_then(Value::as_f64) {
                l.requests_per_second_per_ip = n.max(0.0);
            }
            if let Some(n) = m.get("pendingOrdersPerAccount").and_then(Value::as_u64) {
                l.pending_orders_per_account = n as usize;
            }
        }
        l
    }
}

fn limited(detail: String, retry_after: u64) -> Problem {
    let mut p = Problem::new("rateLimited", 429, detail);
    p.retry_after = Some(retry_after.max(1));
    p
}

/// The state behind the per-address limits of every provisioner.
#[derive(Debug, Default)]
pub struct Limiter {
    accounts: HashMap<(String, IpAddr), VecDeque<i64>>,
    buckets: HashMap<(String, IpAddr), (f64, f64)>,
}

impl Limiter {
    /// One request from `ip` at `now` (seconds): refused when the address has used its bucket.
    pub fn request(&mut self, provisioner: &str, ip: IpAddr, limits: &Limits, now: f64) -> Result<(), Problem> {
        let rate = limits.requests_per_second_per_ip;
        if rate <= 0.0 {
            return Ok(());
        }
        let burst = (rate * 2.0).max(1.0);
        let (tokens, at) = self
            .buckets
            .entry((provisioner.to_string(), ip))
            .or_insert((burst, now));
        *tokens = (*tokens + (now - *at).max(0.0) * rate).min(burst);
        *at = now;
        if *tokens < 1.0 {
            let wait = ((1.0 - *tokens) / rate).ceil() as u64;
            return Err(limited(format!("more than {rate} requests per second from {ip}"), wait));
        }
        *tokens -= 1.0;
        Ok(())
    }

    /// A new account from `ip` at `now` (unix seconds): refused past the hourly cap.
    pub fn new_account(&mut self, provisioner: &str, ip: IpAddr, limits: &Limits, now: i64) -> Result<(), Problem> {
        let cap = limits.new_accounts_per_ip_per_hour as usize;
        if cap == 0 {
            return Ok(());
        }
        let q = self.accounts.entry((provisioner.to_string(), ip)).or_default();
        while q.front().is_some_and(|t| *t <= now - 3600) {
            q.pop_front();
        }
        if q.len() >= cap {
            let wait = q.front().map_or(3600, |t| (t + 3600 - now).max(1) as u64);
            return Err(limited(format!("{ip} created {cap} accounts in the last hour"), wait));
        }
        q.push_back(now);
        Ok(())
    }

    /// Forgets addresses with nothing left to remember (call now and then, so that the maps stay small).
    pub fn prune(&mut self, now: i64) {
        self.accounts.retain(|_, q| q.back().is_some_and(|t| *t > now - 3600));
        self.buckets.retain(|_, (_, at)| *at > now as f64 - 60.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_refuse_past_the_cap_and_recover() {
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let l = Limits::of(
            serde_json::json!({"limits": {"newAccountsPerIPPerHour": 2, "requestsPerSecondPerIP": 1}})
                .as_object()
                .unwrap(),
        );
        assert_eq!(l.pending_orders_per_account, 300);
        let mut m = Limiter::default();
        m.new_account("p", ip, &l, 1000).unwrap();
        m.new_account("p", ip, &l, 1001).unwrap();
        let p = m.new_account("p", ip, &l, 1002).unwrap_err();
        assert!(p.kind.ends_with("rateLimited") && p.status == 429);
        assert_eq!(p.retry_after, Some(3598));
        m.new_account("p", other, &l, 1002).unwrap();
        m.new_account("q", ip, &l, 1002).unwrap();
        m.new_account("p", ip, &l, 4601).unwrap();
        // A burst of two, then one per second.
        m.request("p", ip, &l, 0.0).unwrap();
        m.request("p", ip, &l, 0.1).unwrap();
        assert!(m.request("p", ip, &l, 0.2).is_err());
        m.request("p", ip, &l, 1.3).unwrap();
        // Off by default.
        let d = Limits::default();
        for i in 0..1000 {
            m.request("p", ip, &d, f64::from(i) / 1e6).unwrap();
        }
        m.prune(1_000_000);
        assert!(m.accounts.is_empty() && m.buckets.is_empty());
    }
}
