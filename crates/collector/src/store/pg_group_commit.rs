//! Group commit on Postgres: concurrent ingest requests share one
//! transaction, as SQLite's writer thread shares its commits (`store::sqlite`).
//!
//! [`WRITERS`] writer tasks each take a request from their queue, then every
//! other request already waiting (up to [`MAX_GROUP`]), store them all with
//! one statement per table (`events::postgres::insert_group`), commit, and
//! only then answer each with its own statuses: what was acknowledged is
//! durable. Under load one commit (its round trips, its WAL flush) and one
//! statement per table serve many requests; alone, a request is committed at once.
//!
//! **Sharded by person.** A request goes to the writer its first event's
//! browser hashes to, so one browser's requests are stored in the order they
//! came, never side by side in two transactions. Requests that name several
//! people may still meet another writer's rows: every transaction locks
//! rows table by table in key order (see `events::postgres`), so they wait
//! for each other but never deadlock.
//!
//! **A refused request fails alone.** If a group's transaction fails (a value
//! Postgres refuses, a lost connection), nothing of it was stored, and each
//! member is stored again in a transaction of its own: the others are
//! stored and only the culprit gets the error.
//!
//! **Duplicates.** The group's events go in as one insert in arrival order,
//! so an id repeated within a request or across requests of one group is
//! stored once, by its first occurrence; the others are answered `duplicate`,
//! as a later request would be.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use touchpoint_protocol::EventStatus;

use super::events::Batch;
use super::postgres::PgPool;
use super::DbError;

/// Writer tasks, each with a connection while it stores a group. More than
/// one lets a group be built while another commits; few, so groups stay large.
pub(super) const WRITERS: usize = 4;
/// Most requests stored in one transaction; bounds the wait of the last one.
const MAX_GROUP: usize = 64;
/// Requests waiting for one writer before `insert` itself waits (backpressure).
const QUEUE: usize = 256;

type Reply = oneshot::Sender<Result<Vec<EventStatus>, DbError>>;

enum Job {
    Insert {
        batch: Batch,
        reply: Reply,
    },
    /// Store everything queued before this, then stop.
    Close,
}

/// Handles to the writer tasks.
pub(super) struct GroupCommit {
    writers: Vec<mpsc::Sender<Job>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl GroupCommit {
    /// Starts `writers` writer tasks on `pool` (on the current tokio runtime).
    pub(super) fn start(pool: PgPool, writers: usize) -> GroupCommit {
        let (senders, tasks) = (0..writers.max(1))
            .map(|_| {
                let (send, jobs) = mpsc::channel(QUEUE);
                (send, tokio::spawn(write_loop(pool.clone(), jobs)))
            })
            .unzip();
        GroupCommit { writers: senders, tasks: Mutex::new(tasks) }
    }

    /// Stores one request's events (in a transaction possibly shared with
    /// other requests) and returns, per event in order, `Accepted` or
    /// `Duplicate`. Returns only once that transaction committed.
    pub(super) async fn insert(&self, batch: Batch) -> Result<Vec<EventStatus>, DbError> {
        let writer = &self.writers[shard(&batch, self.writers.len())];
        let (reply, answer) = oneshot::channel();
        writer.send(Job::Insert { batch, reply }).await.map_err(|_| DbError::Closed)?;
        answer.await.map_err(|_| DbError::Closed)?
    }

    /// Stores every request queued so far and stops the writers. Inserts
    /// after this fail with [`DbError::Closed`].
    pub(super) async fn close(&self) {
        for writer in &self.writers {
            let _ = writer.send(Job::Close).await;
        }
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        for task in tasks {
            let _ = task.await;
        }
    }
}

/// The writer of a request: by its project and its first event's browser.
fn shard(batch: &Batch, writers: usize) -> usize {
    let mut h = DefaultHasher::new();
    batch.project_key.hash(&mut h);
    if let Some(first) = batch.events.first() {
        first.event.anonymous_id.hash(&mut h);
    }
    usize::try_from(h.finish() % writers as u64).unwrap_or(0)
}

async fn write_loop(pool: PgPool, mut jobs: mpsc::Receiver<Job>) {
    let mut closing = false;
    while !closing {
        let Some(first) = jobs.recv().await else { break };
        let mut group: Vec<(Batch, Reply)> = Vec::new();
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Insert { batch, reply } => group.push((batch, reply)),
                Job::Close => {
                    closing = true;
                    break;
                }
            }
            if group.len() < MAX_GROUP {
                next = jobs.try_recv().ok();
            }
        }
        if !group.is_empty() {
            store_group(&pool, group).await;
        }
    }
}

/// Stores a group in one transaction and answers each member; if that
/// fails, stores each member in a transaction of its own.
async fn store_group(pool: &PgPool, group: Vec<(Batch, Reply)>) {
    let batches: Vec<&Batch> = group.iter().map(|(b, _)| b).collect();
    let together = super::events::postgres::insert_group(pool, &batches).await;
    match together {
        Ok(statuses) => {
            for ((_, reply), statuses) in group.into_iter().zip(statuses) {
                let _ = reply.send(Ok(statuses));
            }
        }
        Err(e) if group.len() == 1 => {
            let (_, reply) = group.into_iter().next().expect("one member");
            let _ = reply.send(Err(e));
        }
        // The transaction rolled back: nothing of the group was stored.
        Err(_) => {
            for (batch, reply) in group {
                let alone = super::events::postgres::insert_group(pool, &[&batch]).await;
                let _ = reply.send(alone.map(|mut s| s.pop().unwrap_or_default()));
            }
        }
    }
}
