//! Reads config, loads projects, surveys, checklists, help, automations and accounts,
//! opens the database (SQLite, or Postgres with `DATABASE_URL`), starts the
//! automation, accounts and streams workers, binds, serves until SIGINT/SIGTERM. Everything else is
//! in the library.
//!
//! Shutdown: on the signal the listener closes, idle connections close, and
//! requests already being processed run to the end (their transaction
//! commits, their answer is sent); then the automation worker finishes the
//! step it is in (a delivery in flight is recorded), and the database writer
//! stores anything still queued and stops. A client that holds a request
//! open longer than [`SHUTDOWN_GRACE`] is cut off; it got no answer, so
//! nothing acknowledged is lost and its retry is recognised by event id.

use std::error::Error;
use std::future::Future;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use tokio::sync::watch;
use touchpoint_collector::automations::config::Context;
use touchpoint_collector::automations::worker::Worker;
use touchpoint_collector::automations::Automations;
use touchpoint_collector::catalog::SurveyCatalog;
use touchpoint_collector::checklists::ChecklistCatalog;
use touchpoint_collector::config::{usage, Command, Config};
use touchpoint_collector::projects::{Projects, DEMO_PUBLIC_KEY, DEMO_SECRET_KEY};
use touchpoint_collector::store::Store;
use touchpoint_collector::targeting::TargetingCatalog;
use touchpoint_collector::{router, AppState};

