//! Reads config, loads surveys, opens the database, binds, serves until
//! SIGINT/SIGTERM. Everything else is in the library.

use std::error::Error;
use std::io::Write;
use std::process::ExitCode;

use tokio::net::TcpListener;
use touchpoint_collector::catalog::SurveyCatalog;
use touchpoint_collector::config::{usage, Command, Config};
use touchpoint_collector::db::Db;
use touchpoint_collector::{router, AppState};

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Command::parse(std::env::args().skip(1), |var| std::env::var(var).ok()) {
        Ok(Command::Run(config)) => config,
        Ok(Command::Help) => {
            print!("{}", usage());
            return ExitCode::SUCCESS;
        }
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

async fn serve(config: Config) -> Result<(), Box<dyn Error>> {
    let surveys = SurveyCatalog::load_dir(&config.surveys_dir)?;
    let db = Db::open(&config.data_dir)?;
    // Installed before the listening line: a supervisor that signals as soon
    // as it reads that line must get a graceful shutdown, not the default kill.
    let shutdown = shutdown_signal()?;
    let listener =
        TcpListener::bind(config.addr).await.map_err(|e| format!("cannot listen on {}: {e}", config.addr))?;
    let addr = listener.local_addr()?;
    eprintln!(
        "touchpoint-collector: {} survey(s) from {}, database in {}",
        surveys.len(),
        config.surveys_dir.display(),
        config.data_dir.display()
    );
    let app = router(AppState::new(config, db, surveys));

    // The one line on stdout; scripts and tests parse it for the bound port.
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "touchpoint-collector listening on http://{addr}")?;
    stdout.flush()?;
    drop(stdout);

    axum::serve(listener, app).with_graceful_shutdown(shutdown).await?;
    eprintln!("touchpoint-collector: shut down");
    Ok(())
}

#[cfg(unix)]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
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
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    })
}
