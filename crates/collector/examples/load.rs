//! Load generator for `POST /v1/events` (a benchmark, not a test; run by
//! `scripts/bench-collector.sh`).
//!
//! Opens `--connections` keep-alive HTTP/1.1 connections to a collector on
//! 127.0.0.1 and has each send batches of `--batch` events back to back,
//! waiting for each answer, until `--seconds` have passed or `--max-batches`
//! were sent. Every event id is new, so every event is a real insert. Prints
//! `key=value` lines: events accepted, events/s, request latency percentiles.
//!
//! Hand-written HTTP over `tokio::net::TcpStream` keeps the generator cheap
//! (it shares the machine's cores with the collector) and adds no dependency.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Options {
    port: u16,
    key: String,
    connections: usize,
    batch: usize,
    seconds: f64,
    max_batches: u64,
}

const USAGE: &str = "usage: load --port PORT --key PUBLIC_KEY [--connections 8] [--batch 100] [--seconds 10] \
                     [--max-batches 100000]   (always 127.0.0.1)";

fn parse_options() -> Result<Options, String> {
    let mut o =
        Options { port: 0, key: String::new(), connections: 8, batch: 100, seconds: 10.0, max_batches: 100_000 };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value:?}: {e}");
        match flag.as_str() {
            "--port" => o.port = value.parse().map_err(|e| bad(&e))?,
            "--key" => o.key = value,
            "--connections" => o.connections = value.parse().map_err(|e| bad(&e))?,
            "--batch" => o.batch = value.parse().map_err(|e| bad(&e))?,
            "--seconds" => o.seconds = value.parse().map_err(|e| bad(&e))?,
            "--max-batches" => o.max_batches = value.parse().map_err(|e| bad(&e))?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if o.port == 0 || o.key.is_empty() {
        return Err("--port and --key are required".into());
    }
    if !(1..=256).contains(&o.connections) || !(1..=100).contains(&o.batch) || !(0.1..=600.0).contains(&o.seconds) {
        return Err("--connections 1..=256, --batch 1..=100, --seconds 0.1..=600".into());
    }
    Ok(o)
}

/// What one connection did.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    accepted: u64,
    /// Non-200 answers or events not reported accepted.
    failures: u64,
    first_failure: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(o) => Arc::new(o),
        Err(e) => {
            eprintln!("load: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, options.port));
    // Distinct per run, so rerunning against the same database inserts again.
    let run = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis();
    let sent = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(options.seconds);

    let tasks: Vec<_> = (0..options.connections)
        .map(|conn| {
            let (options, sent) = (options.clone(), sent.clone());
            tokio::spawn(async move { drive(addr, &options, &sent, deadline, format!("{run}-{conn}")).await })
        })
        .collect();
    let mut total = Tally::default();
    for task in tasks {
        match task.await {
            Ok(Ok(t)) => {
                total.latencies_us.extend(t.latencies_us);
                total.accepted += t.accepted;
                total.failures += t.failures;
                total.first_failure = total.first_failure.or(t.first_failure);
            }
            Ok(Err(e)) => {
                eprintln!("load: connection failed: {e}");
                return ExitCode::FAILURE;
            }
            Err(e) => {
                eprintln!("load: task failed: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let elapsed = start.elapsed().as_secs_f64();

    let mut lat = total.latencies_us;
    lat.sort_unstable();
    let pct = |p: f64| lat.get(((lat.len() as f64 * p).ceil() as usize).saturating_sub(1)).copied().unwrap_or(0);
    let ms = |us: u32| f64::from(us) / 1000.0;
    println!("connections={}", options.connections);
    println!("batch_size={}", options.batch);
    println!("batch_bytes={}", batch_body(&options.key, &format!("{run}-0"), 0, options.batch).len());
    println!("requests={}", lat.len());
    println!("events_accepted={}", total.accepted);
    println!("failures={}", total.failures);
    println!("elapsed_s={elapsed:.2}");
    println!("events_per_s={:.0}", total.accepted as f64 / elapsed);
    println!("p50_ms={:.2}", ms(pct(0.50)));
    println!("p99_ms={:.2}", ms(pct(0.99)));
    println!("max_ms={:.2}", ms(lat.last().copied().unwrap_or(0)));
    if let Some(why) = total.first_failure {
        eprintln!("load: first failure: {why}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// One keep-alive connection sending batches until the deadline or the batch budget.
async fn drive(
    addr: SocketAddr,
    options: &Options,
    sent: &AtomicU64,
    deadline: Instant,
    prefix: String,
) -> std::io::Result<Tally> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let mut tally = Tally::default();
    let mut response = Vec::with_capacity(64 * 1024);
    let mut seq = 0u64;
    while Instant::now() < deadline && sent.fetch_add(1, Ordering::Relaxed) < options.max_batches {
        let body = batch_body(&options.key, &prefix, seq, options.batch);
        seq += 1;
        let request = format!(
            "POST /v1/events HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Origin: http://127.0.0.1:{}\r\nContent-Length: {}\r\n\r\n{body}",
            addr.port(),
            body.len()
        );
        let began = Instant::now();
        stream.write_all(request.as_bytes()).await?;
        let (status, body) = read_response(&mut stream, &mut response).await?;
        tally.latencies_us.push(u32::try_from(began.elapsed().as_micros()).unwrap_or(u32::MAX));

        let accepted = count(body, b"\"accepted\"");
        tally.accepted += accepted as u64;
        if status != 200 || accepted != options.batch {
            tally.failures += 1;
            tally.first_failure.get_or_insert_with(|| {
                format!("status {status}, {accepted} accepted: {}", String::from_utf8_lossy(body))
            });
        }
    }
    Ok(tally)
}

/// A batch shaped like the widget's: track events with a few props, each
/// stamped with the time it is made (as the widget stamps them). A fixed
/// past `ts` would have the collector flag every event as far from its clock.
fn batch_body(key: &str, prefix: &str, seq: u64, n: usize) -> String {
    let now_ms = u64::try_from(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis(),
    )
    .unwrap_or(u64::MAX);
    let mut body = String::with_capacity(n * 220 + 64);
    body.push_str(&format!(r#"{{"key":"{key}","events":["#));
    for i in 0..n {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&format!(
            r#"{{"id":"{prefix}-{seq}-{i}","ts":{},"anonymous_id":"anon-{prefix}-{}","url":"http://127.0.0.1/app/settings","type":"track","name":"clicked_upgrade","props":{{"plan":"pro","step":{i},"source":"load"}}}}"#,
            now_ms,
            i % 10
        ));
    }
    body.push_str("]}");
    body
}

/// Reads one `Content-Length` response into `buf`; returns (status, body).
async fn read_response<'a>(stream: &mut TcpStream, buf: &'a mut Vec<u8>) -> std::io::Result<(u16, &'a [u8])> {
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
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| bad("response head is not UTF-8"))?;
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
    Ok((status, &buf[head_end..head_end + length]))
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack.windows(needle.len()).filter(|w| *w == needle).count()
}
