//! Delta tables on object storage: where txlake keeps every synced stream.
//!
//! One Delta table per stream at `<lake>/raw/<connection>/<stream>`, written by the sync
//! through [`StreamTable`]. Each commit carries the connector state that covers its data
//! (commit metadata `txlake.state` plus a `txn` action), so a crash at any point leaves the
//! table at its last commit and the next run resumes from exactly there.
//!
//! Any Delta reader (Spark, Trino, DuckDB, Fabric, Python `deltalake`) can read the tables.

mod dedupe;
mod error;
mod location;
mod lock;
mod runs;
mod schema;
mod table;

pub use error::{LakeError, LockConflict, Result};
pub use location::{Lake, TableId};
pub use lock::{LOCK_TTL, LockHolder, SyncLock};
pub use runs::{RunRecord, RunStatus, SyncRuns};
pub use schema::SchemaPlan;
pub use table::{CommitSummary, StreamTable, WriteMode};
