//! Projects: who may send events, from where, how fast, and who may read them.
//!
//! A project has a **public key** (`pk_…`, put in the page, sent in the body
//! of `POST /v1/events`) and a **secret key** (`sk_…`, for the read APIs,
//! sent as `Authorization: Bearer <secret_key>`). The list comes from the JSON
//! file named by `--projects`:
//!
//! ```json
//! [{"public_key": "pk_live_1", "secret_key": "sk_live_1",
//!   "allowed_origins": ["https://app.example.com", "http://127.0.0.1:*"],
//!   "rate_limit": {"events_per_second": 1000, "burst": 10000},
//!   "identity_secret": "a long random string only the host's backend knows",
//!   "retention_days": 365}]
//! ```
//!
//! **Retention.** With `retention_days`, events received longer ago than
//! that are deleted by the retention worker ([`crate::retention`]); without
//! it they are kept.
//!
//! **Identity verification.** With an `identity_secret`, a user id is only
//! believed when it comes with its `user_hash`: the lowercase hex
//! HMAC-SHA256 of the user id under that secret, which the host's backend
//! computes and puts in the page (`identify(id, traits, { userHash })`).
//! Events carrying a `user_id` without the right hash are rejected, and the
//! widget's per-user reads (checklist progress, targeting facts) refuse it,
//! so nobody can write as, or read about, a user by guessing their id.
//!
//! Loading is all or nothing and reports every problem at once, each naming
//! its field (`[1].secret_key: …`): a collector that skipped a bad project
//! would silently refuse that customer's events.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Deserialize;
use touchpoint_core::events::EventSchema;
use touchpoint_protocol::MAX_BATCH_EVENTS;

use crate::rate_limit::TokenBucket;
pub use crate::rate_limit::{ClientLimits, RateLimit};

/// Public key of the project used when no `--projects` file is given.
pub const DEMO_PUBLIC_KEY: &str = "pk_demo";
/// Secret key of the demo project. Only for local development: it is in the source.
pub const DEMO_SECRET_KEY: &str = "sk_demo";

/// One project, as configured.
#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    pub public_key: String,
    pub secret_key: String,
    pub allowed_origins: Vec<OriginPattern>,
    pub rate_limit: RateLimit,
    /// Set: user ids must come with their HMAC (see the module docs).
    pub identity_secret: Option<String>,
    /// Declared `track()` events (see `touchpoint_core::events`): declared
    /// ones are type-checked at ingest; in strict mode undeclared ones are refused.
    pub events: Option<EventSchema>,
    /// What one client (address and this key) may spend (see [`crate::limits`]).
    pub client_limits: ClientLimits,
    /// Events are deleted this many days after they were received; `None`: kept.
    pub retention_days: Option<u32>,
}

/// Why a user id was not believed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityError {
    MissingHash,
    WrongHash,
}

impl fmt::Display for IdentityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdentityError::MissingHash => {
                "this project verifies identities: a user_id needs its user_hash (hex HMAC-SHA256 of the user id \
                 under the project's identity secret), given as identify(userId, traits, { userHash })"
            }
            IdentityError::WrongHash => {
                "user_hash is not the HMAC-SHA256 of this user_id under the project's identity secret; the identity \
                 was not believed"
            }
        })
    }
}

/// Where a browser may send a project's events from, compared with the
/// request's `Origin` header. Stored normalized: lowercase, default port
/// (80 for http, 443 for https) removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginPattern {
    /// `*`: any origin, including `null` (sandboxed frames, `file:` pages).
    Any,
    /// `https://app.example.com`, `http://127.0.0.1:8080`.
    Exact(String),
    /// `http://127.0.0.1:*`: that scheme and host on any port (or none).
    AnyPort { scheme: String, host: String },
}

