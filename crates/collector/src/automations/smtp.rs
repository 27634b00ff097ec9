//! Sending a composed message to an SMTP server (`"email": {"smtp": …}` in
//! the automations file). The message is the outbox row's payload, byte for
//! byte: it was rendered and escaped when the rule ran, so every retry (and
//! every collector sharing the database) sends the same bytes with the same
//! `Message-ID`.
//!
//! TLS is rustls with the webpki roots: STARTTLS (`"tls": "starttls"`, port
//! 587 by default, required: a server that does not offer it is a failed
//! attempt, never a clear-text send) or implicit TLS (`"implicit"`, port
//! 465). `"none"` is accepted only for a server on the loopback interface
//! (a local relay, a test server), so a password or a user's answer never
//! crosses a network in clear text.

use std::fmt;
use std::time::Duration;

use lettre::address::{Address, Envelope};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::SmtpTransport;
use lettre::Transport;

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS, which the server must offer.
    StartTls,
    /// TLS from the first byte (SMTPS).
    Implicit,
    /// Clear text: only to a loopback address (checked when the file is read).
    None,
}

impl SmtpTls {
    pub fn parse(s: &str) -> Option<SmtpTls> {
        match s {
            "starttls" => Some(SmtpTls::StartTls),
            "implicit" => Some(SmtpTls::Implicit),
            "none" => Some(SmtpTls::None),
            _ => None,
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            SmtpTls::StartTls => 587,
            SmtpTls::Implicit => 465,
            SmtpTls::None => 25,
        }
    }
}

/// Where and how emails are sent.
#[derive(Clone, PartialEq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// User and password, read from the environment at startup.
    pub credentials: Option<(String, String)>,
}

// The password must never reach a log line through `{:?}` of the configuration.
impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("user", &self.credentials.as_ref().map(|(user, _)| user))
            .finish()
    }
}

/// Whether `host` names the loopback interface (clear text stays on this machine).
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
        || host.trim_matches(['[', ']']).parse::<std::net::Ipv6Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// Why a send did not go through.
#[derive(Debug, Clone, PartialEq)]
pub struct SendFailure {
    /// The server's reply code, if it answered with one.
    pub code: Option<u16>,
    /// A 5xx answer: the server will not take this message; retrying is pointless.
    pub permanent: bool,
    pub message: String,
}

/// Sends `message` from `from` to `to` (the envelope; the headers are in the
/// message). Blocking: run it on the blocking pool. `Ok` is the server's
/// final reply code.
pub fn send(
    settings: &SmtpSettings,
    from: &str,
    to: &str,
    message: &[u8],
    timeout: Duration,
) -> Result<u16, SendFailure> {
    let local = |message: String| SendFailure { code: None, permanent: true, message };
    let from: Address = from.parse().map_err(|e| local(format!("the sender {from:?} is not an address: {e}")))?;
    let to: Address = to.parse().map_err(|e| local(format!("the recipient {to:?} is not an address: {e}")))?;
    let envelope = Envelope::new(Some(from), vec![to]).map_err(|e| local(format!("no envelope: {e}")))?;
    let tls = match settings.tls {
        SmtpTls::None => Tls::None,
        SmtpTls::StartTls | SmtpTls::Implicit => {
            let params = TlsParameters::new(settings.host.clone())
                .map_err(|e| local(format!("cannot set up TLS for {}: {e}", settings.host)))?;
            if settings.tls == SmtpTls::Implicit {
                Tls::Wrapper(params)
            } else {
                Tls::Required(params)
            }
        }
    };
    let mut builder =
        SmtpTransport::builder_dangerous(settings.host.clone()).port(settings.port).tls(tls).timeout(Some(timeout));
    if let Some((user, password)) = &settings.credentials {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    let transport = builder.build();
    match transport.send_raw(&envelope, message) {
        Ok(response) => Ok(u16::from(response.code())),
        Err(e) => Err(SendFailure {
            code: e.status().map(u16::from),
            permanent: e.is_permanent(),
            message: format!("SMTP {}:{}: {e}", settings.host, settings.port),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_may_go_without_tls() {
        for (host, loopback) in [
            ("localhost", true),
            ("127.0.0.1", true),
            ("::1", true),
            ("[::1]", true),
            ("smtp.example.com", false),
            ("10.0.0.1", false),
        ] {
            assert_eq!(is_loopback(host), loopback, "{host}");
        }
    }

    #[test]
    fn the_password_never_shows_in_debug_output() {
        let s = SmtpSettings {
            host: "smtp.example.com".into(),
            port: 587,
            tls: SmtpTls::StartTls,
            credentials: Some(("mailer".into(), "hunter2-secret".into())),
        };
        let shown = format!("{s:?}");
        assert!(shown.contains("mailer") && !shown.contains("hunter2"), "{shown}");
    }
}
