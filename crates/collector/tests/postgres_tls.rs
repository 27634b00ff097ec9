//! Postgres over TLS, against the throwaway cluster `scripts/test.sh`
//! starts with `ssl=on` and a certificate for 127.0.0.1 from a CA it made
//! (`TOUCHPOINT_TEST_PG_CA`); and, on a Postgres without TLS, that
//! `require` refuses it and `prefer` says in the log that it is not
//! encrypted. On SQLite there is nothing to check and the tests say so.

use touchpoint_collector::store::pg_tls::connect;
use touchpoint_collector::store::Store;

mod common;

/// `DATABASE_URL` with its `sslmode` (and `sslrootcert`) replaced by `params`, and its host by `host`.
fn url_with(host: &str, params: &str) -> Option<String> {
    let base = common::postgres_url()?;
    std::env::var("TOUCHPOINT_TEST_PG_CA").ok()?;
    let (base, query) = base.split_once('?').unwrap_or((&base, ""));
    let kept: Vec<&str> = query.split('&').filter(|p| !p.is_empty() && !p.starts_with("ssl")).collect();
    let mut all: Vec<String> = kept.iter().map(|p| p.to_string()).collect();
    all.extend(params.split('&').filter(|p| !p.is_empty()).map(str::to_string));
    Some(format!("{}?{}", base.replace("127.0.0.1", host), all.join("&")))
}

fn ca() -> String {
    let path = std::env::var("TOUCHPOINT_TEST_PG_CA").unwrap();
    format!("sslrootcert={}", path.replace('/', "%2F"))
}

/// Whether this session is encrypted, as the server sees it.
async fn encrypted(url: &str) -> Result<bool, String> {
    let client = connect(url).await?;
    let row = client
        .query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])
        .await
        .map_err(|e| e.to_string())?;
    Ok(row.get(0))
}

#[tokio::test]
async fn sslmode_is_honoured_against_a_server_with_a_private_ca() {
    let Some(require) = url_with("127.0.0.1", "sslmode=require") else {
        eprintln!("no Postgres with TLS here (scripts/test.sh starts one): nothing to check");
        return;
    };
    // require: encrypted, whoever signed the certificate.
    assert_eq!(encrypted(&require).await, Ok(true));
    // prefer (and no sslmode at all): encrypted when the server offers it.
    assert_eq!(encrypted(&url_with("127.0.0.1", "sslmode=prefer").unwrap()).await, Ok(true));
    assert_eq!(encrypted(&url_with("127.0.0.1", "").unwrap()).await, Ok(true));
    // verify-full: with our CA and the right name, yes.
    let full = url_with("127.0.0.1", &format!("sslmode=verify-full&{}", ca())).unwrap();
    assert_eq!(encrypted(&full).await, Ok(true));
    // Without the CA, the certificate is not trusted: refused, never downgraded to plain text.
    let untrusted = connect(&url_with("127.0.0.1", "sslmode=verify-full").unwrap()).await.map(|_| ()).unwrap_err();
    assert!(untrusted.contains("UnknownIssuer") || untrusted.contains("certificate"), "{untrusted}");
    // The certificate names 127.0.0.1, not localhost: verify-full refuses, verify-ca (chain only) accepts.
    let wrong_name = url_with("localhost", &format!("sslmode=verify-full&{}", ca())).unwrap();
    let err = connect(&wrong_name).await.map(|_| ()).unwrap_err();
    assert!(err.contains("NotValidForName") || err.contains("name"), "{err}");
    let chain_only = url_with("localhost", &format!("sslmode=verify-ca&{}", ca())).unwrap();
    assert_eq!(encrypted(&chain_only).await, Ok(true));

    // The collector's own store: opens with verify-full, and refuses an untrusted server at startup.
    let dir = tempfile::tempdir().unwrap();
    let schema = format!("tls_{}", std::process::id());
    connect(&require).await.unwrap().batch_execute(&format!("CREATE SCHEMA {schema}")).await.unwrap();
    let scoped = format!("{full}&options=-c%20search_path%3D{schema}");
    let store = Store::open(dir.path(), Some(&scoped)).await.unwrap_or_else(|e| panic!("{e}"));
    store.close().await;
    let refused = Store::open(dir.path(), Some(&url_with("127.0.0.1", "sslmode=verify-full").unwrap())).await;
    let err = refused.map(|_| ()).unwrap_err().to_string();
    assert!(err.contains("cannot connect to Postgres"), "{err}");
}

#[tokio::test]
async fn without_tls_on_the_server_require_refuses_and_prefer_says_so() {
    let Some(base) = common::postgres_url().filter(|_| std::env::var("TOUCHPOINT_TEST_PG_CA").is_err()) else {
        eprintln!("not a Postgres without TLS: nothing to check");
        return;
    };
    let sep = if base.contains('?') { '&' } else { '?' };
    let err = connect(&format!("{base}{sep}sslmode=require")).await.map(|_| ()).unwrap_err();
    assert!(err.contains("does not support TLS"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let err = Store::open(dir.path(), Some(&format!("{base}{sep}sslmode=verify-full"))).await.map(|_| ()).unwrap_err();
    assert!(err.to_string().contains("does not support TLS"), "{err}");

    // prefer: the collector starts, and its log says the connection is not encrypted.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_touchpoint-collector"))
        .args(["--addr", "127.0.0.1:0", "--database-url", &format!("{base}{sep}sslmode=prefer"), "--surveys-dir"])
        .arg(common::app::repo_file("surveys"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("--www-dir")
        .arg(dir.path().join("no-www"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = out.id().to_string();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let _ = std::process::Command::new("kill").args(["-TERM", &pid]).status();
    let out = out.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(String::from_utf8_lossy(&out.stdout).contains("listening on"), "{stderr}");
    assert!(stderr.contains("the connection is NOT encrypted (sslmode=prefer)"), "{stderr}");
}
