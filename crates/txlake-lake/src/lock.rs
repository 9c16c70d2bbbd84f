//! The sync lock of a connection: two syncs of the same connection never write at once,
//! whether they run as two CronJob pods, a job and an API-triggered sync, or two shells.
//!
//! The lock is an object in the lake, `_txlake/locks/<connection>.json`, created only if
//! absent (object storage's conditional put), so it works across machines. Its holder
//! renews it while the sync runs; a lock not renewed within its time to live belongs to a
//! killed job and is taken over, so a crashed sync never blocks the next one for long. On
//! the machine where the holder ran, a holder whose process is gone frees it at once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use deltalake::logstore::ObjectStoreRef;
use object_store::path::Path;
use object_store::{ObjectStoreExt as _, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};

use crate::error::{LakeError, LockConflict, Result};
use crate::location::Lake;

/// How long a lock lives without renewal before another sync may take it over.
pub const LOCK_TTL: Duration = Duration::from_secs(60);

/// What the lock object says about its holder.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LockHolder {
    /// The sync run holding the lock.
    pub run_id: String,
    /// The machine (pod) it runs on.
    pub host: String,
    /// Its process id there.
    pub pid: u32,
    /// When it took the lock.
    pub acquired_at: DateTime<Utc>,
    /// Until when the lock holds unless renewed.
    pub expires_at: DateTime<Utc>,
}

/// A held sync lock; renewed in the background until released or dropped.
#[derive(Debug)]
pub struct SyncLock {
    store: ObjectStoreRef,
    path: Path,
    renewal: Option<tokio::task::JoinHandle<()>>,
    /// False when the store cannot create objects conditionally: the sync runs unlocked.
    held: bool,
}

