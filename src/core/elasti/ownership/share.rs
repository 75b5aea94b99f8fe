//! Which shards a replica holds, as pure functions of the group's Leases as listed, the time,
//! and what it holds: who is alive, which shards are free, how many one replica may hold, which
//! to take and which to give up. `shards.rs` feeds them from its LIST and carries them out.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::LeaseSpec;
use tokio::time::Instant;

use crate::core::elasti::ownership::lease_seen::LeaseSeen;

/// A shard's Lease as one LIST of the group shows it, judged by its elector.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ShardLease {
    /// The shard's index.
    pub index: u32,
    /// Its holder (empty: none).
    pub holder: String,
    /// Whether its elector judges it expired (unchanged for its duration by our clock).
    pub expired: bool,
}

/// The most shards one replica may hold among `live` members.
pub(crate) fn share(count: u32, live: u32) -> u32 {
    count.div_ceil(live.max(1))
}

/// The shards of `count` that may be taken: no Lease yet, no holder, or a foreign holder whose
/// Lease expired. A shard `me` holds is not free.
pub(crate) fn free_shards(count: u32, me: &str, leases: &[ShardLease]) -> BTreeSet<u32> {
    let mut free: BTreeSet<u32> = (0..count).collect();
    for l in leases.iter().filter(|l| !l.holder.is_empty()) {
        if l.holder == me || !l.expired {
            free.remove(&l.index);
        }
    }
    free
}

/// How many members are live: this replica, and each other member whose Lease has a holder and
/// changed within `duration` by this process's clock. `memory` (member Lease name → what was
/// seen) follows the LIST: members no longer listed are forgotten.
pub(crate) fn live_members(
    memory: &mut HashMap<String, LeaseSeen>,
    others: &[(String, LeaseSpec)],
    duration: Duration,
    now: Instant,
) -> u32 {
    let mut live = 1;
    let mut listed = std::collections::HashSet::new();
    for (name, spec) in others {
        listed.insert(name.as_str());
        let seen = LeaseSeen::after(memory.get(name), spec, now);
        if !seen.holder.is_empty() && seen.unchanged_for(now) <= duration {
            live += 1;
        }
        memory.insert(name.clone(), seen);
    }
    memory.retain(|name, _| listed.contains(name.as_str()));
    live
}

/// The shards in this replica's order: from its own offset, round the ring.
fn in_order(count: u32, offset: u32) -> impl Iterator<Item = u32> {
    (0..count).map(move |k| (offset + k) % count.max(1))
}

/// The free shards this replica tries to take, in its order, and how many it wants of them (up
/// to its share; the caller stops once it has taken that many).
pub(crate) fn to_take(
    count: u32,
    offset: u32,
    share: u32,
    held: &BTreeSet<u32>,
    free: &BTreeSet<u32>,
) -> (Vec<u32>, usize) {
    let wanted = (share as usize).saturating_sub(held.len());
    let candidates = in_order(count, offset).filter(|i| free.contains(i) && !held.contains(i)).collect();
    (candidates, wanted)
}

