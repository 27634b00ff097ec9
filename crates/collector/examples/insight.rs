//! Insight benchmark (a benchmark, not a test): stores `--events N` events
//! (default 1 000 000) of 10 000 users over 70 days in a fresh SQLite store
//! (or Postgres with `DATABASE_URL`, in a schema of its own), with the
//! repository's `checklists.json` and `accounts.json` loaded, then times
//! success-behavior discovery (per user, per account) and the health
//! backtest, each once after a warm-up read. Prints `key=value` lines: wall
//! time, CPU time of every thread of the process, and peak memory (`VmHWM`).
//!
//! `cargo run --release -p touchpoint-collector --example insight -- --events 1000000 --data-dir /tmp/insight-bench`
//! (`--fill no` measures a store an earlier run filled; its `now` moves on, so keep reruns close.
//! `--max-accounts N` has the backtest sample N accounts, to see how its time follows the sample;
//! `--chunk N` reads and assesses N accounts at a time.)

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::json;
use touchpoint_collector::accounts::AccountsCatalog;
use touchpoint_collector::catalog::SurveyCatalog;
use touchpoint_collector::checklists::ChecklistCatalog;
use touchpoint_collector::config::Config;
use touchpoint_collector::insight::{self, backtest, Unit};
use touchpoint_collector::projects::Projects;
use touchpoint_collector::store::{NewEvent, Store};
use touchpoint_collector::AppState;
use touchpoint_protocol::Event;

const PROJECTS: &str = r#"[{"public_key": "pk_big", "secret_key": "sk_big", "allowed_origins": ["*"]}]"#;
const USERS: usize = 10_000;
const DAY: i64 = 86_400_000;
const NAMES: [&str; 12] = [
    "created_project",
    "imported_data",
    "opened_report",
    "exported_csv",
    "opened_pricing",
    "commented",
    "uploaded_file",
    "searched",
    "connected_integration",
    "archived_project",
    "changed_settings",
    "viewed_help",
];

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)
}

fn event(id: String, user: &str, ts: i64, kind: serde_json::Value) -> NewEvent {
    let mut e = json!({"id": id, "ts": ts, "anonymous_id": format!("b-{user}"), "user_id": user, "url": "https://app.example.com/"});
    e.as_object_mut().expect("an object").extend(kind.as_object().expect("an object").clone());
    let body = e.to_string();
    let parsed: Event = serde_json::from_str(&body).expect("a valid event");
    NewEvent::new(parsed, body)
}

/// One user's `n` events: identify, group, an NPS answer, then tracks over
/// 70 days; a third invite a teammate on day 1 and keep coming back.
fn user_events(u: usize, n: usize, t0: i64) -> Vec<NewEvent> {
    let user = format!("u{u}");
    let inviter = u % 3 == 0;
    let mut out = vec![
        event(
            format!("{user}-i"),
            &user,
            t0,
            json!({"type": "identify", "traits": {"team_size": if u % 10 == 0 { 200 } else { 4 }}}),
        ),
        event(
            format!("{user}-g"),
            &user,
            t0,
            json!({"type": "group", "account_id": format!("a{}", u / 5), "traits": {"seats": 12}}),
        ),
        event(
            format!("{user}-s"),
            &user,
            t0 + DAY,
            json!({"type": "survey_answered", "survey_id": "nps", "response_id": format!("r-{user}"),
              "question_id": "score", "value": if inviter { 9 } else { (u % 11) as u8 }}),
        ),
    ];
    if inviter {
        out.push(event(
            format!("{user}-inv"),
            &user,
            t0 + DAY,
            json!({"type": "track", "name": "invited_teammate", "props": {}}),
        ));
    }
    // Inviters spread their events over 70 days, the others over their first 20.
    let span = if inviter { 70 } else { 20 };
    for i in out.len()..n {
        let ts = t0 + (i as i64 * span * DAY) / n as i64;
        out.push(event(
            format!("{user}-{i}"),
            &user,
            ts,
            json!({"type": "track", "name": NAMES[(i * 7 + u) % NAMES.len()], "props": {"i": i}}),
        ));
    }
    out
}

/// CPU time of the whole process so far (user + system, threads that ended included), in ns.
fn cpu_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest.split_whitespace().map(|v| v.parse().unwrap_or(0)).collect();
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    ticks * 10_000_000 // USER_HZ is 100 on Linux
}

