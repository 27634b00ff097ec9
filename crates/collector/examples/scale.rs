//! Scale benchmark for the background work and the widget's reads (a
//! benchmark, not a test; run by `scripts/bench-collector.sh`).
//!
//! `scale fill --events N` stores N events (two projects: `pk_big` with
//! accounts of five users and one heavy user of 30 000 events, `pk_small`
//! with one account) through the collector's own ingest path, with the
//! repository's `accounts.json` and `checklists.json` loaded as in the demo,
//! then runs the accounts worker until it has caught up.
//!
//! `scale measure` reopens that store and measures, in this process:
//! - the accounts worker's pass after one new event (to `pk_small`, as
//!   when another customer's traffic woke it; and to `pk_big`): CPU time of
//!   every thread of the process (`/proc/self/task/*/schedstat`), wall time,
//!   rows read;
//! - the process' peak memory after those passes (`VmHWM`);
//! - `GET /v1/config`, then `GET /v1/checklists/state`, for the heavy user
//!   from `--readers` concurrent keep-alive connections for `--seconds` each
//!   (the router served on 127.0.0.1 in this process): p50/p99/max latency;
//!   before the checklist readers, the first checklist read alone (it indexes
//!   the project's checklist rules from the stored events, once).
//!
//! Prints `key=value` lines. `--data-dir DIR`, or Postgres with
//! `--database-url URL --schema NAME` (`fill` recreates the schema).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use touchpoint_collector::accounts::changes;
use touchpoint_collector::accounts::AccountsCatalog;
use touchpoint_collector::catalog::SurveyCatalog;
use touchpoint_collector::checklists::ChecklistCatalog;
use touchpoint_collector::config::Config;
use touchpoint_collector::projects::Projects;
use touchpoint_collector::store::{NewEvent, Store};
use touchpoint_collector::AppState;
use touchpoint_protocol::Event;

const PROJECTS: &str = r#"[
  {"public_key": "pk_big", "secret_key": "sk_big", "allowed_origins": ["*"],
   "rate_limit": {"events_per_second": 10000000, "burst": 10000000}},
  {"public_key": "pk_small", "secret_key": "sk_small", "allowed_origins": ["*"]}
]"#;
const HEAVY_EVENTS: usize = 30_000;
const USERS_PER_ACCOUNT: usize = 5;
const EVENTS_PER_USER: usize = 100;
const NAMES: [&str; 5] = ["created_project", "imported_data", "invited_teammate", "opened_pricing", "exported_csv"];

struct Options {
    mode: String,
    data_dir: PathBuf,
    database_url: Option<String>,
    events: usize,
    readers: usize,
    seconds: f64,
    passes: usize,
}

fn parse() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().ok_or("usage: scale fill|measure [--data-dir D | --database-url U --schema S] …")?;
    let mut o = Options {
        mode,
        data_dir: PathBuf::from("scale-data"),
        database_url: None,
        events: 10_000,
        readers: 40,
        seconds: 10.0,
        passes: 20,
    };
    let mut schema = None;
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value:?}: {e}");
        match flag.as_str() {
            "--data-dir" => o.data_dir = PathBuf::from(&value),
            "--database-url" => o.database_url = Some(value),
            "--schema" => schema = Some(value),
            "--events" => o.events = value.parse().map_err(|e| bad(&e))?,
            "--readers" => o.readers = value.parse().map_err(|e| bad(&e))?,
            "--seconds" => o.seconds = value.parse().map_err(|e| bad(&e))?,
            "--passes" => o.passes = value.parse().map_err(|e| bad(&e))?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if let (Some(url), Some(schema)) = (&o.database_url, &schema) {
        let sep = if url.contains('?') { '&' } else { '?' };
        o.database_url = Some(format!("{url}{sep}options=-c%20search_path%3D{schema}"));
    }
    Ok(o)
}

fn repo(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(name)
}

async fn state(o: &Options) -> Result<AppState, String> {
    let store = Store::open(&o.data_dir, o.database_url.as_deref()).await.map_err(|e| e.to_string())?;
    let config = Config { data_dir: o.data_dir.clone(), surveys_dir: repo("surveys"), ..Config::default() };
    let surveys = SurveyCatalog::load_dir(&config.surveys_dir).map_err(|e| e.to_string())?;
    let projects = Projects::from_json(PROJECTS).map_err(|e| e.to_string())?;
    let checklists = ChecklistCatalog::load(&repo("checklists.json")).map_err(|e| e.to_string())?;
    let accounts = AccountsCatalog::load(&repo("accounts.json"), &|_| None).map_err(|e| e.to_string())?;
    Ok(AppState::new(config, projects, store, surveys).with_checklists(Some(checklists)).with_accounts(Some(accounts)))
}

