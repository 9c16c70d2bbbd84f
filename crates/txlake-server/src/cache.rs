//! Encoded metric results, kept per (request, lake version).
//!
//! Dashboards ask the same questions over and over; between two syncs the answers cannot
//! change. The cache keeps the encoded bytes of each answer under the lake version it was
//! computed at, and forgets everything when the version moves (a sync committed). It holds at
//! most `[server] cache_bytes`; past that the oldest answers go first.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use bytes::Bytes;

/// A lake version: the latest version of every raw table.
pub type LakeVersion = Vec<Option<u64>>;

#[derive(Debug, Default)]
struct Entries {
    version: LakeVersion,
    answers: HashMap<String, Bytes>,
    order: VecDeque<String>,
    bytes: usize,
}

/// Encoded answers for one lake version, bounded in bytes.
#[derive(Debug)]
pub struct MetricCache {
    capacity: usize,
    entries: Mutex<Entries>,
}

impl MetricCache {
    /// A cache holding at most `capacity` bytes of answers.
    pub fn new(capacity: usize) -> Self {
        Self { capacity, entries: Mutex::new(Entries::default()) }
    }

    /// The answer to `key` computed at `version`, if kept.
    pub fn get(&self, version: &LakeVersion, key: &str) -> Option<Bytes> {
        let entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if &entries.version != version {
            return None;
        }
        entries.answers.get(key).cloned()
    }

    /// Keeps the answer to `key` computed at `version`. Answers of another version are dropped:
    /// the lake moved on. An answer larger than the whole cache is not kept.
    pub fn put(&self, version: &LakeVersion, key: String, answer: Bytes) {
        if answer.len() > self.capacity {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if &entries.version != version {
            *entries = Entries { version: version.clone(), ..Entries::default() };
        }
        if let Some(old) = entries.answers.insert(key.clone(), answer.clone()) {
            entries.bytes -= old.len();
            entries.order.retain(|k| k != &key);
        }
        entries.bytes += answer.len();
        entries.order.push_back(key);
        while entries.bytes > self.capacity {
            let Some(oldest) = entries.order.pop_front() else { break };
            if let Some(dropped) = entries.answers.remove(&oldest) {
                entries.bytes -= dropped.len();
            }
        }
    }

    /// Answers kept and their bytes.
    pub fn usage(&self) -> (usize, usize) {
        let entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        (entries.answers.len(), entries.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_live_for_one_lake_version() {
        let cache = MetricCache::new(1024);
        let v1 = vec![Some(1), Some(4)];
        let v2 = vec![Some(2), Some(4)];
        cache.put(&v1, "nps?".into(), Bytes::from_static(b"a"));
        assert_eq!(cache.get(&v1, "nps?"), Some(Bytes::from_static(b"a")));
        assert_eq!(cache.get(&v2, "nps?"), None, "a commit invalidates the answer");
        cache.put(&v2, "csat?".into(), Bytes::from_static(b"b"));
        assert_eq!(cache.get(&v1, "nps?"), None);
        assert_eq!(cache.usage(), (1, 1));
    }

    #[test]
    fn the_oldest_answers_go_first_past_the_capacity() {
        let cache = MetricCache::new(10);
        let v = vec![Some(1)];
        cache.put(&v, "a".into(), Bytes::from(vec![0; 4]));
        cache.put(&v, "b".into(), Bytes::from(vec![0; 4]));
        cache.put(&v, "a".into(), Bytes::from(vec![0; 4]));
        cache.put(&v, "c".into(), Bytes::from(vec![0; 4]));
        assert_eq!(cache.get(&v, "b"), None);
        assert!(cache.get(&v, "a").is_some() && cache.get(&v, "c").is_some());
        assert_eq!(cache.usage(), (2, 8));
        cache.put(&v, "huge".into(), Bytes::from(vec![0; 11]));
        assert_eq!(cache.get(&v, "huge"), None, "larger than the cache");
    }
}
