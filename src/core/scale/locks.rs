//! Per-target locks that serialise scale requests, kept in a map that holds only locks in use.
//!
//! The reference design keeps a lock per target forever; here an entry leaves the map as soon
//! as nobody holds or awaits it, so the map stays as small as the set of busy targets.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Map = Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>;

/// A map of async mutexes keyed by target (`namespace/group/Kind/name`).
#[derive(Default, Clone)]
pub struct KeyedLocks {
    map: Map,
}

/// Removes the map entry when the last user of a key goes, even if it never got the lock
/// (a cancelled waiter).
struct Entry {
    map: Map,
    key: String,
    mutex: Arc<tokio::sync::Mutex<()>>,
}

impl Drop for Entry {
    fn drop(&mut self) {
        let mut map = self.map.lock().expect("lock map poisoned");
        // One reference is the map's, one is ours: nobody else holds or awaits this key.
        if Arc::strong_count(&self.mutex) == 2 {
            map.remove(&self.key);
        }
    }
}

/// Holds a key's lock; releasing it drops the key from the map when nobody else waits for it.
pub struct KeyGuard {
    // Field order matters: the lock is released before the entry checks whether it is idle.
    _guard: tokio::sync::OwnedMutexGuard<()>,
    _entry: Entry,
}

impl KeyedLocks {
    /// Waits for the lock of `key`.
    pub async fn lock(&self, key: &str) -> KeyGuard {
        let mutex = {
            let mut map = self.map.lock().expect("lock map poisoned");
            map.entry(key.to_string()).or_default().clone()
        };
        let entry = Entry { map: self.map.clone(), key: key.to_string(), mutex: mutex.clone() };
        let guard = mutex.lock_owned().await;
        KeyGuard { _guard: guard, _entry: entry }
    }

    /// How many keys are in the map (held or awaited).
    pub fn len(&self) -> usize {
        self.map.lock().expect("lock map poisoned").len()
    }

    /// True when no key is held or awaited.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn map_empties_after_use() {
        let locks = KeyedLocks::default();
        let g = locks.lock("a").await;
        assert_eq!(locks.len(), 1);
        drop(g);
        assert!(locks.is_empty());
    }

    #[tokio::test]
    async fn serialises_and_cleans_up_after_contention() {
        let locks = KeyedLocks::default();
        let counter = Arc::new(tokio::sync::Mutex::new((0u32, 0u32))); // (inside, max inside)
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let locks = locks.clone();
            let counter = counter.clone();
            tasks.push(tokio::spawn(async move {
                let _g = locks.lock("same").await;
                {
                    let mut c = counter.lock().await;
                    c.0 += 1;
                    c.1 = c.1.max(c.0);
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
                counter.lock().await.0 -= 1;
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(counter.lock().await.1, 1, "two holders at once");
        assert!(locks.is_empty());
    }

    #[tokio::test]
    async fn cancelled_waiter_leaves_no_entry() {
        let locks = KeyedLocks::default();
        let g = locks.lock("k").await;
        let waiting = tokio::time::timeout(Duration::from_millis(10), locks.lock("k")).await;
        assert!(waiting.is_err());
        drop(g);
        assert!(locks.is_empty());
    }
}
