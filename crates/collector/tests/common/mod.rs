//! The database each test runs against: SQLite in the test's own directory,
//! or — when `DATABASE_URL` is a `postgres://` URL — a fresh Postgres schema
//! of its own on that server (`scripts/test.sh` runs the suite both ways).
//! Tests read stored rows with [`TestDb::rows`], plain SQL straight from
//! the database, independently of the collector code under test.
#![allow(dead_code)] // Each test binary uses a different part of this.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

pub mod app;
pub mod binary;
pub mod smtp;

use serde_json::Value;
use touchpoint_collector::store::{Store, DB_FILE};

static NEXT_SCHEMA: AtomicUsize = AtomicUsize::new(0);

#[derive(Clone)]
pub enum TestDb {
    Sqlite { data_dir: PathBuf },
    Postgres { url: String },
}

/// The Postgres server of this run, if the suite runs on Postgres.
pub fn postgres_url() -> Option<String> {
    std::env::var("DATABASE_URL").ok().filter(|u| touchpoint_collector::store::is_postgres_url(u))
}

impl TestDb {
    /// SQLite in `data_dir`, or a new empty Postgres schema.
    pub async fn new(data_dir: &Path) -> TestDb {
        match postgres_url() {
            None => TestDb::Sqlite { data_dir: data_dir.to_path_buf() },
            Some(base) => {
                let schema = format!(
                    "t{}_{}_{}",
                    std::process::id(),
                    NEXT_SCHEMA.fetch_add(1, Ordering::Relaxed),
                    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos()
                );
                let client = connect(&base).await;
                client.batch_execute(&format!("CREATE SCHEMA {schema}")).await.unwrap();
                let sep = if base.contains('?') { '&' } else { '?' };
                TestDb::Postgres { url: format!("{base}{sep}options=-c%20search_path%3D{schema}") }
            }
        }
    }

    /// For the binary's `--database-url`.
    pub fn database_url(&self) -> Option<&str> {
        match self {
            TestDb::Sqlite { .. } => None,
            TestDb::Postgres { url } => Some(url),
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, TestDb::Postgres { .. })
    }

    /// The collector's store over this database (migrating it on first open).
    pub async fn open(&self, data_dir: &Path) -> Store {
        match Store::open(data_dir, self.database_url()).await {
            Ok(store) => store,
            Err(e) => panic!("cannot open the test database: {e}"),
        }
    }

    /// Every row of `sql`, each column as JSON (integers, strings or null).
    pub async fn rows(&self, sql: &str) -> Vec<Vec<Value>> {
        match self {
            TestDb::Sqlite { data_dir } => {
                let conn = rusqlite::Connection::open(data_dir.join(DB_FILE)).unwrap();
                let mut q = conn.prepare(sql).unwrap();
                let n = q.column_count();
                let rows = q
                    .query_map([], |r| {
                        (0..n)
                            .map(|i| {
                                Ok(match r.get_ref(i)? {
                                    rusqlite::types::ValueRef::Null => Value::Null,
                                    rusqlite::types::ValueRef::Integer(v) => Value::from(v),
                                    rusqlite::types::ValueRef::Real(v) => Value::from(v),
                                    rusqlite::types::ValueRef::Text(t) => {
                                        Value::from(String::from_utf8_lossy(t).into_owned())
                                    }
                                    rusqlite::types::ValueRef::Blob(_) => Value::from("<blob>"),
                                })
                            })
                            .collect::<rusqlite::Result<Vec<Value>>>()
                    })
                    .unwrap();
                rows.collect::<rusqlite::Result<_>>().unwrap()
            }
            TestDb::Postgres { url } => {
                let client = connect(url).await;
                let rows = client.query(sql, &[]).await.unwrap();
                rows.iter()
                    .map(|r| {
                        (0..r.len())
                            .map(|i| match r.columns()[i].type_().name() {
                                "int8" | "int4" => r.get::<_, Option<i64>>(i).map_or(Value::Null, Value::from),
                                _ => r.get::<_, Option<String>>(i).map_or(Value::Null, Value::from),
                            })
                            .collect()
                    })
                    .collect()
            }
        }
    }

    /// Runs `sql` (several statements) straight on the database, e.g. an
    /// older schema to migrate from.
    pub async fn execute_batch(&self, sql: &str) {
        match self {
            TestDb::Sqlite { data_dir } => {
                std::fs::create_dir_all(data_dir).unwrap();
                rusqlite::Connection::open(data_dir.join(DB_FILE)).unwrap().execute_batch(sql).unwrap();
            }
            TestDb::Postgres { url } => connect(url).await.batch_execute(sql).await.unwrap(),
        }
    }

    /// On Postgres, holds every insert into `events` back until the returned
    /// client is dropped (a transaction holding `SHARE` on the table), so
    /// that requests sent meanwhile queue up for the writers; on SQLite, nothing.
    pub async fn hold_inserts(&self) -> Option<tokio_postgres::Client> {
        let TestDb::Postgres { url } = self else { return None };
        let client = connect(url).await;
        client.batch_execute("BEGIN; LOCK TABLE events IN SHARE MODE").await.unwrap();
        Some(client)
    }

    /// The first column of every row of `sql`, as strings.
    pub async fn strings(&self, sql: &str) -> Vec<String> {
        self.rows(sql).await.into_iter().map(|r| r[0].as_str().unwrap_or_default().to_string()).collect()
    }
}

/// With the collector's TLS, so the suite runs with `sslmode=require` in `DATABASE_URL`.
async fn connect(url: &str) -> tokio_postgres::Client {
    touchpoint_collector::store::pg_tls::connect(url).await.expect("connect to DATABASE_URL")
}
