//! The one background-worker helper (`touchpoint_collector::worker`): each
//! pass is timed for `/metrics`, a wake-up cuts the wait short, and `stop`
//! lets the pass in progress finish and starts no other. And the workers'
//! jobs start only when their part is configured.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use touchpoint_collector::accounts::worker::Assessing;
use touchpoint_collector::automations::worker::Automating;
use touchpoint_collector::retention::Expiring;
use touchpoint_collector::streams::worker::Streaming;
use touchpoint_collector::worker::{Job, Stop, Worker};
use touchpoint_collector::AppState;

use common::app::TestApp;

const PROJECTS: &str = r#"[{"public_key": "pk_worker", "secret_key": "sk_worker", "allowed_origins": ["*"]}]"#;

/// Counts its passes; each takes `pass_takes` and then asks to wait an hour.
#[derive(Clone, Default)]
struct Counting {
    passes: Arc<AtomicUsize>,
    /// Set at the end of a pass, cleared at its start: `false` means one was cut off.
    finished: Arc<AtomicBool>,
    wake: Arc<Notify>,
    pass_takes: Duration,
}

static NEXT: std::sync::Mutex<Option<Counting>> = std::sync::Mutex::new(None);

impl Job for Counting {
    const NAME: &'static str = "counting";

    fn of(_: &AppState) -> Option<Counting> {
        NEXT.lock().unwrap().take()
    }

    async fn pass(&mut self, _: &AppState, _: &Stop) -> Duration {
        self.finished.store(false, Ordering::SeqCst);
        self.passes.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.pass_takes).await;
        self.finished.store(true, Ordering::SeqCst);
        Duration::from_secs(3600)
    }

    fn woken(&self) -> impl std::future::Future<Output = ()> + Send {
        let wake = self.wake.clone();
        async move { wake.notified().await }
    }
}

async fn eventually(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < Duration::from_secs(10), "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn passes_are_timed_woken_early_and_finished_before_stop() {
    let app = TestApp::new(PROJECTS, |s| s).await;
    let job = Counting { pass_takes: Duration::from_millis(300), ..Counting::default() };
    *NEXT.lock().unwrap() = Some(job.clone());
    let worker = Worker::start::<Counting>(&app.state).expect("the job is configured");

    eventually("the first pass", || job.finished.load(Ordering::SeqCst)).await;
    assert_eq!(job.passes.load(Ordering::SeqCst), 1, "then it waits (an hour)");
    let metrics = app.state.metrics.render(None);
    assert!(metrics.contains("touchpoint_worker_pass_seconds_count{worker=\"counting\"} 1"), "{metrics}");

    // A wake-up ends the hour's wait at once.
    job.wake.notify_one();
    eventually("a second pass after the wake-up", || job.passes.load(Ordering::SeqCst) == 2).await;

    // Stopped in the middle of that pass: the pass finishes, no other starts.
    worker.stop().await;
    assert!(job.finished.load(Ordering::SeqCst), "stop returned before the pass in progress finished");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(job.passes.load(Ordering::SeqCst), 2);
    let metrics = app.state.metrics.render(None);
    assert!(metrics.contains("touchpoint_worker_pass_seconds_count{worker=\"counting\"} 2"), "{metrics}");
    app.state.db.close().await;
}

#[tokio::test]
async fn the_collectors_workers_start_only_when_configured() {
    let app = TestApp::new(PROJECTS, |s| s).await;
    assert!(Worker::start::<Automating>(&app.state).is_none(), "no automations file");
    assert!(Worker::start::<Assessing>(&app.state).is_none(), "no accounts file");
    assert!(Worker::start::<Streaming>(&app.state).is_none(), "no streams");
    assert!(Worker::start::<Expiring>(&app.state).is_none(), "no project has a retention");
    app.state.db.close().await;

    let with_retention =
        PROJECTS.replace(r#""allowed_origins": ["*"]"#, r#""allowed_origins": ["*"], "retention_days": 30"#);
    let app = TestApp::new(&with_retention, |s| s).await;
    let worker = Worker::start::<Expiring>(&app.state).expect("a project has a retention");
    let state = app.state.clone();
    eventually("the retention pass, timed", move || {
        state.metrics.render(None).contains("touchpoint_worker_pass_seconds_count{worker=\"retention\"} 1")
    })
    .await;
    worker.stop().await;
    app.state.db.close().await;
}