impl OriginPattern {
    pub fn parse(pattern: &str) -> Result<OriginPattern, String> {
        if pattern == "*" {
            return Ok(OriginPattern::Any);
        }
        let origin = Origin::parse(pattern)?;
        match origin.port {
            Port::Any => Ok(OriginPattern::AnyPort { scheme: origin.scheme, host: origin.host }),
            Port::Default | Port::Number(_) => Ok(OriginPattern::Exact(origin.to_string())),
        }
    }

    /// Does the value of an `Origin` header match? Unparseable origins
    /// (`null`, garbage) only match `*`.
    pub fn matches(&self, origin: &str) -> bool {
        let parsed = || Origin::parse(origin).ok().filter(|o| o.port != Port::Any);
        match self {
            OriginPattern::Any => true,
            OriginPattern::Exact(exact) => parsed().is_some_and(|o| o.to_string() == *exact),
            OriginPattern::AnyPort { scheme, host } => parsed().is_some_and(|o| o.scheme == *scheme && o.host == *host),
        }
    }
}

impl fmt::Display for OriginPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OriginPattern::Any => f.write_str("*"),
            OriginPattern::Exact(origin) => f.write_str(origin),
            OriginPattern::AnyPort { scheme, host } => write!(f, "{scheme}://{host}:*"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Port {
    Default,
    Number(u16),
    Any,
}

/// `scheme://host[:port]`, the serialization of a web origin (RFC 6454).
#[derive(Debug)]
struct Origin {
    scheme: String,
    host: String,
    port: Port,
}

impl Origin {
    fn parse(text: &str) -> Result<Origin, String> {
        let lower = text.to_ascii_lowercase();
        let (scheme, rest) =
            lower.split_once("://").ok_or("expected scheme://host[:port], e.g. https://app.example.com")?;
        let default_port = match scheme {
            "http" => 80,
            "https" => 443,
            _ => return Err(format!("the scheme must be http or https, not {scheme:?}")),
        };
        if let Some(c) = rest.chars().find(|c| matches!(c, '/' | '?' | '#' | '@')) {
            return Err(format!("an origin is only scheme://host[:port], without {c:?} (no path, query or user)"));
        }
        // An IPv6 host is bracketed and full of colons: the port comes after `]`.
        let (host, port) = match rest.strip_prefix('[') {
            Some(v6) => {
                let (inside, after) = v6.split_once(']').ok_or("an IPv6 host needs its closing ]")?;
                let port = match after {
                    "" => None,
                    _ => Some(after.strip_prefix(':').ok_or("expected :port after the IPv6 host")?),
                };
                (format!("[{inside}]"), port)
            }
            None => match rest.rsplit_once(':') {
                Some((host, port)) => (host.to_string(), Some(port)),
                None => (rest.to_string(), None),
            },
        };
        let host_ok = |h: &str| h.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if host.is_empty() || host == "[]" {
            return Err("the host is empty".into());
        }
        if host.contains('*') {
            return Err("a wildcard may only be the whole pattern (*) or the port (http://host:*)".into());
        }
        if !host.starts_with('[') && !host_ok(&host) {
            return Err(format!("{host:?} is not a host name"));
        }
        let port = match port {
            None => Port::Default,
            Some("*") => Port::Any,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n == default_port => Port::Default,
                Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => Port::Number(n),
                _ => return Err(format!("{p:?} is not a port (1-65535 or *)")),
            },
        };
        Ok(Origin { scheme: scheme.to_string(), host, port })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.host)?;
        match self.port {
            Port::Default => Ok(()),
            Port::Number(n) => write!(f, ":{n}"),
            Port::Any => f.write_str(":*"),
        }
    }
}

/// A project with its live rate-limit state.
#[derive(Debug)]
pub struct ProjectEntry {
    pub project: Project,
    bucket: Mutex<TokenBucket>,
}

impl ProjectEntry {
    fn new(project: Project) -> ProjectEntry {
        let bucket = Mutex::new(TokenBucket::new(project.rate_limit, Instant::now()));
        ProjectEntry { project, bucket }
    }

