//! The last scale the handler saw of each target (desired count, resourceVersion, uid), so
//! that a real change to a target it has seen before costs one write and no read: the write
//! tests the remembered count (or, as an update, carries the remembered resourceVersion), and
//! the server refuses it (422 or 409) if the count changed since, after which the handler reads
//! afresh. A wrong guess costs a retry, never a lost update or a wrong `previous`.

use std::collections::HashMap;
use std::sync::Mutex;

/// At most this many targets are remembered; beyond it the oldest half is dropped.
const CAPACITY: usize = 16_384;

use crate::core::scale::write::Base;

/// What was last seen of a target's scale subresource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The count and the resourceVersion it was seen at.
    pub base: Base,
    /// The object's uid (for Events).
    pub uid: Option<String>,
}

/// A bounded map from target key to [`Seen`].
#[derive(Default)]
pub struct ScaleCache {
    map: Mutex<HashMap<String, (u64, Seen)>>,
    clock: std::sync::atomic::AtomicU64,
}

impl ScaleCache {
    /// What was last seen of `key`.
    pub fn get(&self, key: &str) -> Option<Seen> {
        self.map.lock().expect("scale cache poisoned").get(key).map(|(_, s)| s.clone())
    }

    /// Remembers `seen` for `key`.
    pub fn put(&self, key: &str, seen: Seen) {
        let tick = self.clock.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut map = self.map.lock().expect("scale cache poisoned");
        if map.len() >= CAPACITY && !map.contains_key(key) {
            let mut ticks: Vec<u64> = map.values().map(|(t, _)| *t).collect();
            let (_, median, _) = ticks.select_nth_unstable(CAPACITY / 2);
            let cut = *median;
            map.retain(|_, (t, _)| *t > cut);
        }
        map.insert(key.to_string(), (tick, seen));
    }

    /// Forgets `key`.
    pub fn forget(&self, key: &str) {
        self.map.lock().expect("scale cache poisoned").remove(key);
    }

    /// Number of remembered targets.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.lock().expect("scale cache poisoned").len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(spec: i32) -> Seen {
        Seen { base: Base { replicas: Some(spec), resource_version: spec.to_string() }, uid: None }
    }

    #[test]
    fn remembers_forgets_and_stays_bounded() {
        let c = ScaleCache::default();
        c.put("a", seen(1));
        assert_eq!(c.get("a"), Some(seen(1)));
        c.forget("a");
        assert_eq!(c.get("a"), None);
        for i in 0..(CAPACITY + 10) {
            c.put(&format!("k{i}"), seen(1));
        }
        assert!(c.len() <= CAPACITY);
        assert!(c.get(&format!("k{}", CAPACITY + 9)).is_some(), "the newest stays");
    }
}
