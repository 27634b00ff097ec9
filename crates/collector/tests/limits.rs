//! Connection and per-client limits on the real binary over real sockets:
//! slow and half-open connections are cut after the header timeout while
//! `/healthz` answers, a full server waits for a free connection, a slow
//! body is answered 408, and one abusive client is refused while another
//! client of the same project is served.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod common;
use common::binary::{listening_addr, serving};

const KEY: &str = "pk_limits";
const SECRET: &str = "sk_limits_4f9c2a7e1b8d3f6a0c5e9b2d";

struct Collector {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary with one project (`client_limits` as given) and `args`.
fn start(client_limits: Value, args: &[&str]) -> Collector {
    let dir = tempfile::tempdir().unwrap();
    let spec = json!([{"public_key": KEY, "secret_key": SECRET, "allowed_origins": ["*"],
                       "rate_limit": {"events_per_second": 100000, "burst": 100000},
                       "client_limits": client_limits}]);
    // The limits do not depend on the store: SQLite keeps this test independent of a database server.
    let mut child = serving(dir.path(), &spec, None).args(args).stderr(Stdio::inherit()).spawn().unwrap();
    let addr = listening_addr(&mut child);
    Collector { child, addr, _dir: dir }
}

/// One request on its own connection; `(status, body)`, or `None` if no answer came within `wait`.
fn request(addr: &str, head: &str, body: &str, wait: Duration) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(wait)).unwrap();
    write!(stream, "{head}Host: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
    let mut response = Vec::new();
    match stream.read_to_end(&mut response) {
        Ok(_) => {}
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) && response.is_empty() => {
            return None
        }
        Err(e) => panic!("reading the answer: {e}"),
    }
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{response:?}"));
    Some((status, body.to_string()))
}

fn healthz(addr: &str, wait: Duration) -> Option<u16> {
    request(addr, "GET /healthz HTTP/1.1\r\n", "", wait).map(|(status, _)| status)
}

/// Whether the server has closed `stream` (EOF or reset), without waiting long.
fn closed(mut stream: &TcpStream) -> bool {
    stream.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 64];
    match stream.read(&mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    }
}

