//! What the collector loads before it listens: the projects, every
//! definition file it is configured with (each checked against the others:
//! automations and targeting name surveys, automations name checklists),
//! and the database. [`AppState::load`] stops at the first file that is
//! wrong, saying which and why; [`AppState::summary`] is the startup line.

use std::fmt;

use crate::accounts::AccountsCatalog;
use crate::automations::config::Context;
use crate::automations::Automations;
use crate::catalog::{CatalogError, SurveyCatalog};
use crate::checklists::ChecklistCatalog;
use crate::config::Config;
use crate::config_file::FileError;
use crate::help::{HelpCatalog, HelpError};
use crate::projects::{Projects, ProjectsError, DEMO_PUBLIC_KEY, DEMO_SECRET_KEY};
use crate::store::{OpenError, Store};
use crate::targeting::TargetingCatalog;
use crate::AppState;

/// Why the collector cannot start.
#[derive(Debug)]
pub enum StartupError {
    Projects(ProjectsError),
    /// No projects file, and an address others can reach without `--demo`.
    DemoExposed(std::net::SocketAddr),
    Surveys(CatalogError),
    Help(HelpError),
    /// Checklists, targeting, accounts or automations (which one: [`FileError::definition`]).
    Definition(FileError),
    Database(OpenError),
}

impl fmt::Display for StartupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartupError::Projects(e) => e.fmt(f),
            StartupError::DemoExposed(addr) => write!(
                f,
                "refusing to serve the demo project on {addr}: its secret key {DEMO_SECRET_KEY} is in the source, so \
                 anyone could read its data. Give --projects FILE with your own keys, listen on 127.0.0.1, or pass \
                 --demo to serve it there anyway"
            ),
            StartupError::Surveys(e) => e.fmt(f),
            StartupError::Help(e) => e.fmt(f),
            StartupError::Definition(e) => e.fmt(f),
            StartupError::Database(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for StartupError {}

impl AppState {
    /// Loads everything `config` names and opens the database. The process
    /// environment supplies the secrets definition files refer to by name.
    pub async fn load(config: &Config) -> Result<AppState, StartupError> {
        let env = |var: &str| std::env::var(var).ok();
        let projects = projects(config)?;
        let surveys = SurveyCatalog::load_dir(&config.surveys_dir).map_err(StartupError::Surveys)?;
        let checklists =
            ChecklistCatalog::load_configured(config.checklists_file.as_deref()).map_err(StartupError::Definition)?;
        let help = HelpCatalog::load_configured(config.help_dir.as_deref()).map_err(StartupError::Help)?;
        let automations = match &config.automations_file {
            Some(file) => {
                let cx = Context { surveys: &surveys, checklists: checklists.as_ref(), projects: &projects, env: &env };
                Some(Automations::load(file, config.email_outbox_dir(), &cx).map_err(StartupError::Definition)?)
            }
            None => None,
        };
        let targeting = match &config.targeting_file {
            Some(file) => Some(TargetingCatalog::load(file, &surveys).map_err(StartupError::Definition)?),
            None => None,
        };
        let accounts = AccountsCatalog::load_configured(config.accounts_file.as_deref(), &env)
            .map_err(StartupError::Definition)?;
        let db = Store::open(&config.data_dir, config.database_url.as_deref()).await.map_err(StartupError::Database)?;
        Ok(AppState::new(config.clone(), projects, db, surveys)
            .with_checklists(checklists)
            .with_help(help)
            .with_automations(automations)
            .with_targeting(targeting)
            .with_accounts(accounts))
    }

    /// What was loaded, in one line for the log.
    pub fn summary(&self) -> String {
        let config = &self.config;
        let checklists = match &self.checklists {
            Some(c) => format!("{} checklist(s) from {}", c.set.checklists().len(), c.file.display()),
            None => "no checklists".into(),
        };
        let help = match &self.help {
            Some(h) => format!("{} help article(s) from {}", h.articles.len(), h.dir.display()),
            None => "no help content".into(),
        };
        let automations = match &self.automations {
            Some(a) => format!(
                "{} automation rule(s) and {} event stream(s) from {}, emails to {}",
                a.config.rules.len(),
                a.config.streams.len(),
                a.config.file.display(),
                a.outbox_dir.display()
            ),
            None => "no automations".into(),
        };
        let targeting = match &self.targeting {
            Some(t) => format!("{} targeted experience(s) from {}", t.experiences.all().len(), t.file.display()),
            None => "no targeting".into(),
        };
        let accounts = match &self.accounts {
            Some(a) => format!(
                "accounts from {} ({} routing rule(s){})",
                a.file.display(),
                a.config.routing.len(),
                if self.automations.is_none() { "; webhooks need --automations to be delivered" } else { "" }
            ),
            None => "no accounts".into(),
        };
        // Never the URL: it may hold a password.
        let database = match self.db.name() {
            "sqlite" => format!("SQLite in {}", config.data_dir.display()),
            _ => "Postgres (DATABASE_URL)".into(),
        };
        format!(
            "{} project(s), {} survey(s) from {}, {checklists}, {help}, {automations}, {targeting}, {accounts}, \
             database: {database}",
            self.projects.len(),
            self.surveys.len(),
            config.surveys_dir.display(),
        )
    }
}

/// The projects file, or the demo project where that is safe.
fn projects(config: &Config) -> Result<Projects, StartupError> {
    match &config.projects_file {
        Some(file) => Projects::load(file).map_err(StartupError::Projects),
        None if !config.addr.ip().is_loopback() && !config.demo => Err(StartupError::DemoExposed(config.addr)),
        None => {
            tracing::warn!(
                "no --projects file: serving the demo project {DEMO_PUBLIC_KEY} / {DEMO_SECRET_KEY} for any origin \
                 (not for production)"
            );
            Ok(Projects::demo())
        }
    }
}
