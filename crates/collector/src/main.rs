//! Reads config, loads the state (`AppState::load`: the definition files and
//! the database), binds, starts the background workers, serves until
//! SIGINT/SIGTERM and shuts down. Everything else is in the library.
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
use touchpoint_collector::accounts::worker::Assessing;
use touchpoint_collector::automations::worker::Automating;
use touchpoint_collector::config::{usage, Command, Config};
use touchpoint_collector::projects::Projects;
use touchpoint_collector::retention::Expiring;
use touchpoint_collector::streams::worker::Streaming;
use touchpoint_collector::worker::Worker;
use touchpoint_collector::{router, AppState};

/// mimalloc rather than the system's allocator: ingest allocates per event
/// (JSON values, strings, column arrays) on every worker thread.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    let state = AppState::load(&config).await?;
    // Installed before the listening line: a supervisor that signals as soon
    // as it reads that line must get a graceful shutdown, not the default kill.
    let shutdown = shutdown_signal()?;
    let listener =
        touchpoint_collector::serve::bind(config.addr).map_err(|e| format!("cannot listen on {}: {e}", config.addr))?;
    let addr = listener.local_addr()?;
    tracing::info!("{}", state.summary());
    // Before the listening line, so the first page load already gets what the files hold.
    if state.config.import_content {
        touchpoint_collector::content::import::at_startup(&state).await;
    }
    let workers = [
        Worker::start::<Automating>(&state),
        Worker::start::<Assessing>(&state),
        Worker::start::<Streaming>(&state),
        Worker::start::<Expiring>(&state),
    ];
    let db = state.db.clone();
    let limits = state.config.limits.clone();
    let readiness = state.readiness.clone();
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
    for worker in workers.into_iter().flatten() {
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
