//! `AppState::load`: every file the config names is read and checked against
//! the others, the database is opened, and the startup line says what was
//! loaded; the first wrong file stops it with an error that names it.

mod common;

use std::path::PathBuf;

use touchpoint_collector::config::Config;
use touchpoint_collector::config_file::Definition;
use touchpoint_collector::{AppState, StartupError};

use common::app::repo_file;
use common::TestDb;

async fn config_in(dir: &tempfile::TempDir) -> Config {
    let data_dir = dir.path().join("data");
    let db = TestDb::new(&data_dir).await;
    Config {
        data_dir,
        surveys_dir: repo_file("surveys"),
        checklists_file: Some(repo_file("checklists.json")),
        help_dir: Some(repo_file("help")),
        targeting_file: Some(repo_file("targeting.json")),
        accounts_file: Some(repo_file("accounts.json")),
        database_url: db.database_url().map(String::from),
        ..Config::default()
    }
}

#[tokio::test]
async fn loads_every_configured_file_and_opens_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_in(&dir).await;
    let state = AppState::load(&config).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(state.checklists.is_some() && state.help.is_some() && state.targeting.is_some());
    assert!(state.accounts.is_some() && state.automations.is_none());
    let summary = state.summary();
    for part in [
        "1 project(s)",
        "checklist(s) from",
        "help article(s) from",
        "targeted experience(s) from",
        "no automations",
        "accounts from",
    ] {
        assert!(summary.contains(part), "{part:?} missing from {summary:?}");
    }
    let database = if config.database_url.is_some() { "database: Postgres" } else { "database: SQLite in" };
    assert!(summary.contains(database), "{summary}");
    assert!(!summary.contains("postgres://"), "the URL may hold a password: {summary}");
    state.db.close().await;
}

#[tokio::test]
async fn the_first_wrong_file_stops_it_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let targeting = dir.path().join("targeting.json");
    std::fs::write(&targeting, r#"{"experiences": [{"survey": "no_such_survey"}]}"#).unwrap();
    let config = Config { targeting_file: Some(targeting.clone()), ..config_in(&dir).await };
    let err = AppState::load(&config).await.map(|_| ()).unwrap_err();
    assert!(matches!(&err, StartupError::Definition(e) if e.definition == Definition::Targeting), "{err:?}");
    assert!(err.to_string().contains(&targeting.display().to_string()), "{err}");

    let config = Config { help_dir: Some(PathBuf::from("/no/such/help")), ..config_in(&dir).await };
    let err = AppState::load(&config).await.map(|_| ()).unwrap_err();
    assert!(matches!(err, StartupError::Help(_)), "{err:?}");
}

#[tokio::test]
async fn the_demo_project_is_not_served_to_others_without_demo() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config { addr: "0.0.0.0:0".parse().unwrap(), projects_file: None, ..config_in(&dir).await };
    let err = AppState::load(&config).await.map(|_| ()).unwrap_err();
    assert!(matches!(err, StartupError::DemoExposed(_)), "{err:?}");
    assert!(err.to_string().contains("--demo"), "{err}");
}