/// The held shards beyond the share, to give up: the ones last in this replica's order.
pub(crate) fn to_give_up(count: u32, offset: u32, share: u32, held: &BTreeSet<u32>) -> Vec<u32> {
    in_order(count, offset).filter(|i| held.contains(i)).skip(share as usize).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;

    use crate::core::elasti::ownership::shards::shard_of;

    fn lease(index: u32, holder: &str, expired: bool) -> ShardLease {
        ShardLease { index, holder: holder.into(), expired }
    }

    #[test]
    fn free_shards_table() {
        // (leases listed, free shards of 4, for "me")
        let table: [(Vec<ShardLease>, Vec<u32>); 6] = [
            (vec![], vec![0, 1, 2, 3]),
            // Another holder, renewed within its duration: not free.
            (vec![lease(1, "other", false)], vec![0, 2, 3]),
            // Another holder, expired on our clock: free.
            (vec![lease(1, "other", true)], vec![0, 1, 2, 3]),
            // Released (no holder): free.
            (vec![lease(2, "", false)], vec![0, 1, 2, 3]),
            // Ours, even when our own renewal looks old: not free (we renew it, not take it).
            (vec![lease(3, "me", true)], vec![0, 1, 2]),
            (vec![lease(0, "a", false), lease(1, "b", false), lease(2, "c", true)], vec![2, 3]),
        ];
        for (leases, free) in table {
            assert_eq!(free_shards(4, "me", &leases).into_iter().collect::<Vec<_>>(), free, "{leases:?}");
        }
    }

    #[test]
    fn share_table() {
        for (count, live, share_) in [(12, 1, 12), (12, 2, 6), (12, 5, 3), (12, 12, 1), (12, 20, 1), (12, 0, 12)] {
            assert_eq!(share(count, live), share_, "{count} shards, {live} live");
        }
    }

    #[test]
    fn taking_and_giving_up_follow_the_replicas_order() {
        let held: BTreeSet<u32> = [1, 5, 9, 10].into();
        // Offset 9: the order is 9, 10, 11, 0, 1, ...; the last ones in it go first.
        assert_eq!(to_give_up(12, 9, 2, &held), vec![1, 5]);
        assert_eq!(to_give_up(12, 9, 4, &held), Vec::<u32>::new());
        let free: BTreeSet<u32> = [0, 3, 11].into();
        assert_eq!(to_take(12, 9, 6, &held, &free), (vec![11, 0, 3], 2));
        assert_eq!(to_take(12, 9, 4, &held, &free).1, 0);
    }

    fn member(renew: &str) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some("x".into()),
            renew_time: Some(MicroTime(renew.parse().unwrap())),
            lease_duration_seconds: Some(15),
            ..Default::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn members_join_and_leave() {
        let d = Duration::from_secs(15);
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut memory = HashMap::new();
        // Alone.
        assert_eq!(live_members(&mut memory, &[], d, at(0)), 1);
        // A member joins: counted at once.
        let b = |renew: &str| ("b".to_string(), member(renew));
        assert_eq!(live_members(&mut memory, &[b("2026-01-01T00:00:00Z")], d, at(1)), 2);
        // It renews: still counted.
        assert_eq!(live_members(&mut memory, &[b("2026-01-01T00:00:05Z")], d, at(10)), 2);
        // It stops renewing (paused, dead): no longer counted once unchanged for a duration.
        assert_eq!(live_members(&mut memory, &[b("2026-01-01T00:00:05Z")], d, at(25)), 2);
        assert_eq!(live_members(&mut memory, &[b("2026-01-01T00:00:05Z")], d, at(26)), 1);
        // It comes back (renews): counted again at once.
        assert_eq!(live_members(&mut memory, &[b("2026-01-01T00:01:00Z")], d, at(40)), 2);
        // It leaves (its Lease deleted): not counted, and forgotten.
        assert_eq!(live_members(&mut memory, &[], d, at(41)), 1);
        assert!(memory.is_empty());
        // A released membership (no holder) does not count.
        let released = ("c".to_string(), LeaseSpec::default());
        assert_eq!(live_members(&mut memory, &[released], d, at(42)), 1);
    }

    /// One replica in the simulation: its offset and the shards it holds.
    struct Replica {
        offset: u32,
        held: BTreeSet<u32>,
    }

    /// One coordination tick of every replica in turn (between passes), on a shared view of
    /// the shards' holders: give up what exceeds the share, take free shards up to it.
    fn tick_all(replicas: &mut [Replica], holders: &mut [Option<usize>], count: u32) {
        let live = replicas.len() as u32;
        for (r, replica) in replicas.iter_mut().enumerate() {
            let share = share(count, live);
            for i in to_give_up(count, replica.offset, share, &replica.held) {
                replica.held.remove(&i);
                holders[i as usize] = None;
            }
            let free: BTreeSet<u32> = (0..count).filter(|i| holders[*i as usize].is_none()).collect();
            let (candidates, wanted) = to_take(count, replica.offset, share, &replica.held, &free);
            for i in candidates.into_iter().take(wanted) {
                holders[i as usize] = Some(r);
                replica.held.insert(i);
            }
        }
    }

    fn counts(replicas: &[Replica]) -> Vec<usize> {
        replicas.iter().map(|r| r.held.len()).collect()
    }

    #[test]
    fn replicas_rebalance_twelve_shards() {
        let count = 12;
        let replica = |name: &str| Replica { offset: shard_of("", name, count), held: BTreeSet::new() };
        let mut holders: Vec<Option<usize>> = vec![None; count as usize];
        let mut replicas = vec![replica("a")];
        tick_all(&mut replicas, &mut holders, count);
        assert_eq!(counts(&replicas), vec![12]);
        // (replicas after the change, the share each ends with)
        for (names, each) in [(vec!["a", "b"], 6), (vec!["a", "b", "c"], 4), (vec!["a", "b", "c", "d", "e"], 3)] {
            while replicas.len() < names.len() {
                replicas.push(replica(names[replicas.len()]));
            }
            // Two ticks: the others give up at the first, the newcomer takes at the next.
            tick_all(&mut replicas, &mut holders, count);
            tick_all(&mut replicas, &mut holders, count);
            assert!(replicas.iter().all(|r| r.held.len() <= each), "{names:?}: {:?}", counts(&replicas));
            assert_eq!(replicas.iter().map(|r| r.held.len()).sum::<usize>(), 12, "{names:?}: every shard held");
            for (i, h) in holders.iter().enumerate() {
                assert_eq!(replicas.iter().filter(|r| r.held.contains(&(i as u32))).count(), 1, "shard {i}");
                assert!(replicas[h.expect("held")].held.contains(&(i as u32)));
            }
        }
        // Replica "b" dies: its shards' Leases expire and are free; the others take them up to
        // the new share of 3 each (12 / 4).
        let dead = replicas.remove(1);
        for i in dead.held {
            holders[i as usize] = None;
        }
        for h in holders.iter_mut().flatten() {
            if *h > 1 {
                *h -= 1;
            }
        }
        tick_all(&mut replicas, &mut holders, count);
        assert_eq!(counts(&replicas), vec![3, 3, 3, 3]);
    }
}