impl SyncLock {
    /// Takes the lock of `connection` for `run_id`, or fails with [`LakeError::Locked`]
    /// naming the sync that holds it. A lock past its expiry is taken over.
    pub async fn acquire(lake: &Lake, connection: &str, run_id: &str, ttl: Duration) -> Result<SyncLock> {
        let store = lake.root_store()?;
        let path = Path::from(format!("_txlake/locks/{connection}.json"));
        let holder = |now: DateTime<Utc>| LockHolder {
            run_id: run_id.to_string(),
            host: hostname(),
            pid: std::process::id(),
            acquired_at: now,
            expires_at: now + ttl,
        };
        // Twice at most: the second attempt follows the removal of a stale lock.
        for _ in 0..2 {
            let now = Utc::now();
            match create(&store, &path, &holder(now)).await {
                Ok(()) => {
                    let renewal = tokio::spawn(renew(store.clone(), path.clone(), holder(now), ttl));
                    return Ok(SyncLock { store, path, renewal: Some(renewal), held: true });
                }
                Err(object_store::Error::NotImplemented { .. }) => {
                    return Ok(SyncLock { store, path, renewal: None, held: false });
                }
                Err(object_store::Error::AlreadyExists { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            let current = match read(&store, &path).await? {
                Some(current) => current,
                // Released between our attempt and the read: try again.
                None => continue,
            };
            if current.expires_at > now && !holder_is_gone(&current) {
                return Err(LakeError::Locked(Box::new(LockConflict {
                    connection: connection.to_string(),
                    holder: format!(
                        "run {} (pid {} on {}) since {}",
                        current.run_id,
                        current.pid,
                        current.host,
                        current.acquired_at.format("%Y-%m-%d %H:%M:%S UTC")
                    ),
                    expires: current.expires_at.format("%H:%M:%S UTC").to_string(),
                    path: path.to_string(),
                })));
            }
            // A killed sync's lock: remove it and create ours.
            match store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(LakeError::Locked(Box::new(LockConflict {
            connection: connection.to_string(),
            holder: "another sync that took it over at the same moment".into(),
            expires: "soon".into(),
            path: path.to_string(),
        })))
    }

    /// False when the lake's store cannot create objects conditionally, so the sync runs
    /// without a lock (the caller warns).
    pub fn is_held(&self) -> bool {
        self.held
    }

    /// Releases the lock.
    pub async fn release(mut self) -> Result<()> {
        if let Some(renewal) = self.renewal.take() {
            renewal.abort();
        }
        if !self.held {
            return Ok(());
        }
        self.held = false;
        match self.store.delete(&self.path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

impl Drop for SyncLock {
    /// A lock dropped without `release` (an error path) is still removed when a runtime is
    /// there to do it; otherwise it expires after its time to live.
    fn drop(&mut self) {
        if let Some(renewal) = self.renewal.take() {
            renewal.abort();
        }
        if self.held
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let (store, path) = (self.store.clone(), self.path.clone());
            runtime.spawn(async move {
                let _ = store.delete(&path).await;
            });
        }
    }
}

async fn create(store: &ObjectStoreRef, path: &Path, holder: &LockHolder) -> object_store::Result<()> {
    let body = serde_json::to_vec(holder).expect("a lock holder serializes");
    let options = PutOptions { mode: PutMode::Create, ..Default::default() };
    store.put_opts(path, PutPayload::from(body), options).await.map(|_| ())
}

async fn read(store: &ObjectStoreRef, path: &Path) -> Result<Option<LockHolder>> {
    let bytes = match store.get(path).await {
        Ok(found) => found.bytes().await?,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    // An unreadable lock (a write cut short) counts as expired.
    Ok(Some(serde_json::from_slice(&bytes).unwrap_or_else(|_| LockHolder {
        run_id: "unknown".into(),
        host: "unknown".into(),
        pid: 0,
        acquired_at: DateTime::<Utc>::MIN_UTC,
        expires_at: DateTime::<Utc>::MIN_UTC,
    })))
}

/// Pushes the expiry forward every third of the time to live.
async fn renew(store: ObjectStoreRef, path: Path, mut holder: LockHolder, ttl: Duration) {
    let mut ticks = tokio::time::interval(ttl / 3);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        holder.expires_at = Utc::now() + ttl;
        let body = serde_json::to_vec(&holder).expect("a lock holder serializes");
        let _ = store.put(&path, PutPayload::from(body)).await;
    }
}

/// True when the holder ran on this machine and its process is gone (killed, crashed): its
/// lock is stale at once, without waiting for the expiry. Elsewhere only the expiry tells.
fn holder_is_gone(holder: &LockHolder) -> bool {
    if holder.host != hostname() || holder.pid == std::process::id() {
        return false;
    }
    process_is_gone(holder.pid)
}

/// A process that exited (a zombie not yet reaped has an empty command line).
#[cfg(target_os = "linux")]
fn process_is_gone(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).map(|cmdline| cmdline.is_empty()).unwrap_or(true)
}

/// Without `/proc` a process cannot be looked up, so only the expiry frees a lock.
#[cfg(not(target_os = "linux"))]
fn process_is_gone(_pid: u32) -> bool {
    false
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok().map(|h| h.trim().to_string()))
        .unwrap_or_else(|| "unknown-host".into())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn lake(name: &str) -> Lake {
        Lake::open(&format!("memory://lock-{name}"), std::path::Path::new("/"), HashMap::new()).unwrap()
    }

    #[tokio::test]
    async fn a_second_sync_of_the_connection_is_refused_until_the_first_releases() {
        let lake = lake("second");
        let first = SyncLock::acquire(&lake, "crm", "run-1", LOCK_TTL).await.unwrap();
        assert!(first.is_held());
        let err = SyncLock::acquire(&lake, "crm", "run-2", LOCK_TTL).await.unwrap_err().to_string();
        assert!(err.contains("another sync of connection `crm` is running: run run-1"), "{err}");
        assert!(err.contains("_txlake/locks/crm.json"), "{err}");
        // Another connection is independent.
        SyncLock::acquire(&lake, "hr", "run-3", LOCK_TTL).await.unwrap().release().await.unwrap();
        first.release().await.unwrap();
        SyncLock::acquire(&lake, "crm", "run-2", LOCK_TTL).await.unwrap().release().await.unwrap();
    }

    #[tokio::test]
    async fn the_stale_lock_of_a_killed_sync_is_taken_over() {
        let lake = lake("stale");
        let store = lake.root_store().unwrap();
        let path = Path::from("_txlake/locks/crm.json");
        let killed = LockHolder {
            run_id: "killed".into(),
            host: "pod-a".into(),
            pid: 7,
            acquired_at: Utc::now() - chrono::Duration::minutes(10),
            expires_at: Utc::now() - chrono::Duration::minutes(9),
        };
        create(&store, &path, &killed).await.unwrap();
        let lock = SyncLock::acquire(&lake, "crm", "run-new", LOCK_TTL).await.unwrap();
        assert_eq!(read(&store, &path).await.unwrap().unwrap().run_id, "run-new");
        lock.release().await.unwrap();
        assert_eq!(read(&store, &path).await.unwrap(), None);

        // A torn lock file counts as stale too.
        store.put(&path, PutPayload::from_static(b"{\"run_id\":")).await.unwrap();
        SyncLock::acquire(&lake, "crm", "run-after-torn", LOCK_TTL).await.unwrap().release().await.unwrap();
    }

    #[tokio::test]
    async fn a_lock_whose_process_is_gone_on_this_machine_is_taken_over_at_once() {
        let lake = lake("gone");
        let store = lake.root_store().unwrap();
        let path = Path::from("_txlake/locks/crm.json");
        let mut exited = std::process::Command::new("true").spawn().unwrap();
        let pid = exited.id();
        exited.wait().unwrap();
        let holder = |pid: u32| LockHolder {
            run_id: "killed".into(),
            host: hostname(),
            pid,
            acquired_at: Utc::now(),
            expires_at: Utc::now() + LOCK_TTL,
        };
        create(&store, &path, &holder(pid)).await.unwrap();
        SyncLock::acquire(&lake, "crm", "run-new", LOCK_TTL).await.unwrap().release().await.unwrap();

        // A live process on this machine (the test itself) keeps its lock.
        create(&store, &path, &holder(std::process::id())).await.unwrap();
        assert!(SyncLock::acquire(&lake, "crm", "run-new", LOCK_TTL).await.is_err());
    }

    #[tokio::test]
    async fn a_file_lake_locks_too() {
        let dir = tempfile::tempdir().unwrap();
        let lake = Lake::open(&format!("file://{}", dir.path().display()), dir.path(), HashMap::new()).unwrap();
        let lock = SyncLock::acquire(&lake, "crm", "run-1", LOCK_TTL).await.unwrap();
        assert!(lock.is_held());
        assert!(dir.path().join("_txlake/locks/crm.json").exists());
        assert!(SyncLock::acquire(&lake, "crm", "run-2", LOCK_TTL).await.is_err());
        lock.release().await.unwrap();
        assert!(!dir.path().join("_txlake/locks/crm.json").exists());
    }
}