    pub fn allows_origin(&self, origin: &str) -> bool {
        self.project.allowed_origins.iter().any(|p| p.matches(origin))
    }

    /// Whether to believe that the page speaks for `user_id`. Always yes
    /// for a project without an identity secret.
    pub fn verify_user(&self, user_id: &str, user_hash: Option<&str>) -> Result<(), IdentityError> {
        let Some(secret) = &self.project.identity_secret else { return Ok(()) };
        let given = user_hash.filter(|h| !h.is_empty()).ok_or(IdentityError::MissingHash)?;
        let expected = user_hash_of(secret, user_id);
        if constant_time_eq(expected.as_bytes(), given.to_ascii_lowercase().as_bytes()) {
            Ok(())
        } else {
            Err(IdentityError::WrongHash)
        }
    }

    /// Takes `events` tokens (at least 1), or says how long until they would be there.
    pub fn admit(&self, events: usize, now: Instant) -> Result<(), Duration> {
        let cost = u32::try_from(events).unwrap_or(u32::MAX).max(1);
        self.bucket.lock().unwrap_or_else(PoisonError::into_inner).try_take(cost, now)
    }
}

/// Every configured project, looked up by public key (ingest) or secret key (reads).
#[derive(Debug)]
pub struct Projects {
    entries: Vec<Arc<ProjectEntry>>,
    by_public_key: HashMap<String, usize>,
}

/// Every problem in a projects file, one per line, each naming its field.
#[derive(Debug, PartialEq)]
pub struct ProjectsError(Vec<String>);

impl fmt::Display for ProjectsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid projects:\n  {}", self.0.join("\n  "))
    }
}

impl std::error::Error for ProjectsError {}

/// A project as written in the file, before validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectSpec {
    public_key: String,
    secret_key: String,
    allowed_origins: Vec<String>,
    #[serde(default)]
    rate_limit: RateLimit,
    #[serde(default)]
    identity_secret: Option<String>,
    #[serde(default)]
    events: Option<serde_json::Value>,
    #[serde(default)]
    client_limits: ClientLimits,
    retention_days: Option<u32>,
}

impl Projects {
    /// The one project used when no file is given: `pk_demo` / `sk_demo`, any
    /// origin, the default (generous) rate limit.
    pub fn demo() -> Projects {
        Projects::new(vec![Project {
            public_key: DEMO_PUBLIC_KEY.into(),
            secret_key: DEMO_SECRET_KEY.into(),
            allowed_origins: vec![OriginPattern::Any],
            rate_limit: RateLimit::default(),
            identity_secret: None,
            events: None,
            client_limits: ClientLimits::default(),
            retention_days: None,
        }])
        .expect("the demo project is valid")
    }