fn peak_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("VmHWM:").and_then(|v| v.trim().trim_end_matches(" kB").parse().ok()))
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (mut events, mut data_dir, mut fill) = (1_000_000usize, PathBuf::from("insight-bench"), true);
    let (mut max_accounts, mut chunk) = (insight::MAX_BACKTEST_ACCOUNTS, None);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--events" => events = value.parse().map_err(|e| format!("--events: {e}"))?,
            "--data-dir" => data_dir = PathBuf::from(value),
            // `--fill no`: measure a store an earlier run filled.
            "--fill" => fill = value != "no",
            // `--max-accounts N`: the backtest's sample, below its bound (how time follows it).
            "--max-accounts" => max_accounts = value.parse().map_err(|e| format!("--max-accounts: {e}"))?,
            // `--chunk N`: accounts read and assessed at a time, instead of the collector's.
            "--chunk" => chunk = Some(value.parse().map_err(|e| format!("--chunk: {e}"))?),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    let database_url = std::env::var("DATABASE_URL").ok();
    let store = Store::open(&data_dir, database_url.as_deref()).await.map_err(|e| e.to_string())?;
    let config = Config { data_dir: data_dir.clone(), surveys_dir: repo("surveys"), ..Config::default() };
    let surveys = SurveyCatalog::load_dir(&config.surveys_dir).map_err(|e| e.to_string())?;
    let checklists = ChecklistCatalog::load(&repo("checklists.json")).map_err(|e| e.to_string())?;
    let accounts = AccountsCatalog::load(&repo("accounts.json"), &|_| None).map_err(|e| e.to_string())?;
    let state = AppState::new(config, Projects::from_json(PROJECTS).map_err(|e| e.to_string())?, store, surveys)
        .with_checklists(Some(checklists))
        .with_accounts(Some(accounts));

    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let t0 = now - 120 * DAY;
    let began = Instant::now();
    let per_user = events / USERS;
    if fill {
        let mut batch = Vec::new();
        for u in 0..USERS {
            batch.extend(user_events(u, per_user, t0 + (u as i64 % 30) * DAY));
            if batch.len() >= 5000 {
                state.db.insert("pk_big".into(), now, std::mem::take(&mut batch)).await.map_err(|e| e.to_string())?;
            }
        }
        state.db.insert("pk_big".into(), now, batch).await.map_err(|e| e.to_string())?;
    }
    println!("events={}", per_user * USERS);
    println!("fill_s={:.1}", began.elapsed().as_secs_f64());

    let time = |label: &str, wall: std::time::Duration, cpu: u64| {
        println!("{label}_wall_s={:.2}", wall.as_secs_f64());
        println!("{label}_cpu_s={:.2}", cpu as f64 / 1e9);
    };
    // Warm the page cache with one unmeasured run, as a running collector would have it.
    insight::discover(&state, "pk_big", 7, Unit::User, 10, now).await.map_err(|e| format!("{e:?}"))?;
    for (label, unit) in [("discover_users", Unit::User), ("discover_accounts", Unit::Account)] {
        let (c0, w0) = (cpu_ns(), Instant::now());
        let d = insight::discover(&state, "pk_big", 7, unit, 10, now).await.map_err(|e| format!("{e:?}"))?;
        time(label, w0.elapsed(), cpu_ns() - c0);
        let top = &d.discovery.behaviors[0];
        println!(
            "{label}_subjects={} top={} lift={:.2}",
            d.discovery.subjects,
            top.event,
            top.retention.lift.map_or(0.0, |l| l.value)
        );
    }
    println!("peak_rss_after_discovery_mb={}", peak_kb() / 1024);
    let accounts = state.accounts.clone().ok_or("no accounts")?;
    let params =
        backtest::Params { now, horizon_days: 30, step_days: 7, max_cutoffs: insight::MAX_CUTOFFS, threshold: 40 };
    let (c0, w0) = (cpu_ns(), Instant::now());
    let b = match chunk {
        Some(chunk) => insight::backtest_in_chunks(&state, accounts, "pk_big", params, max_accounts, chunk).await,
        None => insight::backtest(&state, accounts, "pk_big", params, max_accounts).await,
    }
    .map_err(|e| format!("{e:?}"))?;
    time("backtest", w0.elapsed(), cpu_ns() - c0);
    println!(
        "backtest_samples={} cutoffs={} auc={:?} rows_read={} sampled={:?}",
        b.backtest.samples,
        b.backtest.cutoffs.len(),
        b.backtest.auc,
        b.rows_read,
        b.sampled
    );
    println!("peak_rss_mb={}", peak_kb() / 1024);
    state.db.close().await;
    Ok(())
}