/// How long requests in flight may take to finish after the shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Command::parse(std::env::args().skip(1), |var| std::env::var(var).ok()) {
        Ok(Command::Run(config)) => config,
        Ok(Command::Help) => {
            print!("{}", usage());
            return ExitCode::SUCCESS;
        }
        Ok(Command::Types { projects, key }) => return print_types(&projects, key.as_deref()),
        Ok(Command::Conformance(options)) => {
            let report = tokio::task::spawn_blocking(move || touchpoint_collector::conformance::run(options)).await;
            return match report {
                Ok(report) => {
                    print!("{report}");
                    if report.passed() {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    }
                }
                Err(e) => {
                    eprintln!("touchpoint-collector conformance: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        Ok(Command::Push(options)) => {
            let (text, ok) =
                match tokio::task::spawn_blocking(move || touchpoint_collector::content::push::run(&options)).await {
                    Ok(outcome) => outcome,
                    Err(e) => (format!("{e}\n"), false),
                };
            return if ok {
                print!("{text}");
                ExitCode::SUCCESS
            } else {
                eprint!("touchpoint-collector push: {text}");
                ExitCode::FAILURE
            };
        }
        Ok(Command::Lint { dir, projects }) => return lint(&dir, projects.as_deref()),
        Err(e) => {
            eprintln!("touchpoint-collector: {e}");
            return ExitCode::from(2);
        }
    };
    match serve(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("touchpoint-collector: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `touchpoint-collector lint`: every problem on stdout, exit 1 if any.
fn lint(dir: &std::path::Path, projects: Option<&std::path::Path>) -> ExitCode {
    let projects = match projects.map(Projects::load).transpose() {
        Ok(p) => p.unwrap_or_else(Projects::demo),
        Err(e) => {
            eprintln!("touchpoint-collector lint: {e}");
            return ExitCode::from(2);
        }
    };
    let env = |var: &str| std::env::var(var).ok();
    let report = touchpoint_collector::content::lint::lint(dir, &projects, &env);
    print!("{report}");
    if report.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `touchpoint-collector types`: the declared events of one project as TypeScript.
fn print_types(file: &std::path::Path, key: Option<&str>) -> ExitCode {
    let fail = |msg: String| {
        eprintln!("touchpoint-collector types: {msg}");
        ExitCode::FAILURE
    };
    let projects = match Projects::load(file) {
        Ok(p) => p,
        Err(e) => return fail(e.to_string()),
    };
    let keys: Vec<&str> = projects.public_keys().collect();
    let key = match (key, keys.as_slice()) {
        (Some(k), _) => k,
        (None, [only]) => only,
        (None, _) => {
            return fail(format!("the file has {} projects; name one with --key ({})", keys.len(), keys.join(", ")))
        }
    };
    let Some(entry) = projects.by_public_key(key) else {
        return fail(format!("no project with public key {key:?} in {} ({})", file.display(), keys.join(", ")));
    };
    let Some(schema) = &entry.project.events else {
        return fail(format!("project {key} declares no events (add \"events\": {{\"declared\": {{…}}}} to it)"));
    };
    print!("{}", schema.typescript(&format!("{} (project {key})", file.display())));
    ExitCode::SUCCESS
}

async fn serve(config: Config) -> Result<(), Box<dyn Error>> {
    touchpoint_collector::observe::init(config.log_format);
    let projects = match &config.projects_file {
        Some(file) => Projects::load(file)?,
        None if !config.addr.ip().is_loopback() && !config.demo => {
            return Err(format!(
                "refusing to serve the demo project on {}: its secret key {DEMO_SECRET_KEY} is in the source, so \
                 anyone could read its data. Give --projects FILE with your own keys, listen on 127.0.0.1, or pass \
                 --demo to serve it there anyway",
                config.addr
            )
            .into())
        }
        None => {
            tracing::warn!(
                "no --projects file: serving the demo project {DEMO_PUBLIC_KEY} / {DEMO_SECRET_KEY} for any origin \
                 (not for production)"
            );
            Projects::demo()
        }
    };
    let surveys = SurveyCatalog::load_dir(&config.surveys_dir)?;
    let checklists = ChecklistCatalog::load_configured(config.checklists_file.as_deref())?;
    let help = touchpoint_collector::help::HelpCatalog::load_configured(config.help_dir.as_deref())?;
    let automations = match &config.automations_file {
        Some(file) => {
            let env = |var: &str| std::env::var(var).ok();
            let cx = Context { surveys: &surveys, checklists: checklists.as_ref(), projects: &projects, env: &env };
            Some(Automations::load(file, config.email_outbox_dir(), &cx)?)
        }
        None => None,
    };
    let targeting = match &config.targeting_file {
        Some(file) => Some(TargetingCatalog::load(file, &surveys)?),
        None => None,
    };
    let accounts = {
        let env = |var: &str| std::env::var(var).ok();
        touchpoint_collector::accounts::AccountsCatalog::load_configured(config.accounts_file.as_deref(), &env)?
    };
    let db = Store::open(&config.data_dir, config.database_url.as_deref()).await?;
    // Installed before the listening line: a supervisor that signals as soon
    // as it reads that line must get a graceful shutdown, not the default kill.
    let shutdown = shutdown_signal()?;
    let listener =
        touchpoint_collector::serve::bind(config.addr).map_err(|e| format!("cannot listen on {}: {e}", config.addr))?;
    let addr = listener.local_addr()?;
    let checklists_note = match &checklists {
        Some(c) => format!("{} checklist(s) from {}", c.set.checklists().len(), c.file.display()),
        None => "no checklists".into(),
    };
    let help_note = match &help {
        Some(h) => format!("{} help article(s) from {}", h.articles.len(), h.dir.display()),
        None => "no help content".into(),
    };
    let automations_note = match &automations {
        Some(a) => format!(
            "{} automation rule(s) and {} event stream(s) from {}, emails to {}",
            a.config.rules.len(),
            a.config.streams.len(),
            a.config.file.display(),
            a.outbox_dir.display()
        ),
        None => "no automations".into(),
    };
    let targeting_note = match &targeting {
        Some(t) => format!("{} targeted experience(s) from {}", t.experiences.all().len(), t.file.display()),
        None => "no targeting".into(),
    };
    let accounts_note = match &accounts {
        Some(a) => format!(
            "accounts from {} ({} routing rule(s){})",
            a.file.display(),
            a.config.routing.len(),
            if automations.is_none() { "; webhooks need --automations to be delivered" } else { "" }
        ),
        None => "no accounts".into(),
    };
    // Never print the URL: it may hold a password.
    let database_note = match &db {
        Store::Sqlite(_) => format!("SQLite in {}", config.data_dir.display()),
        Store::Postgres(_) => "Postgres (DATABASE_URL)".into(),
    };
    tracing::info!(
        "{} project(s), {} survey(s) from {}, {checklists_note}, {help_note}, \
         {automations_note}, {targeting_note}, {accounts_note}, database: {database_note}",
        projects.len(),
        surveys.len(),
        config.surveys_dir.display(),
    );
    let state = AppState::new(config, projects, db.clone(), surveys)
        .with_checklists(checklists)
        .with_help(help)
        .with_automations(automations)
        .with_targeting(targeting)
        .with_accounts(accounts);
    // Before the listening line, so the first page load already gets what the files hold.
    if state.config.import_content {
        touchpoint_collector::content::import::at_startup(&state).await;
    }
    let worker = Worker::spawn(&state);
    let accounts_worker = touchpoint_collector::accounts::worker::Worker::spawn(&state);
    let streams_worker = touchpoint_collector::streams::worker::Worker::spawn(&state);
    let limits = state.config.limits.clone();
    let readiness = state.readiness.clone();
    let retention_worker = touchpoint_collector::retention::Worker::spawn(&state);
    let app = router(state);

    // The one line on stdout; scripts and tests parse it for the bound port.
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "touchpoint-collector listening on http://{addr}")?;
    stdout.flush()?;
    drop(stdout);

    // The signal starts the graceful shutdown, and also the grace period.
    let (stopping, stop) = watch::channel(false);
    let drain = limits.drain;
    tokio::spawn(async move {
        shutdown.await;
        readiness.stopping();
        if !drain.is_zero() {
            tracing::info!("shutting down: /readyz says 503, serving for {drain:?} more");
            tokio::time::sleep(drain).await;
        }
        tracing::info!("shutting down, finishing requests in flight");
        let _ = stopping.send(true);
    });
    let signalled = move || {
        let mut stop = stop.clone();
        async move {
            let _ = stop.wait_for(|stopping| *stopping).await;
        }
    };
    let server = touchpoint_collector::serve::serve(listener, app, &limits, signalled());
    let grace = signalled();
    tokio::select! {
        result = server => result?,
        () = async { grace.await; tokio::time::sleep(SHUTDOWN_GRACE).await } => {
            tracing::warn!("requests still open after {SHUTDOWN_GRACE:?}, closing them unanswered");
        }
    }
    // Deliveries in flight finish (or time out) and are recorded before the database closes.
    if let Some(worker) = streams_worker {
        worker.stop().await;
    }
    if let Some(worker) = accounts_worker {
        worker.stop().await;
    }
    if let Some(worker) = retention_worker {
        worker.stop().await;
    }
    if let Some(worker) = worker {
        worker.stop().await;
    }
    db.close().await;
    tracing::info!("shut down");
    Ok(())
}

#[cfg(unix)]
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> std::io::Result<impl Future<Output = ()>> {
    Ok(async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    })
}