#[test]
fn slow_and_half_open_connections_are_cut_after_the_header_timeout_while_healthz_answers() {
    let timeout = Duration::from_millis(5000);
    let c = start(json!({}), &["--header-timeout-ms", "5000", "--max-connections", "4000"]);
    let opened = Instant::now();
    let slow: Vec<TcpStream> = (0..3000)
        .map(|i| {
            let mut s = TcpStream::connect(&c.addr).unwrap();
            // Half send nothing at all; half start a request head and never finish it.
            if i % 2 == 1 {
                s.write_all(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: appl").unwrap();
            }
            s
        })
        .collect();
    // Well within the timeout, with 3,000 connections held: the collector still answers.
    eprintln!("3000 connections opened in {:?}", opened.elapsed());
    assert_eq!(healthz(&c.addr, Duration::from_secs(1)), Some(200));
    assert!(opened.elapsed() < timeout, "opening took {:?}, too long for the check to mean anything", opened.elapsed());
    let open_now = slow.iter().filter(|s| !closed(s)).count();
    assert_eq!(open_now, 3000, "connections must not be cut before the timeout");
    assert!(opened.elapsed() < timeout, "checking took {:?}, past the timeout", opened.elapsed());

    // After the timeout every one of them is closed by the server.
    let deadline = opened + timeout + Duration::from_secs(10);
    let mut open: Vec<usize> = (0..slow.len()).collect();
    while !open.is_empty() && Instant::now() < deadline {
        open.retain(|&i| !closed(&slow[i]));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(open.is_empty(), "{} of 3000 connections still open 10 s after the timeout", open.len());
    assert!(opened.elapsed() >= timeout, "cut before the timeout");
    assert_eq!(healthz(&c.addr, Duration::from_secs(1)), Some(200));
}

#[test]
fn a_full_server_serves_the_next_connection_once_one_is_cut() {
    let c = start(json!({}), &["--header-timeout-ms", "1500", "--max-connections", "20"]);
    let idle: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(&c.addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    // Every slot is held: the 21st connection waits in the listen queue, unanswered...
    let started = Instant::now();
    let mut waiting = TcpStream::connect(&c.addr).unwrap();
    write!(waiting, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut buf = [0u8; 12];
    waiting.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let early = waiting.read(&mut buf);
    assert!(early.is_err(), "answered while every connection slot was taken: {early:?}");
    // ...and is answered once the idle ones are cut.
    waiting.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    waiting.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"HTTP/1.1 200", "{:?}", String::from_utf8_lossy(&buf));
    assert!(started.elapsed() >= Duration::from_millis(1000), "answered after {:?}", started.elapsed());
    drop(idle);
}

#[test]
fn a_body_that_does_not_arrive_in_time_is_answered_408() {
    let c = start(json!({}), &["--body-timeout-ms", "800", "--header-timeout-ms", "5000"]);
    let mut stream = TcpStream::connect(&c.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let started = Instant::now();
    write!(
        stream,
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"key\""
    )
    .unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    assert!(response.starts_with("HTTP/1.1 408"), "{response:?}");
    assert!(response.contains("did not arrive within 800 ms"), "{response:?}");
    assert!(started.elapsed() >= Duration::from_millis(800));
}

fn batch(n: usize) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let events: Vec<Value> = (0..n)
        .map(|i| {
            json!({"id": format!("e-{}-{i}", uuid_ish()), "ts": now, "anonymous_id": "a1",
                   "url": "https://app.example.com/", "type": "track", "name": "clicked", "props": {}})
        })
        .collect();
    json!({"key": KEY, "events": events}).to_string()
}

fn uuid_ish() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}

fn post_as(addr: &str, client: &str, body: &str) -> (u16, String) {
    let head = format!("POST /v1/events HTTP/1.1\r\nX-Forwarded-For: {client}\r\nContent-Type: application/json\r\n");
    request(addr, &head, body, Duration::from_secs(10)).expect("an answer")
}

fn read_as(addr: &str, client: &str) -> u16 {
    let head = format!("GET /v1/config?key={KEY}&anonymous_id=a1 HTTP/1.1\r\nX-Forwarded-For: {client}\r\n");
    request(addr, &head, "", Duration::from_secs(10)).expect("an answer").0
}

#[test]
fn an_abusive_client_gets_429_while_another_client_of_the_project_is_served() {
    let limits = json!({"events_per_second": 1, "event_burst": 100, "reads_per_second": 1, "read_burst": 3});
    let c = start(limits, &["--client-ip-header", "x-forwarded-for"]);
    let (abuser, other) = ("10.9.8.7, 203.0.113.1", "203.0.113.2");

    // Ingest: one full batch, then the abuser's bucket is empty.
    assert_eq!(post_as(&c.addr, abuser, &batch(100)).0, 200);
    let (status, body) = post_as(&c.addr, abuser, &batch(10));
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("per client"), "{body}");
    // Changing the entries before the balancer's does not make a new client.
    assert_eq!(post_as(&c.addr, "1.2.3.4, 203.0.113.1", &batch(1)).0, 429);
    // Same project, another client: served.
    assert_eq!(post_as(&c.addr, other, &batch(100)).0, 200);

    // Public reads: three, then 429 for the abuser only.
    for _ in 0..3 {
        assert_eq!(read_as(&c.addr, abuser), 200);
    }
    assert_eq!(read_as(&c.addr, abuser), 429);
    assert_eq!(read_as(&c.addr, other), 200);
}

#[test]
fn without_a_trusted_header_the_client_is_the_socket_peer() {
    let limits = json!({"events_per_second": 1, "event_burst": 100, "reads_per_second": 1, "read_burst": 2});
    let c = start(limits, &[]);
    // Both "clients" come from 127.0.0.1: a forged X-Forwarded-For does not buy a fresh bucket.
    assert_eq!(read_as(&c.addr, "203.0.113.1"), 200);
    assert_eq!(read_as(&c.addr, "203.0.113.2"), 200);
    assert_eq!(read_as(&c.addr, "203.0.113.3"), 429);
    assert_eq!(post_as(&c.addr, "203.0.113.1", &batch(100)).0, 200);
    assert_eq!(post_as(&c.addr, "203.0.113.2", &batch(1)).0, 429);
}
