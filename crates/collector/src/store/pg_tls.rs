//! TLS to Postgres (rustls), by the URL's `sslmode`, as libpq reads it:
//!
//! | `sslmode` | encrypted | server certificate |
//! |---|---|---|
//! | `disable` | no | — |
//! | `prefer` (default) | if the server offers TLS | not checked |
//! | `require` | yes, or no connection | not checked (checked like `verify-ca` with `sslrootcert`) |
//! | `verify-ca` | yes | signed by `sslrootcert` (or a public CA) |
//! | `verify-full` | yes | that, and names the host of the URL |
//!
//! `sslrootcert=<PEM file>` names the CA to trust; without it, the public
//! web CAs (`webpki-roots`). **No silent downgrade:** under `prefer` the
//! first connection finds out whether the server speaks TLS; if it does,
//! every pooled connection then *requires* it (a connection later offered
//! without TLS fails instead of going plain), and if it does not, the
//! collector says so in its log. A failed TLS handshake never falls back.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode as WireMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// The URL's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// How to connect: the URL without the parameters tokio-postgres does not
/// know, the mode, and the CA file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgTls {
    pub url: String,
    pub mode: SslMode,
    pub root_cert: Option<PathBuf>,
}

impl PgTls {
    /// Reads `sslmode` and `sslrootcert` from a `postgres://` URL's query.
    pub fn from_url(url: &str) -> Result<PgTls, String> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let (mut mode, mut root_cert, mut kept) = (SslMode::Prefer, None, Vec::new());
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_encoding::percent_decode_str(value).decode_utf8_lossy();
            match key {
                "sslmode" => {
                    mode = match value.as_ref() {
                        "disable" => SslMode::Disable,
                        // libpq's `allow` tries plain first; here it means what prefer means.
                        "allow" | "prefer" => SslMode::Prefer,
                        "require" => SslMode::Require,
                        "verify-ca" => SslMode::VerifyCa,
                        "verify-full" => SslMode::VerifyFull,
                        other => {
                            return Err(format!(
                                "sslmode={other:?} in DATABASE_URL: use disable, prefer, require, verify-ca or \
                                 verify-full"
                            ))
                        }
                    }
                }
                "sslrootcert" => root_cert = Some(PathBuf::from(value.as_ref())),
                _ => kept.push(pair),
            }
        }
        let url = if kept.is_empty() { base.to_string() } else { format!("{base}?{}", kept.join("&")) };
        Ok(PgTls { url, mode, root_cert })
    }

    /// What tokio-postgres is told: it only knows disable, prefer and require.
    pub fn wire_mode(&self) -> WireMode {
        match self.mode {
            SslMode::Disable => WireMode::Disable,
            SslMode::Prefer => WireMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => WireMode::Require,
        }
    }

    /// The rustls connector for this mode.
    pub fn connector(&self) -> Result<MakeRustlsConnect, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = || -> Result<Arc<RootCertStore>, String> {
            let mut store = RootCertStore::empty();
            match &self.root_cert {
                Some(file) => {
                    use rustls::pki_types::pem::PemObject;
                    let certs = CertificateDer::pem_file_iter(file)
                        .map_err(|e| format!("sslrootcert {}: {e}", file.display()))?;
                    for cert in certs {
                        let cert = cert.map_err(|e| format!("sslrootcert {}: {e}", file.display()))?;
                        store.add(cert).map_err(|e| format!("sslrootcert {}: {e}", file.display()))?;
                    }
                }
                None => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            }
            Ok(Arc::new(store))
        };
        let webpki = || {
            WebPkiServerVerifier::builder_with_provider(roots()?, provider.clone())
                .build()
                .map_err(|e| format!("cannot set up certificate checks: {e}"))
        };
        let verifier: Arc<dyn ServerCertVerifier> = match (self.mode, &self.root_cert) {
            (SslMode::VerifyFull, _) => webpki()?,
            (SslMode::VerifyCa, _) | (SslMode::Require, Some(_)) => Arc::new(AnyName(webpki()?)),
            (SslMode::Disable | SslMode::Prefer | SslMode::Require, _) => Arc::new(Unchecked(provider.clone())),
        };
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot set up TLS: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(MakeRustlsConnect::new(config))
    }
}

/// `verify-ca`: the chain must lead to a trusted root; the name is not checked.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `prefer` and `require` without a CA, as libpq: encrypted, but anyone
/// on the path could present a certificate. The handshake's signatures are
/// still checked against the certificate presented.
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A client for `url` (with its `sslmode`), its connection driven on a task
/// of its own. For tools and tests; the collector itself uses a pool.
pub async fn connect(url: &str) -> Result<tokio_postgres::Client, String> {
    let tls = PgTls::from_url(url)?;
    let mut config: tokio_postgres::Config = tls.url.parse().map_err(|e| format!("DATABASE_URL: {e}"))?;
    config.ssl_mode(tls.wire_mode());
    let (client, connection) = config.connect(tls.connector()?).await.map_err(|e| describe(&e))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// An error with its causes (`error performing TLS handshake: invalid peer
/// certificate: UnknownIssuer`): the first line alone does not say what to fix.
pub fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_and_sslrootcert_are_read_and_taken_out_of_the_url() {
        let tls = PgTls::from_url(
            "postgres://u@db:5432/tp?sslmode=verify-full&options=-c%20search_path%3Dx&sslrootcert=%2Fetc%2Fca.pem",
        )
        .unwrap();
        assert_eq!(
            tls,
            PgTls {
                url: "postgres://u@db:5432/tp?options=-c%20search_path%3Dx".into(),
                mode: SslMode::VerifyFull,
                root_cert: Some("/etc/ca.pem".into()),
            }
        );
        assert_eq!(tls.wire_mode(), WireMode::Require);
        let plain = PgTls::from_url("postgres://u@db/tp").unwrap();
        assert_eq!(
            (plain.url.as_str(), plain.mode, plain.wire_mode()),
            ("postgres://u@db/tp", SslMode::Prefer, WireMode::Prefer)
        );
        assert_eq!(PgTls::from_url("postgres://u@db/tp?sslmode=require").unwrap().wire_mode(), WireMode::Require);
        assert_eq!(PgTls::from_url("postgres://u@db/tp?sslmode=disable").unwrap().wire_mode(), WireMode::Disable);
        let err = PgTls::from_url("postgres://u@db/tp?sslmode=always").unwrap_err();
        assert!(err.contains("sslmode=\"always\""), "{err}");
    }
}