    /// Reads and validates a projects file; errors start with its path.
    pub fn load(path: &Path) -> Result<Projects, ProjectsError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ProjectsError(vec![format!("{}: cannot read: {e}", path.display())]))?;
        Projects::parse(&text, true).map_err(|ProjectsError(problems)| {
            ProjectsError(problems.into_iter().map(|p| format!("{}: {p}", path.display())).collect())
        })
    }

    /// Parses and validates projects given in code or tests. Unlike
    /// [`Projects::load`] it takes short secret keys.
    pub fn from_json(text: &str) -> Result<Projects, ProjectsError> {
        Projects::parse(text, false)
    }

    fn parse(text: &str, strong_secrets: bool) -> Result<Projects, ProjectsError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let specs: Vec<ProjectSpec> = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let at = if path == "." { String::new() } else { format!("{path}: ") };
            ProjectsError(vec![format!("{at}{}", e.inner())])
        })?;
        de.end().map_err(|e| ProjectsError(vec![e.to_string()]))?;

        let mut problems = Vec::new();
        let mut projects = Vec::with_capacity(specs.len());
        for (i, spec) in specs.into_iter().enumerate() {
            let mut origins = Vec::new();
            for (j, pattern) in spec.allowed_origins.iter().enumerate() {
                match OriginPattern::parse(pattern) {
                    Ok(p) => origins.push(p),
                    Err(why) => {
                        problems.push(format!("[{i}].allowed_origins[{j}]: {pattern:?} is not an origin: {why}"))
                    }
                }
            }
            if strong_secrets {
                if let Some(why) = weak_secret_key(&spec.secret_key) {
                    problems.push(format!("[{i}].secret_key: {why}"));
                }
            }
            if spec.allowed_origins.is_empty() {
                problems.push(format!("[{i}].allowed_origins: must not be empty (use [\"*\"] to allow any origin)"));
            }
            let events = match &spec.events {
                None => None,
                Some(v) => match EventSchema::from_value(v) {
                    Ok(schema) => Some(schema),
                    Err(errors) => {
                        problems.extend(errors.0.iter().map(|e| format!("[{i}].events.{e}")));
                        None
                    }
                },
            };
            projects.push(Project {
                public_key: spec.public_key,
                secret_key: spec.secret_key,
                allowed_origins: origins,
                rate_limit: spec.rate_limit,
                identity_secret: spec.identity_secret,
                events,
                client_limits: spec.client_limits,
                retention_days: spec.retention_days,
            });
        }
        match Projects::new(projects) {
            Ok(projects) if problems.is_empty() => Ok(projects),
            Ok(_) => Err(ProjectsError(problems)),
            Err(ProjectsError(more)) => {
                problems.extend(more);
                Err(ProjectsError(problems))
            }
        }
    }

    /// Validates keys and rate limits; field paths are `[index].field`.
    pub fn new(projects: Vec<Project>) -> Result<Projects, ProjectsError> {
        let mut problems = Vec::new();
        if projects.is_empty() {
            problems.push("at least one project is needed".to_string());
        }
        // Every key, public or secret, names exactly one project and one role.
        let mut seen: HashMap<&str, String> = HashMap::new();
        for (i, p) in projects.iter().enumerate() {
            for (field, key) in [("public_key", &p.public_key), ("secret_key", &p.secret_key)] {
                let at = format!("[{i}].{field}");
                if key.is_empty() {
                    problems.push(format!("{at}: must not be empty"));
                    continue;
                }
                if !key.bytes().all(|b| b.is_ascii_graphic()) {
                    problems.push(format!("{at}: must be printable ASCII without spaces (it travels in HTTP)"));
                }
                if let Some(first) = seen.get(key.as_str()) {
                    problems.push(format!("{at}: {key:?} is already used as {first}"));
                } else {
                    seen.insert(key, at);
                }
            }
            if p.secret_key.starts_with("pk_") {
                problems.push(format!(
                    "[{i}].secret_key: starts with pk_, the prefix of public keys; a secret key must not look public"
                ));
            }
            if let Some(secret) = &p.identity_secret {
                if secret.len() < MIN_IDENTITY_SECRET_BYTES {
                    problems.push(format!(
                        "[{i}].identity_secret: must be at least {MIN_IDENTITY_SECRET_BYTES} characters; a short \
                         secret can be guessed from one user's hash"
                    ));
                }
                if [&p.public_key, &p.secret_key].contains(&secret) {
                    problems.push(format!("[{i}].identity_secret: must differ from the project's keys"));
                }
            }
            let ClientLimits { events_per_second, event_burst, reads_per_second, read_burst } = p.client_limits;
            for (field, value) in [
                ("events_per_second", events_per_second),
                ("reads_per_second", reads_per_second),
                ("read_burst", read_burst),
            ] {
                if value == 0 {
                    problems.push(format!("[{i}].client_limits.{field}: must be at least 1"));
                }
            }
            if (event_burst as usize) < MAX_BATCH_EVENTS {
                problems.push(format!(
                    "[{i}].client_limits.event_burst: must be at least {MAX_BATCH_EVENTS}, the largest batch, or a \
                     full batch could never be accepted"
                ));
            }
            if p.retention_days == Some(0) {
                problems.push(format!(
                    "[{i}].retention_days: must be at least 1 (leave it out to keep events without a limit)"
                ));
            }
            let RateLimit { events_per_second, burst } = p.rate_limit;
            if events_per_second == 0 {
                problems.push(format!("[{i}].rate_limit.events_per_second: must be at least 1"));
            }
            if (burst as usize) < MAX_BATCH_EVENTS {
                problems.push(format!(
                    "[{i}].rate_limit.burst: must be at least {MAX_BATCH_EVENTS}, the largest batch, or a full batch \
                     could never be accepted"
                ));
            }
        }
        if !problems.is_empty() {
            return Err(ProjectsError(problems));
        }
        let by_public_key = projects.iter().enumerate().map(|(i, p)| (p.public_key.clone(), i)).collect();
        let entries = projects.into_iter().map(|p| Arc::new(ProjectEntry::new(p))).collect();
        Ok(Projects { entries, by_public_key })
    }

    pub fn by_public_key(&self, key: &str) -> Option<&Arc<ProjectEntry>> {
        self.by_public_key.get(key).map(|&i| &self.entries[i])
    }

    /// Looks every project's secret key up in time independent of where the
    /// keys differ, so response timing does not reveal a key's prefix.
    pub fn by_secret_key(&self, key: &str) -> Option<&Arc<ProjectEntry>> {
        let mut found = None;
        for entry in &self.entries {
            if constant_time_eq(entry.project.secret_key.as_bytes(), key.as_bytes()) {
                found = Some(entry);
            }
        }
        found
    }

    /// Whether some project accepts events from `origin` (for CORS preflights).
    pub fn any_allows_origin(&self, origin: &str) -> bool {
        self.entries.iter().any(|e| e.allows_origin(origin))
    }

    /// Every project, in file order.
    pub fn all(&self) -> impl Iterator<Item = &Arc<ProjectEntry>> {
        self.entries.iter()
    }

    /// Every project's public key, in file order.
    pub fn public_keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.project.public_key.as_str())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

