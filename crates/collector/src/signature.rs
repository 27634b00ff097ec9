//! Webhook signatures: `X-Touchpoint-Signature: t=<unix seconds>,v1=<hex>`,
//! where `<hex>` is the HMAC-SHA256 of `"{t}.{body}"` under the secret.
//!
//! The time is part of what is signed, so a receiver that refuses a `t`
//! more than a few minutes from its clock (we suggest
//! [`DEFAULT_TOLERANCE`]) cannot be fed a captured request again later; the
//! delivery id (`X-Touchpoint-Delivery`) deduplicates within the window.
//! Because `t` is the time of *sending*, every attempt is signed anew, and
//! the secret must be at hand then: an outbox row names which configured
//! secret signs it ([`SigningKey`]), never the secret itself.

use std::fmt;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::automations::config::ActionSpec;
use crate::AppState;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "X-Touchpoint-Signature";

/// How far from its clock a receiver should accept `t`.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// The header value for `body` sent at `t` (unix seconds).
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    format!("t={t},v1={}", hex(&mac(secret, t, body)))
}

fn mac(secret: &str, t: i64, body: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a receiver should refuse a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    /// Not `t=<integer>,v1=<hex>`.
    Malformed,
    /// `t` is further from the receiver's clock than the tolerance (a replay, or a clock to fix).
    OutsideTolerance { seconds_off: i64 },
    /// No `v1` matches: another secret, or a changed body or `t`.
    Mismatch,
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureError::Malformed => f.write_str("the signature header is not t=<unix seconds>,v1=<hex>"),
            SignatureError::OutsideTolerance { seconds_off } => {
                write!(f, "the signature's time is {seconds_off} s from this clock, outside the tolerance")
            }
            SignatureError::Mismatch => f.write_str("no v1 signature matches this body and secret"),
        }
    }
}

impl std::error::Error for SignatureError {}

/// What a receiver does (the recipe in the collector's README, for Rust
/// receivers and our tests): every `v1` is tried (a sender rotating secrets
/// may send several), compared in constant time.
pub fn verify(header: &str, secret: &str, body: &[u8], now: i64, tolerance: Duration) -> Result<(), SignatureError> {
    let mut t = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = Some(v.parse::<i64>().map_err(|_| SignatureError::Malformed)?),
            Some(("v1", v)) => candidates.push(v),
            _ => {}
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let seconds_off = now.saturating_sub(t);
    if seconds_off.unsigned_abs() > tolerance.as_secs() {
        return Err(SignatureError::OutsideTolerance { seconds_off });
    }
    let expected = hex(&mac(secret, t, body));
    let equal = |a: &[u8], b: &[u8]| a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0;
    if candidates.iter().any(|c| equal(c.as_bytes(), expected.as_bytes())) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Which configured secret signs a webhook, as stored with its outbox row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigningKey {
    /// The `secret` / `secret_env` of an automation rule's webhook action (by its index).
    Action { rule: String, index: usize },
    /// The project's `webhook_secret` in `--automations`.
    Project(String),
    /// An environment variable read at startup (account routing's `secret_env`).
    Env(String),
}

impl fmt::Display for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SigningKey::Action { rule, index } => write!(f, "action:{index}:{rule}"),
            SigningKey::Project(key) => write!(f, "project:{key}"),
            SigningKey::Env(var) => write!(f, "env:{var}"),
        }
    }
}

impl SigningKey {
    pub fn parse(stored: &str) -> Option<SigningKey> {
        let (kind, name) = stored.split_once(':')?;
        match kind {
            "action" => {
                let (index, rule) = name.split_once(':')?;
                Some(SigningKey::Action { rule: rule.into(), index: index.parse().ok()? })
            }
            "project" => Some(SigningKey::Project(name.into())),
            "env" => Some(SigningKey::Env(name.into())),
            _ => None,
        }
    }

    /// The secret it names in this collector's configuration. Collectors
    /// sharing a database share their configuration, so any of them can sign.
    pub fn secret(&self, state: &AppState) -> Option<String> {
        match self {
            SigningKey::Action { rule, index } => {
                let automations = state.automations.as_ref()?;
                match automations.config.rules.iter().find(|r| r.id == *rule)?.actions.get(*index)? {
                    ActionSpec::Webhook { secret, .. } => secret.clone(),
                    _ => None,
                }
            }
            SigningKey::Project(key) => state.automations.as_ref()?.config.project_secrets.get(key).cloned(),
            SigningKey::Env(var) => state.accounts.as_ref()?.env_secrets.get(var).cloned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000;

    #[test]
    fn signs_the_time_and_the_body() {
        // `printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_example`
        let header = sign("whsec_example", NOW, br#"{"a":1}"#);
        assert_eq!(header, "t=1700000000,v1=3500e4cbdbe983dfd06e403872463b7fdd63367811622e0b0ff04bf7aa1f839f");
    }

    #[test]
    fn verification_refuses_replays_tampering_and_other_secrets() {
        let body = br#"{"delivery_id":"d1"}"#;
        let header = sign("whsec_example", NOW, body);
        let check =
            |header: &str, secret: &str, body: &[u8], now: i64| verify(header, secret, body, now, DEFAULT_TOLERANCE);
        assert_eq!(check(&header, "whsec_example", body, NOW + 299), Ok(()));
        assert_eq!(check(&header, "whsec_example", body, NOW - 299), Ok(()), "a receiver's clock a little behind");
        assert_eq!(
            check(&header, "whsec_example", body, NOW + 301),
            Err(SignatureError::OutsideTolerance { seconds_off: 301 })
        );
        assert_eq!(check(&header, "whsec_other", body, NOW), Err(SignatureError::Mismatch));
        assert_eq!(check(&header, "whsec_example", b"{}", NOW), Err(SignatureError::Mismatch));
        // Moving t forward to pass the window breaks the signature.
        let moved = header.replace("t=1700000000", "t=1700000400");
        assert_eq!(check(&moved, "whsec_example", body, NOW + 400), Err(SignatureError::Mismatch));
        // Several v1 (a rotation): any one matching is enough.
        let rotated = format!("{},v1=00,{}", header.split(',').next().unwrap(), header.split(',').nth(1).unwrap());
        assert_eq!(check(&rotated, "whsec_example", body, NOW), Ok(()));
        for bad in ["", "sha256=abc", "t=x,v1=ab", "t=1700000000"] {
            assert_eq!(check(bad, "whsec_example", body, NOW), Err(SignatureError::Malformed), "{bad}");
        }
    }

    #[test]
    fn signing_keys_round_trip_and_never_hold_a_secret() {
        for key in [
            SigningKey::Action { rule: "r:1".into(), index: 2 },
            SigningKey::Project("pk_a".into()),
            SigningKey::Env("HOOK".into()),
        ] {
            assert_eq!(SigningKey::parse(&key.to_string()), Some(key));
        }
        // What older collectors stored (the signature itself) names no key.
        assert_eq!(SigningKey::parse("sha256=abcdef"), None);
    }
}
