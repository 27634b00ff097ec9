//! `GET /metrics`: counters and gauges in the Prometheus text format
//! (version 0.0.4), for a scraper on the operator's network.
//!
//! - `touchpoint_ingest_events_total{result, reason}` — every event judged at
//!   ingest (all ingest shapes): `accepted`, `duplicate`, or `rejected` with
//!   the kind of problem ([`Rejection`]). `accepted` is the number of rows
//!   stored and counted; `rejected{reason="survey"}` rows are stored too,
//!   flagged.
//! - `touchpoint_ingest_requests_refused_total{status}` — `POST /v1/events`
//!   requests refused as a whole (nothing stored), by HTTP status.
//! - `touchpoint_automation_lag_seconds` (summary: `_sum`, `_count`) and
//!   `touchpoint_automation_lag_max_seconds` — from an event's arrival to
//!   the automation worker running its rules.
//! - `touchpoint_worker_pass_seconds{worker}` (summary) — one pass of a
//!   background worker (claim, run, deliver).
//! - `touchpoint_db_pool_*` — Postgres only: connections, idle ones,
//!   requests waiting for one, and the time spent waiting.
//!
//! Totals over all projects, without project labels: a project's traffic is
//! its owner's business, and the route needs no key. Counters are per
//! process (each replica reports its own; Prometheus sums them).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use touchpoint_protocol::EventStatus;

/// Why an event was rejected, as a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rejection {
    /// Not a valid event (shape, types, empty id).
    Invalid,
    /// Over the per-event size limit.
    TooLarge,
    /// A `user_id` without its right `user_hash`.
    Identity,
    /// Refused by the project's declared events.
    Undeclared,
    /// Contradicts its survey; stored flagged.
    Survey,
}

impl Rejection {
    fn label(self) -> &'static str {
        match self {
            Rejection::Invalid => "invalid",
            Rejection::TooLarge => "too_large",
            Rejection::Identity => "identity",
            Rejection::Undeclared => "undeclared",
            Rejection::Survey => "survey",
        }
    }
}

#[derive(Debug, Default)]
struct Summary {
    sum_micros: AtomicU64,
    count: AtomicU64,
    max_micros: AtomicU64,
}

impl Summary {
    fn observe(&self, d: Duration) {
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.max_micros.fetch_max(micros, Ordering::Relaxed);
    }
}

/// The collector's counters; one per process, shared by every request.
#[derive(Debug, Default)]
pub struct Metrics {
    accepted: AtomicU64,
    duplicate: AtomicU64,
    rejected: Mutex<BTreeMap<Rejection, u64>>,
    refused: Mutex<BTreeMap<u16, u64>>,
    automation_lag: Summary,
    worker_passes: Mutex<BTreeMap<&'static str, (f64, u64)>>,
}

/// The Postgres pool at the time of a scrape.
#[derive(Debug, Clone, Copy)]
pub struct PoolStats {
    pub size: usize,
    pub available: usize,
    pub waiting: usize,
    pub waits: u64,
    pub wait_seconds: f64,
}

impl Metrics {
    /// An event stored (or found stored): its status from the database.
    pub fn stored(&self, status: EventStatus) {
        match status {
            EventStatus::Accepted => {
                self.accepted.fetch_add(1, Ordering::Relaxed);
            }
            EventStatus::Duplicate => {
                self.duplicate.fetch_add(1, Ordering::Relaxed);
            }
            EventStatus::Rejected => self.rejected(Rejection::Invalid),
        }
    }

    pub fn rejected(&self, why: Rejection) {
        *self.rejected.lock().unwrap_or_else(PoisonError::into_inner).entry(why).or_default() += 1;
    }

    /// A `POST /v1/events` answered with `status` other than 200.
    pub fn refused(&self, status: u16) {
        *self.refused.lock().unwrap_or_else(PoisonError::into_inner).entry(status).or_default() += 1;
    }

    /// From an event's arrival to its rules running.
    pub fn automation_lag(&self, lag: Duration) {
        self.automation_lag.observe(lag);
    }

    pub fn worker_pass(&self, worker: &'static str, took: Duration) {
        let mut passes = self.worker_passes.lock().unwrap_or_else(PoisonError::into_inner);
        let (sum, count) = passes.entry(worker).or_default();
        *sum += took.as_secs_f64();
        *count += 1;
    }

    /// The text a scrape gets.
    pub fn render(&self, pool: Option<PoolStats>) -> String {
        let mut out = String::new();
        let line = |out: &mut String, name: &str, labels: &str, value: String| {
            let _ = writeln!(out, "{name}{labels} {value}");
        };
        let head = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };

        let name = "touchpoint_ingest_events_total";
        head(&mut out, name, "counter", "Events judged at ingest, by result and, for rejected ones, reason.");
        line(&mut out, name, "{result=\"accepted\"}", self.accepted.load(Ordering::Relaxed).to_string());
        line(&mut out, name, "{result=\"duplicate\"}", self.duplicate.load(Ordering::Relaxed).to_string());
        let rejected = self.rejected.lock().unwrap_or_else(PoisonError::into_inner).clone();
        for why in
            [Rejection::Invalid, Rejection::TooLarge, Rejection::Identity, Rejection::Undeclared, Rejection::Survey]
        {
            let labels = format!("{{result=\"rejected\",reason=\"{}\"}}", why.label());
            line(&mut out, name, &labels, rejected.get(&why).copied().unwrap_or(0).to_string());
        }

        let name = "touchpoint_ingest_requests_refused_total";
        head(&mut out, name, "counter", "POST /v1/events requests refused as a whole, by HTTP status.");
        for (status, n) in self.refused.lock().unwrap_or_else(PoisonError::into_inner).iter() {
            line(&mut out, name, &format!("{{status=\"{status}\"}}"), n.to_string());
        }

        let name = "touchpoint_automation_lag_seconds";
        head(&mut out, name, "summary", "From an event's arrival to the automation worker running its rules.");
        let seconds = |micros: &AtomicU64| format!("{}", micros.load(Ordering::Relaxed) as f64 / 1e6);
        line(&mut out, &format!("{name}_sum"), "", seconds(&self.automation_lag.sum_micros));
        line(&mut out, &format!("{name}_count"), "", self.automation_lag.count.load(Ordering::Relaxed).to_string());
        let name = "touchpoint_automation_lag_max_seconds";
        head(&mut out, name, "gauge", "The longest automation lag seen by this process.");
        line(&mut out, name, "", seconds(&self.automation_lag.max_micros));

        let name = "touchpoint_worker_pass_seconds";
        head(&mut out, name, "summary", "Time of one pass of a background worker.");
        for (worker, (sum, count)) in self.worker_passes.lock().unwrap_or_else(PoisonError::into_inner).iter() {
            line(&mut out, &format!("{name}_sum"), &format!("{{worker=\"{worker}\"}}"), sum.to_string());
            line(&mut out, &format!("{name}_count"), &format!("{{worker=\"{worker}\"}}"), count.to_string());
        }

        if let Some(pool) = pool {
            for (name, kind, help, value) in [
                ("touchpoint_db_pool_connections", "gauge", "Connections in the Postgres pool.", pool.size.to_string()),
                ("touchpoint_db_pool_idle", "gauge", "Idle connections in the pool.", pool.available.to_string()),
                ("touchpoint_db_pool_waiting", "gauge", "Requests waiting for a connection.", pool.waiting.to_string()),
                ("touchpoint_db_pool_waits_total", "counter", "Connections handed out.", pool.waits.to_string()),
                (
                    "touchpoint_db_pool_wait_seconds_total",
                    "counter",
                    "Time spent waiting for a connection.",
                    pool.wait_seconds.to_string(),
                ),
            ] {
                head(&mut out, name, kind, help);
                line(&mut out, name, "", value);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_prometheus_text_format() {
        let m = Metrics::default();
        m.stored(EventStatus::Accepted);
        m.stored(EventStatus::Accepted);
        m.stored(EventStatus::Duplicate);
        m.rejected(Rejection::Identity);
        m.refused(429);
        m.automation_lag(Duration::from_millis(1500));
        m.automation_lag(Duration::from_millis(500));
        m.worker_pass("automations", Duration::from_millis(250));
        let text = m.render(None);
        for expected in [
            "# TYPE touchpoint_ingest_events_total counter\n",
            "touchpoint_ingest_events_total{result=\"accepted\"} 2\n",
            "touchpoint_ingest_events_total{result=\"duplicate\"} 1\n",
            "touchpoint_ingest_events_total{result=\"rejected\",reason=\"identity\"} 1\n",
            "touchpoint_ingest_events_total{result=\"rejected\",reason=\"survey\"} 0\n",
            "touchpoint_ingest_requests_refused_total{status=\"429\"} 1\n",
            "touchpoint_automation_lag_seconds_sum 2\n",
            "touchpoint_automation_lag_seconds_count 2\n",
            "touchpoint_automation_lag_max_seconds 1.5\n",
            "touchpoint_worker_pass_seconds_sum{worker=\"automations\"} 0.25\n",
        ] {
            assert!(text.contains(expected), "{expected:?} missing from:\n{text}");
        }
        assert!(!text.contains("db_pool"), "no pool on SQLite");
        // Every sample line is `name{labels} value`.
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = l.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{l}");
        }
    }
}
