//! A small, real SMTP server on 127.0.0.1 for tests: it speaks the protocol
//! over TCP (greeting, EHLO, MAIL, RCPT, DATA with dot-unstuffing, RSET,
//! QUIT), answers `MAIL FROM` from a script (e.g. two `451`s before it
//! accepts), and records every envelope and message it accepted.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// One accepted message.
#[derive(Debug, Clone)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The message as sent, CRLF line ends, dot-unstuffed.
    pub data: String,
}

impl Received {
    /// The header section (before the first empty line).
    pub fn head(&self) -> &str {
        self.data.split_once("\r\n\r\n").map_or(self.data.as_str(), |(h, _)| h)
    }

    /// Header `name`'s value (unfolded), if present.
    pub fn header(&self, name: &str) -> Option<String> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.head()
            .split("\r\n")
            .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
            .map(|l| l[prefix.len()..].trim().to_string())
    }

    /// The decoded body of the MIME part with `content_type` (or the whole
    /// body of a single-part message of that type).
    pub fn part(&self, content_type: &str) -> Option<String> {
        use base64::Engine;
        let decode = |headers: &str, body: &str| -> String {
            if headers.to_ascii_lowercase().contains("content-transfer-encoding: base64") {
                let compact: String = body.split_whitespace().collect();
                String::from_utf8(base64::engine::general_purpose::STANDARD.decode(compact).unwrap()).unwrap()
            } else {
                body.to_string()
            }
        };
        let (head, body) = self.data.split_once("\r\n\r\n")?;
        let ct = self.header("Content-Type")?;
        if ct.starts_with(content_type) {
            return Some(decode(head, body));
        }
        let boundary = ct.split("boundary=\"").nth(1)?.split('"').next()?;
        body.split(&format!("--{boundary}")).find_map(|part| {
            let (h, b) = part.trim_start_matches("\r\n").split_once("\r\n\r\n")?;
            h.to_ascii_lowercase().contains(&format!("content-type: {content_type}")).then(|| decode(h, b))
        })
    }
}

#[derive(Default)]
struct Inner {
    mail_replies: VecDeque<&'static str>,
    sessions: usize,
    refused: usize,
    received: Vec<Received>,
    /// `(user, password)` of each `AUTH PLAIN`.
    logins: Vec<(String, String)>,
}

#[derive(Clone)]
pub struct SmtpServer {
    pub port: u16,
    inner: Arc<Mutex<Inner>>,
}

impl SmtpServer {
    /// Answers each `MAIL FROM` with the next of `mail_replies` (e.g.
    /// `"451 4.3.0 Try again later"`), then with `250`.
    pub async fn start(mail_replies: &[&'static str]) -> SmtpServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let inner =
            Arc::new(Mutex::new(Inner { mail_replies: mail_replies.iter().copied().collect(), ..Inner::default() }));
        let server = SmtpServer { port, inner };
        let shared = server.clone();
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else { return };
                let s = shared.clone();
                tokio::spawn(async move {
                    let _ = s.session(socket).await;
                });
            }
        });
        server
    }

    async fn session(&self, socket: tokio::net::TcpStream) -> std::io::Result<()> {
        self.inner.lock().unwrap().sessions += 1;
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read);
        write.write_all(b"220 test.local ESMTP ready\r\n").await?;
        let (mut from, mut rcpt) = (None::<String>, Vec::new());
        let mut line = String::new();
        loop {
            line.clear();
            if lines.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let upper = line.to_ascii_uppercase();
            let reply: String = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                "250-test.local\r\n250-8BITMIME\r\n250-AUTH PLAIN\r\n250 SIZE 10000000".into()
            } else if upper.starts_with("AUTH PLAIN ") {
                use base64::Engine;
                let raw = base64::engine::general_purpose::STANDARD.decode(line[11..].trim()).unwrap_or_default();
                let fields: Vec<String> =
                    raw.split(|b| *b == 0).map(|f| String::from_utf8_lossy(f).into_owned()).collect();
                match fields.as_slice() {
                    [_, user, password] => {
                        self.inner.lock().unwrap().logins.push((user.clone(), password.clone()));
                        "235 2.7.0 Authentication successful".into()
                    }
                    _ => "501 5.5.2 Cannot decode AUTH PLAIN".into(),
                }
            } else if upper.starts_with("MAIL FROM:") {
                let scripted = self.inner.lock().unwrap().mail_replies.pop_front();
                match scripted {
                    Some(r) => {
                        self.inner.lock().unwrap().refused += 1;
                        r.into()
                    }
                    None => {
                        from = Some(addr(&line[10..]));
                        "250 2.1.0 OK".into()
                    }
                }
            } else if upper.starts_with("RCPT TO:") {
                if from.is_none() {
                    "503 5.5.1 MAIL first".into()
                } else {
                    rcpt.push(addr(&line[8..]));
                    "250 2.1.5 OK".into()
                }
            } else if upper.trim_end() == "DATA" {
                if rcpt.is_empty() {
                    "503 5.5.1 RCPT first".into()
                } else {
                    write.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n").await?;
                    let mut data = String::new();
                    loop {
                        line.clear();
                        if lines.read_line(&mut line).await? == 0 {
                            return Ok(());
                        }
                        if line == ".\r\n" {
                            break;
                        }
                        data.push_str(line.strip_prefix('.').unwrap_or(&line));
                    }
                    let got = Received {
                        mail_from: from.take().unwrap_or_default(),
                        rcpt_to: std::mem::take(&mut rcpt),
                        data,
                    };
                    self.inner.lock().unwrap().received.push(got);
                    "250 2.0.0 queued".into()
                }
            } else if upper.starts_with("RSET") {
                (from, rcpt) = (None, Vec::new());
                "250 2.0.0 OK".into()
            } else if upper.starts_with("NOOP") {
                "250 2.0.0 OK".into()
            } else if upper.starts_with("QUIT") {
                write.write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(());
            } else {
                "502 5.5.2 Command not recognized".into()
            };
            write.write_all(format!("{reply}\r\n").as_bytes()).await?;
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// The credentials of every login.
    pub fn logins(&self) -> Vec<(String, String)> {
        self.inner.lock().unwrap().logins.clone()
    }

    /// `MAIL FROM`s answered from the script (refused).
    pub fn refused(&self) -> usize {
        self.inner.lock().unwrap().refused
    }

    /// Waits up to 15 s for `n` accepted messages.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(Instant::now() < deadline, "expected {n} message(s) at the SMTP server, got {}", got.len());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// `<a@b>` (with any parameters) → `a@b`.
fn addr(s: &str) -> String {
    let s = s.trim();
    s.split_once('<').and_then(|(_, r)| r.split_once('>')).map_or(s, |(a, _)| a).to_string()
}