fn event(id: String, user: &str, ts: i64, kind: serde_json::Value) -> NewEvent {
    let mut e = json!({"id": id, "ts": ts, "anonymous_id": format!("b-{user}"), "user_id": user,
                       "url": "https://app.example.com/"});
    e.as_object_mut().expect("an object").extend(kind.as_object().expect("an object").clone());
    let body = e.to_string();
    let parsed: Event = serde_json::from_str(&body).expect("a valid event");
    NewEvent { account_marks: true, ..NewEvent::new(parsed, body) }
}

/// The events of one user: identify, group, then tracks (and a showing now and then).
fn user_events(project: &str, user: &str, account: &str, n: usize, t0: i64) -> Vec<NewEvent> {
    let mut out = vec![
        event(format!("{project}-{user}-i"), user, t0, json!({"type": "identify", "traits": {"team_size": 4}})),
        event(
            format!("{project}-{user}-g"),
            user,
            t0,
            json!({"type": "group", "account_id": account,
                                                              "traits": {"seats": 12, "owner": "olga"}}),
        ),
    ];
    for i in 2..n {
        let kind = if i % 50 == 0 {
            json!({"type": "survey_shown", "survey_id": "nps", "response_id": format!("r-{user}-{i}")})
        } else {
            json!({"type": "track", "name": NAMES[i % NAMES.len()], "props": {"step": i}})
        };
        out.push(event(format!("{project}-{user}-{i}"), user, t0 + i as i64, kind));
    }
    out
}

async fn store_all(state: &AppState, key: &str, events: Vec<NewEvent>) -> Result<(), String> {
    let mut events = events.into_iter().peekable();
    while events.peek().is_some() {
        let batch: Vec<NewEvent> = events.by_ref().take(1000).collect();
        state.db.insert(key.into(), now(), batch).await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

async fn fill(o: &Options) -> Result<(), String> {
    if let Some(url) = &o.database_url {
        recreate_schema(url).await?;
    }
    let state = state(o).await?;
    let began = Instant::now();
    let t0 = now() - 3_600_000;
    let heavy = HEAVY_EVENTS.min(o.events / 4);
    store_all(&state, "pk_big", user_events("pk_big", "heavy", "acct-heavy", heavy, t0)).await?;
    let mut stored = heavy;
    let mut a = 0;
    while stored < o.events {
        let account = format!("acct-{a}");
        for u in 0..USERS_PER_ACCOUNT {
            let n = EVENTS_PER_USER.min(o.events.saturating_sub(stored)).max(2);
            store_all(&state, "pk_big", user_events("pk_big", &format!("u-{a}-{u}"), &account, n, t0)).await?;
            stored += n;
        }
        a += 1;
    }
    for u in 0..USERS_PER_ACCOUNT {
        store_all(&state, "pk_small", user_events("pk_small", &format!("s-{u}"), "small", 20, t0)).await?;
    }
    println!("events_stored={stored}");
    println!("accounts={}", a + 1);
    println!("fill_s={:.1}", began.elapsed().as_secs_f64());
    // Catch up: the first full assessment and every change marked while filling.
    let began = Instant::now();
    let catalog = state.accounts.clone().ok_or("no accounts")?;
    let p = changes::pass(&state, &catalog, now()).await?;
    println!("catch_up_s={:.1}", began.elapsed().as_secs_f64());
    println!("catch_up_changes={}", p.changes);
    state.db.close().await;
    Ok(())
}

/// CPU time of every thread of this process so far, in ns.
fn cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0 };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()))
        .sum()
}

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix(field).and_then(|v| v.trim().trim_end_matches(" kB").parse().ok()))
        })
        .unwrap_or(0)
}