const MIN_IDENTITY_SECRET_BYTES: usize = 16;

/// Secret keys in a projects file are at least this long.
pub const MIN_SECRET_KEY_CHARS: usize = 24;

/// Why a secret key from a file cannot be used, if it cannot. Length is what
/// protects it; a key of few distinct characters (`sk_aaaa…`) was typed,
/// not generated.
fn weak_secret_key(key: &str) -> Option<String> {
    let generate = "generate one, e.g. sk_$(openssl rand -hex 16)";
    let chars = key.chars().count();
    if chars < MIN_SECRET_KEY_CHARS {
        return Some(format!("must be at least {MIN_SECRET_KEY_CHARS} random characters, not {chars}; {generate}"));
    }
    let distinct = key.chars().collect::<std::collections::HashSet<_>>().len();
    if distinct < 10 {
        return Some(format!("has only {distinct} different characters, so it is not random; {generate}"));
    }
    None
}

/// Lowercase hex HMAC-SHA256 of `user_id` under `secret`: what the host's
/// backend computes for `identify(id, traits, { userHash })`.
pub fn user_hash_of(secret: &str, user_id: &str) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(user_id.as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_pattern(pattern: &str, expected: Result<&str, &str>) {
        match (OriginPattern::parse(pattern), expected) {
            (Ok(p), Ok(normalized)) => assert_eq!(p.to_string(), normalized, "{pattern}"),
            (Err(why), Err(part)) => assert!(why.contains(part), "{pattern}: {why:?} lacks {part:?}"),
            (got, want) => panic!("{pattern}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn origin_patterns_are_validated_and_normalized() {
        check_pattern("*", Ok("*"));
        check_pattern("https://app.example.com", Ok("https://app.example.com"));
        check_pattern("HTTPS://App.Example.COM:443", Ok("https://app.example.com"));
        check_pattern("http://localhost:80", Ok("http://localhost"));
        check_pattern("http://127.0.0.1:8080", Ok("http://127.0.0.1:8080"));
        check_pattern("http://127.0.0.1:*", Ok("http://127.0.0.1:*"));
        check_pattern("http://[::1]:3000", Ok("http://[::1]:3000"));
        check_pattern("http://[::1]", Ok("http://[::1]"));
        check_pattern("app.example.com", Err("expected scheme://host[:port]"));
        check_pattern("ftp://example.com", Err("http or https"));
        check_pattern("https://app.example.com/", Err("without '/'"));
        check_pattern("https://app.example.com/path", Err("no path"));
        check_pattern("https://user@app.example.com", Err("'@'"));
        check_pattern("https://", Err("host is empty"));
        check_pattern("https://*.example.com", Err("wildcard may only be"));
        check_pattern("https://app.example.com:99999", Err("not a port"));
        check_pattern("https://app.example.com:0", Err("not a port"));
        check_pattern("https://app.example.com:+80", Err("not a port"));
        check_pattern("https://exa mple.com", Err("not a host name"));
        check_pattern("http://[::1", Err("closing ]"));
    }

    #[test]
    fn origins_match_patterns() {
        for (pattern, origin, expected) in [
            ("*", "https://anything.example", true),
            ("*", "null", true),
            ("https://app.example.com", "https://app.example.com", true),
            ("https://app.example.com", "https://app.example.com:443", true),
            ("https://app.example.com", "https://APP.example.com", true),
            ("https://app.example.com", "http://app.example.com", false),
            ("https://app.example.com", "https://app.example.com:8443", false),
            ("https://app.example.com", "https://evil.app.example.com", false),
            ("https://app.example.com", "https://app.example.com.evil.example", false),
            ("https://app.example.com", "null", false),
            ("http://127.0.0.1:*", "http://127.0.0.1:5173", true),
            ("http://127.0.0.1:*", "http://127.0.0.1", true),
            ("http://127.0.0.1:*", "https://127.0.0.1:5173", false),
            ("http://127.0.0.1:*", "http://127.0.0.10:5173", false),
            ("http://127.0.0.1:*", "http://127.0.0.1:*", false),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8081", false),
        ] {
            let p = OriginPattern::parse(pattern).unwrap();
            assert_eq!(p.matches(origin), expected, "{pattern} vs {origin}");
        }
    }

    fn problems(json: &str) -> Vec<String> {
        match Projects::from_json(json) {
            Ok(_) => vec![],
            Err(ProjectsError(p)) => p,
        }
    }

    #[test]
    fn a_valid_file_loads_with_defaults() {
        let projects = Projects::from_json(
            r#"[{"public_key": "pk_a", "secret_key": "sk_a", "allowed_origins": ["https://a.example"]},
                {"public_key": "pk_b", "secret_key": "sk_b", "allowed_origins": ["*"],
                 "rate_limit": {"events_per_second": 5, "burst": 100}}]"#,
        )
        .unwrap();
        assert_eq!(projects.len(), 2);
        let a = &projects.by_public_key("pk_a").unwrap().project;
        assert_eq!(a.rate_limit, RateLimit::default());
        assert_eq!(a.allowed_origins, [OriginPattern::Exact("https://a.example".into())]);
        assert_eq!(projects.by_secret_key("sk_b").unwrap().project.public_key, "pk_b");
        assert!(projects.by_secret_key("sk_").is_none() && projects.by_secret_key("pk_b").is_none());
        assert!(projects.by_public_key("sk_a").is_none());
        assert!(projects.any_allows_origin("https://elsewhere.example"));
    }

    #[test]
    fn every_problem_is_reported_naming_its_field() {
        let json = r#"[
            {"public_key": "pk_a", "secret_key": "", "allowed_origins": ["https://a.example/"]},
            {"public_key": "pk_a", "secret_key": "pk_secret", "allowed_origins": [],
             "rate_limit": {"events_per_second": 0, "burst": 10}},
            {"public_key": "pk c", "secret_key": "pk_a", "allowed_origins": ["*", "https://*.example"]}
        ]"#;
        assert_eq!(
            problems(json),
            [
                "[0].allowed_origins[0]: \"https://a.example/\" is not an origin: an origin is only \
                 scheme://host[:port], without '/' (no path, query or user)",
                "[1].allowed_origins: must not be empty (use [\"*\"] to allow any origin)",
                "[2].allowed_origins[1]: \"https://*.example\" is not an origin: a wildcard may only be the whole \
                 pattern (*) or the port (http://host:*)",
                "[0].secret_key: must not be empty",
                "[1].public_key: \"pk_a\" is already used as [0].public_key",
                "[1].secret_key: starts with pk_, the prefix of public keys; a secret key must not look public",
                "[1].rate_limit.events_per_second: must be at least 1",
                "[1].rate_limit.burst: must be at least 100, the largest batch, or a full batch could never be \
                 accepted",
                "[2].public_key: must be printable ASCII without spaces (it travels in HTTP)",
                "[2].secret_key: \"pk_a\" is already used as [0].public_key",
                "[2].secret_key: starts with pk_, the prefix of public keys; a secret key must not look public",
            ]
        );
    }

    #[test]
    fn shape_errors_name_the_json_path() {
        for (json, expected) in [
            ("{}", "invalid type: map, expected a sequence"),
            ("[]", "at least one project is needed"),
            (r#"[{"public_key": "pk_a", "allowed_origins": ["*"]}]"#, "missing field `secret_key`"),
            (r#"[{"public_key": "pk_a", "secret_key": 7, "allowed_origins": []}]"#, "[0].secret_key: invalid type"),
            (
                r#"[{"public_key": "a", "secret_key": "b", "allowed_origins": ["*"], "rate_limit": {"rps": 1}}]"#,
                "[0].rate_limit.rps: unknown field `rps`",
            ),
            (
                r#"[{"public_key": "a", "secret_key": "b", "allowed_origins": ["*"], "origins": []}]"#,
                "[0].origins: unknown field `origins`",
            ),
            ("[] []", "trailing characters"),
        ] {
            let found = problems(json);
            assert!(found.len() == 1 && found[0].contains(expected), "{json}: {found:?}");
        }
    }

    #[test]
    fn a_projects_file_needs_long_random_secret_keys() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("projects.json");
        let write = |keys: &[&str]| {
            let specs: Vec<String> = keys
                .iter()
                .enumerate()
                .map(|(i, k)| format!(r#"{{"public_key": "pk_{i}", "secret_key": "{k}", "allowed_origins": ["*"]}}"#))
                .collect();
            std::fs::write(&file, format!("[{}]", specs.join(","))).unwrap();
        };
        write(&["sk_demo", "sk_aaaaaaaaaaaaaaaaaaaaaaaaaaaa", "sk_4f9c2a7e1b8d3f6a0c5e9b2d"]);
        let err = Projects::load(&file).unwrap_err().to_string();
        let at = file.display();
        assert!(
            err.contains(&format!(
                "{at}: [0].secret_key: must be at least 24 random characters, not 7; generate one, e.g. \
                 sk_$(openssl rand -hex 16)"
            )),
            "{err}"
        );
        assert!(err.contains(&format!("{at}: [1].secret_key: has only 4 different characters")), "{err}");
        assert!(!err.contains("[2]"), "{err}");
        write(&["sk_4f9c2a7e1b8d3f6a0c5e9b2d"]);
        assert!(Projects::load(&file).is_ok());
    }

    #[test]
    fn load_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("projects.json");
        std::fs::write(&file, "[]").unwrap();
        let err = Projects::load(&file).unwrap_err().to_string();
        assert!(err.contains(&format!("{}: at least one project", file.display())), "{err}");
        let err = Projects::load(&dir.path().join("missing.json")).unwrap_err().to_string();
        assert!(err.contains("missing.json: cannot read"), "{err}");
    }

    #[test]
    fn the_demo_project_accepts_any_origin() {
        let demo = Projects::demo();
        let entry = demo.by_public_key(DEMO_PUBLIC_KEY).unwrap();
        assert_eq!(entry.project.secret_key, DEMO_SECRET_KEY);
        assert!(entry.allows_origin("https://whatever.example") && entry.allows_origin("null"));
    }

    #[test]
    fn identity_verification_believes_only_the_right_hash() {
        let projects = Projects::from_json(
            r#"[{"public_key": "pk_v", "secret_key": "sk_v", "allowed_origins": ["*"],
                 "identity_secret": "0123456789abcdef-secret"},
                {"public_key": "pk_o", "secret_key": "sk_o", "allowed_origins": ["*"]}]"#,
        )
        .unwrap();
        let verified = projects.by_public_key("pk_v").unwrap();
        // A known vector: `printf alice | openssl dgst -sha256 -hmac 0123456789abcdef-secret`.
        let computed = user_hash_of("0123456789abcdef-secret", "alice");
        assert_eq!(computed, "e699d9e131ee56644bf34100e488ca331f0fdf0b6b23c792d5e4a5c690d06045");
        assert_eq!(verified.verify_user("alice", Some(&computed)), Ok(()));
        assert_eq!(verified.verify_user("alice", Some(&computed.to_ascii_uppercase())), Ok(()), "hex case is free");
        assert_eq!(verified.verify_user("mallory", Some(&computed)), Err(IdentityError::WrongHash));
        assert_eq!(verified.verify_user("alice", Some("00")), Err(IdentityError::WrongHash));
        assert_eq!(verified.verify_user("alice", None), Err(IdentityError::MissingHash));
        assert_eq!(verified.verify_user("alice", Some("")), Err(IdentityError::MissingHash));
        // Without a secret, every identity is taken as given.
        assert_eq!(projects.by_public_key("pk_o").unwrap().verify_user("alice", None), Ok(()));
    }

    #[test]
    fn a_weak_identity_secret_is_refused() {
        let json = r#"[{"public_key": "pk_a", "secret_key": "sk_a", "allowed_origins": ["*"], "identity_secret": "short"},
                       {"public_key": "pk_b", "secret_key": "sk_b_long_enough_key", "allowed_origins": ["*"],
                        "identity_secret": "sk_b_long_enough_key"}]"#;
        assert_eq!(
            problems(json),
            [
                "[0].identity_secret: must be at least 16 characters; a short secret can be guessed from one user's \
                 hash",
                "[1].identity_secret: must differ from the project's keys",
            ]
        );
    }

    #[test]
    fn declared_events_load_and_bad_ones_name_their_path() {
        let projects = Projects::from_json(
            r#"[{"public_key": "pk_a", "secret_key": "sk_a", "allowed_origins": ["*"],
                 "events": {"strict": true, "declared": {"imported_data": {"rows": "integer"}}}}]"#,
        )
        .unwrap();
        let schema = projects.by_public_key("pk_a").unwrap().project.events.clone().unwrap();
        assert!(schema.strict && schema.declared.contains_key("imported_data"));
        let json = r#"[{"public_key": "pk_a", "secret_key": "sk_a", "allowed_origins": ["*"],
                        "events": {"declared": {"imported_data": {"rows": "int"}}}}]"#;
        assert_eq!(
            problems(json),
            ["[0].events.declared.imported_data.rows: must be string, number, integer, boolean, object or array (? \
              for optional), got \"int\""]
        );
    }
}
