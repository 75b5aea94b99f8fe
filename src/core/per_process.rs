//! A lazily built value that belongs to one process: after `fork()` the child builds its own.
//!
//! A tokio runtime, or an HTTP client whose connections are driven by a runtime's tasks, does
//! not survive `fork()`: the child has the memory but none of the threads, so the first call
//! waits forever. Python programs fork after importing (Celery prefork, gunicorn `--preload`,
//! multiprocessing's fork start method). [`PerProcess::get`] notices a new process id and builds
//! a fresh value in a fresh slot; the parent's value is left untouched (its threads are gone, so
//! it is never dropped). No lock is taken, so a lock held by a parent thread at the moment of
//! the fork cannot block the child.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// How many nested forks (a child forking a grandchild...) one value supports.
pub const GENERATIONS: usize = 32;

/// A value built once per process (see the module docs).
pub struct PerProcess<T> {
    /// The process id (high 32 bits) and the slot of its value (low 32 bits).
    owner: AtomicU64,
    slots: [OnceLock<T>; GENERATIONS],
}

impl<T> PerProcess<T> {
    /// An empty value; the first [`get`](Self::get) of each process builds it.
    pub const fn new() -> Self {
        PerProcess { owner: AtomicU64::new(0), slots: [const { OnceLock::new() }; GENERATIONS] }
    }

    /// This process's value, built by `build` on first use in this process.
    ///
    /// # Panics
    /// After more than [`GENERATIONS`] nested forks.
    pub fn get(&self, build: impl FnOnce() -> T) -> &T {
        let pid = u64::from(std::process::id());
        let mut owner = self.owner.load(Ordering::Acquire);
        while owner >> 32 != pid {
            // The first use in this process: take the next slot (one thread wins the swap).
            let next = (pid << 32) | ((owner & 0xffff_ffff) + 1);
            match self.owner.compare_exchange(owner, next, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => owner = next,
                Err(now) => owner = now,
            }
        }
        let slot = usize::try_from(owner & 0xffff_ffff).unwrap_or(usize::MAX);
        self.slots.get(slot).expect("kubescale: too many nested forks").get_or_init(build)
    }

    /// Whether this process has built its value yet.
    pub fn is_built_here(&self) -> bool {
        let owner = self.owner.load(Ordering::Acquire);
        owner >> 32 == u64::from(std::process::id())
            && self
                .slots
                .get(usize::try_from(owner & 0xffff_ffff).unwrap_or(usize::MAX))
                .is_some_and(|s| s.get().is_some())
    }
}

impl<T> Default for PerProcess<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_once_per_process() {
        static VALUE: PerProcess<u32> = PerProcess::new();
        assert!(!VALUE.is_built_here());
        assert_eq!(*VALUE.get(|| 7), 7);
        assert_eq!(*VALUE.get(|| 8), 7, "built once");
        assert!(VALUE.is_built_here());
    }

    #[test]
    fn a_new_process_id_takes_a_new_slot() {
        let v: PerProcess<u32> = PerProcess::new();
        assert_eq!(*v.get(|| 1), 1);
        // As a forked child sees it: the parent's pid in `owner`, the parent's value in its slot.
        let parent = (u64::from(std::process::id()) + 1) << 32 | 1;
        v.owner.store(parent, Ordering::Release);
        assert_eq!(*v.get(|| 2), 2, "the child builds its own");
        assert_eq!(v.owner.load(Ordering::Acquire) & 0xffff_ffff, 2);
    }
}