async fn measure(o: &Options) -> Result<(), String> {
    let state = state(o).await?;
    let catalog = state.accounts.clone().ok_or("no accounts")?;
    let warm = changes::pass(&state, &catalog, now()).await?;
    println!("warm_pass_changes={}", warm.changes);
    for (label, key, user, account) in
        [("other_project", "pk_small", "s-0", "small"), ("same_project", "pk_big", "u-0-0", "acct-0")]
    {
        let (mut cpu, mut wall, mut worst, mut rows) = (0u64, Duration::ZERO, Duration::ZERO, 0usize);
        for i in 0..o.passes {
            let id = format!("measure-{label}-{}-{i}", now());
            let e = event(id, user, now(), json!({"type": "track", "name": "opened_pricing", "props": {}}));
            state.db.insert(key.into(), now(), vec![e]).await.map_err(|e| e.to_string())?;
            let (c0, w0) = (cpu_ns(), Instant::now());
            let p = changes::pass(&state, &catalog, now()).await?;
            let took = w0.elapsed();
            cpu += cpu_ns().saturating_sub(c0);
            wall += took;
            worst = worst.max(took);
            rows += p.rows_read;
            if p.assessed.iter().all(|(_, a)| a != account) {
                return Err(format!("{label}: the pass did not reassess {account}: {p:?}"));
            }
        }
        let n = o.passes as f64;
        println!("pass_{label}_cpu_ms={:.2}", cpu as f64 / 1e6 / n);
        println!("pass_{label}_wall_ms={:.2}", wall.as_secs_f64() * 1000.0 / n);
        println!("pass_{label}_wall_max_ms={:.2}", worst.as_secs_f64() * 1000.0);
        println!("pass_{label}_rows_read={}", rows / o.passes);
    }
    println!("peak_rss_after_passes_mb={:.1}", status_kb("VmHWM:") as f64 / 1024.0);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let app = touchpoint_collector::router(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    readers(o, addr, "config", "/v1/config?key=pk_big&user_id=heavy").await?;
    // The first checklist read of a project indexes its rules from the stored events, once.
    let began = Instant::now();
    let first = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    get_once(first, addr, CHECKLIST_STATE).await?;
    println!("checklists_first_read_s={:.2}", began.elapsed().as_secs_f64());
    readers(o, addr, "checklists", CHECKLIST_STATE).await?;
    println!("peak_rss_mb={:.1}", status_kb("VmHWM:") as f64 / 1024.0);
    state.db.close().await;
    Ok(())
}

const CHECKLIST_STATE: &str = "/v1/checklists/state?key=pk_big&user_id=heavy";

async fn get_once(mut stream: TcpStream, addr: std::net::SocketAddr, path: &str) -> Result<(), String> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    match read_response(&mut stream, &mut buf).await.map_err(|e| e.to_string())? {
        200 => Ok(()),
        status => Err(format!("{path}: status {status}")),
    }
}

/// `--readers` keep-alive connections reading `path` for `--seconds`; prints `{label}_*` figures.
async fn readers(o: &Options, addr: std::net::SocketAddr, label: &str, path: &'static str) -> Result<(), String> {
    let rss_before = status_kb("VmRSS:");
    let deadline = Instant::now() + Duration::from_secs_f64(o.seconds);
    let latencies = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for _ in 0..o.readers {
        let latencies = latencies.clone();
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
            let mut buf = Vec::with_capacity(16 * 1024);
            let mut mine = Vec::new();
            while Instant::now() < deadline {
                let began = Instant::now();
                stream.write_all(request.as_bytes()).await?;
                let status = read_response(&mut stream, &mut buf).await?;
                if status != 200 {
                    return Err(std::io::Error::other(format!("status {status}")));
                }
                mine.push(began.elapsed());
            }
            latencies.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend(mine);
            Ok::<(), std::io::Error>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
    }
    let mut all = latencies.lock().map_err(|_| "poisoned")?.clone();
    all.sort();
    let pct = |p: f64| all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1))).copied();
    let ms = |d: Option<Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0);
    println!("{label}_readers={}", o.readers);
    println!("{label}_requests={}", all.len());
    println!("{label}_p50_ms={:.2}", ms(pct(0.50)));
    println!("{label}_p99_ms={:.2}", ms(pct(0.99)));
    println!("{label}_max_ms={:.2}", ms(all.last().copied()));
    println!("{label}_rss_growth_mb={:.1}", status_kb("VmRSS:").saturating_sub(rss_before) as f64 / 1024.0);
    Ok(())
}

/// Reads one `Content-Length` response; returns its status.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<u16> {
    buf.clear();
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if stream.read_buf(buf).await? == 0 {
            return Err(bad("connection closed before the response head"));
        }
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| bad("response head is not UTF-8"))?.to_string();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| bad("no status"))?;
    let length: usize = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-length")))
        .and_then(|(_, v)| v.trim().parse().ok())
        .ok_or_else(|| bad("no content-length"))?;
    while buf.len() < head_end + length {
        if stream.read_buf(buf).await? == 0 {
            return Err(bad("connection closed mid-body"));
        }
    }
    Ok(status)
}

/// Drops and creates the schema named in the URL's `search_path`.
async fn recreate_schema(url: &str) -> Result<(), String> {
    let schema = url.rsplit("search_path%3D").next().filter(|s| !s.contains('/')).ok_or("--schema is required")?;
    let base = url.split("options=").next().unwrap_or(url).trim_end_matches(['?', '&']);
    let (client, conn) = tokio_postgres::connect(base, tokio_postgres::NoTls).await.map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"))
        .await
        .map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    let result = match parse() {
        Ok(o) if o.mode == "fill" => fill(&o).await,
        Ok(o) if o.mode == "measure" => measure(&o).await,
        Ok(o) => Err(format!("unknown mode {:?}: fill or measure", o.mode)),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scale: {e}");
            ExitCode::FAILURE
        }
    }
}
