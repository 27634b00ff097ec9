//! The one way a background worker runs: passes in a loop, each timed for
//! `/metrics` (`touchpoint_worker_pass_seconds`), and between two passes a
//! wait that ends early when the job is woken (ingest stored something for
//! it) or the collector stops. [`Worker::stop`] lets the pass in progress
//! finish (a delivery in flight is recorded) and waits for it.
//!
//! The automations, accounts, streams and retention workers are each a
//! [`Job`]: what one pass does, and what wakes it.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::AppState;

/// What a background worker does.
pub trait Job: Send + 'static {
    /// The worker's name in logs and `/metrics`.
    const NAME: &'static str;

    /// The job for `state`; `None` when nothing is configured for it to do.
    fn of(state: &AppState) -> Option<Self>
    where
        Self: Sized;

    /// One pass. Returns how long to wait at most before the next one
    /// (`Duration::ZERO`: there is more to do, go on at once). A long pass
    /// looks at `stop` between its steps.
    fn pass(&mut self, state: &AppState, stop: &Stop) -> impl Future<Output = Duration> + Send;

    /// Resolves when something asks for a pass sooner than planned; never, by default.
    fn woken(&self) -> impl Future<Output = ()> + Send {
        std::future::pending()
    }
}

/// Whether the collector asked the worker to stop.
pub struct Stop(watch::Receiver<bool>);

impl Stop {
    pub fn requested(&self) -> bool {
        *self.0.borrow()
    }
}

/// A running worker; [`Worker::stop`] ends it after the pass in progress.
#[must_use = "a worker dropped without `stop` is not waited for at shutdown"]
pub struct Worker {
    stop: watch::Sender<bool>,
    handle: tokio::task::JoinHandle<()>,
}

impl Worker {
    /// Runs the job `J` on `state` until stopped, if `state` configures one.
    pub fn start<J: Job>(state: &AppState) -> Option<Worker> {
        let job = J::of(state)?;
        let (stop, stopped) = watch::channel(false);
        let handle = tokio::spawn(run(state.clone(), job, stopped));
        Some(Worker { stop, handle })
    }

    /// Asks the worker to stop and waits for its pass in progress to finish.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.handle.await;
    }
}

async fn run<J: Job>(state: AppState, mut job: J, mut stopped: watch::Receiver<bool>) {
    loop {
        let started = Instant::now();
        let wait = job.pass(&state, &Stop(stopped.clone())).await;
        state.metrics.worker_pass(J::NAME, started.elapsed());
        if *stopped.borrow() {
            return;
        }
        if wait.is_zero() {
            continue;
        }
        tokio::select! {
            () = job.woken() => {}
            () = tokio::time::sleep(wait) => {}
            _ = stopped.changed() => return,
        }
    }
}
