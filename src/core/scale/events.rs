//! Recording `events.k8s.io/v1` Events about scaled objects.
//!
//! Repeats of the same event (type, action, reason, regarding object *and note*) within six
//! minutes become a series (count and last time) on the first Event, as kubectl and client-go
//! do. The note is part of the key because the API keeps the first note of a series: "scaled
//! from 3 to 5" after "scaled from 5 to 3" is a new Event, so the newest count is never lost.

use std::collections::HashMap;
use std::sync::Mutex;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event as ApiEvent, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};

use crate::core::error::{Error, Result};
use crate::core::scale::handler::ScaleHandler;
use crate::core::target::TargetRef;
use crate::core::unread;

/// How long a repeat still joins the series of the first Event.
const SERIES_WINDOW: SignedDuration = SignedDuration::from_secs(6 * 60);
/// How often expired cache entries are swept.
const SWEEP_EVERY: SignedDuration = SignedDuration::from_secs(60);
/// The cache never holds more entries than this.
const MAX_CACHED: usize = 4096;
/// The API rejects longer notes.
const MAX_NOTE: usize = 1024;

/// `Normal` or `Warning`: the only types the API server accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// Something expected happened.
    Normal,
    /// Something went wrong.
    Warning,
}

impl EventType {
    /// Parses `"Normal"` or `"Warning"`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "Normal" => Ok(EventType::Normal),
            "Warning" => Ok(EventType::Warning),
            other => Err(Error::InvalidValue {
                field: "type",
                problem: format!("{other:?} is not an event type; use \"Normal\" or \"Warning\""),
            }),
        }
    }

    /// The API's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// What to record.
#[derive(Debug, Clone)]
pub struct EventSpec {
    /// Normal or Warning.
    pub type_: EventType,
    /// UpperCamelCase reason, e.g. `SuccessToScale`.
    pub reason: String,
    /// What was done, e.g. `Scale`.
    pub action: String,
    /// Human-readable note.
    pub note: String,
}

/// apiVersion, kind, namespace, name and uid of the regarded object: which object two Events
/// are about, for the series here and for the queue's aggregation.
pub(crate) type RegardingKey = [Option<String>; 5];

/// The [`RegardingKey`] of `r`.
pub(crate) fn regarding_key(r: &ObjectReference) -> RegardingKey {
    [r.api_version.clone(), r.kind.clone(), r.namespace.clone(), r.name.clone(), r.uid.clone()]
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    type_: EventType,
    reason: String,
    action: String,
    note: String,
    regarding: RegardingKey,
}

#[derive(Debug, Clone)]
struct Recorded {
    name: String,
    count: i32,
    last: Timestamp,
}

/// Publishes Events, aggregating repeats into series.
pub struct EventRecorder {
    client: Client,
    controller: String,
    instance: String,
    cache: Mutex<HashMap<Key, Recorded>>,
    last_sweep: Mutex<Timestamp>,
}

fn check_reason(reason: &str) -> Result<()> {
    let ok = !reason.is_empty() && reason.len() <= 128 && reason.chars().all(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidValue {
            field: "reason",
            problem: format!("{reason:?} is not a reason: use 1 to 128 letters or digits, e.g. \"SuccessToScale\""),
        })
    }
}

impl EventRecorder {
    /// A recorder that reports as `controller` (`reportingController`), instance `instance`.
    pub fn new(client: Client, controller: String, instance: String) -> Self {
        EventRecorder {
            client,
            controller,
            instance,
            cache: Mutex::new(HashMap::new()),
            last_sweep: Mutex::new(Timestamp::now()),
        }
    }

    /// Checks an event's fields before any request.
    pub fn validate(ev: &EventSpec) -> Result<()> {
        check_reason(&ev.reason)?;
        if ev.action.is_empty() || ev.action.len() > 128 {
            return Err(Error::InvalidValue { field: "action", problem: "must be 1 to 128 characters".into() });
        }
        Ok(())
    }

    /// Records `ev` regarding `regarding`: a new Event, or the next count of a recent identical one.
    pub async fn publish(&self, ev: &EventSpec, regarding: &ObjectReference) -> Result<()> {
        self.publish_n(ev, regarding, 1).await
    }

    /// Records `n` occurrences of `ev` at once (repeats aggregated by the queue): `n` more on the
    /// series of a recent identical Event, or a new Event whose series counts `n`.
    pub async fn publish_n(&self, ev: &EventSpec, regarding: &ObjectReference, n: i32) -> Result<()> {
        Self::validate(ev)?;
        let n = n.max(1);
        let now = Timestamp::now();
        let mut note = ev.note.clone();
        note.truncate(note.floor_char_boundary(MAX_NOTE));
        let key = Key {
            type_: ev.type_,
            reason: ev.reason.clone(),
            action: ev.action.clone(),
            note: note.clone(),
            regarding: regarding_key(regarding),
        };
        let previous = {
            let mut cache = self.cache.lock().expect("event cache poisoned");
            // Expired entries are swept at most once a minute: a sweep walks the whole cache.
            let mut last_sweep = self.last_sweep.lock().expect("event cache poisoned");
            if now.duration_since(*last_sweep) > SWEEP_EVERY {
                cache.retain(|_, r| r.last + SERIES_WINDOW > now);
                *last_sweep = now;
            }
            cache.get(&key).cloned().filter(|r| r.last + SERIES_WINDOW > now)
        };
        let namespace = regarding.namespace.clone().unwrap_or_else(|| "default".into());
        let events = <ApiEvent as kube::Resource>::url_path(&(), Some(&namespace));
        if let Some(prev) = previous {
            let count = prev.count + n;
            let patch = serde_json::json!({
                "series": EventSeries { count, last_observed_time: MicroTime(now) }
            });
            match unread::patch(&self.client, &events, &prev.name, &PatchParams::default(), &Patch::Merge(&patch)).await
            {
                Ok(()) => {
                    self.remember(key, Recorded { count, last: now, ..prev });
                    return Ok(());
                }
                // The Event expired or was deleted: start a new one.
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        let name = format!("{}.{:x}", regarding.name.as_deref().unwrap_or(&self.controller), now.as_nanosecond());
        let event = ApiEvent {
            action: Some(ev.action.clone()),
            reason: Some(ev.reason.clone()),
            note: Some(note),
            type_: Some(ev.type_.as_str().into()),
            event_time: Some(MicroTime(now)),
            regarding: Some(regarding.clone()),
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.instance.clone()),
            metadata: ObjectMeta { name: Some(name.clone()), namespace: Some(namespace.clone()), ..Default::default() },
            series: (n > 1).then_some(EventSeries { count: n, last_observed_time: MicroTime(now) }),
            ..Default::default()
        };
        unread::create(&self.client, &events, &event).await?;
        self.remember(key, Recorded { name, count: n, last: now });
        Ok(())
    }

    fn remember(&self, key: Key, rec: Recorded) {
        let mut cache = self.cache.lock().expect("event cache poisoned");
        if cache.len() >= MAX_CACHED && !cache.contains_key(&key) {
            // Drop the oldest entry to stay bounded.
            if let Some(oldest) = cache.iter().min_by_key(|(_, r)| r.last).map(|(k, _)| k.clone()) {
                cache.remove(&oldest);
            }
        }
        cache.insert(key, rec);
    }
}

/// An Event as listed by [`ScaleHandler::events`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Event {
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Reason, e.g. `SuccessToScale`.
    pub reason: String,
    /// Action, e.g. `Scale`.
    pub action: String,
    /// The note.
    pub note: String,
    /// How often it happened (series count).
    pub count: i32,
    /// RFC 3339 time of the last occurrence.
    pub last_time: String,
    /// The reporting controller.
    pub reporter: String,
}

impl ScaleHandler {
    /// Records an Event regarding `target` (any kind, scalable or not).
    pub async fn record_event(&self, target: &TargetRef, namespace: Option<&str>, ev: &EventSpec) -> Result<()> {
        EventRecorder::validate(ev)?;
        let ns = self.namespace_for(namespace)?;
        let resource = self.resolve(&target.type_spec).await?;
        self.recorder.publish(ev, &resource.object_ref(&target.name, &ns)).await
    }

    /// Lists the `events.k8s.io/v1` Events regarding `target`, oldest first.
    pub async fn events(&self, target: &TargetRef, namespace: Option<&str>) -> Result<Vec<Event>> {
        self.check_open()?;
        // What was queued before this call is listed too.
        self.flush_events().await;
        let ns = self.namespace_for(namespace)?;
        let resource = self.resolve(&target.type_spec).await?;
        let api: Api<ApiEvent> = Api::namespaced(self.client.clone(), &ns);
        let fields = format!("regarding.name={},regarding.kind={}", target.name, resource.kind);
        let list = api.list(&kube::api::ListParams::default().fields(&fields)).await?;
        let mut out: Vec<Event> = list
            .items
            .into_iter()
            .map(|e| {
                let last = e
                    .series
                    .as_ref()
                    .map(|s| s.last_observed_time.0)
                    .or_else(|| e.event_time.as_ref().map(|t| t.0))
                    .or_else(|| e.deprecated_last_timestamp.as_ref().map(|t| t.0));
                Event {
                    type_: e.type_.unwrap_or_default(),
                    reason: e.reason.unwrap_or_default(),
                    action: e.action.unwrap_or_default(),
                    note: e.note.unwrap_or_default(),
                    count: e.series.as_ref().map_or_else(|| e.deprecated_count.unwrap_or(1), |s| s.count),
                    last_time: last.map(|t| t.to_string()).unwrap_or_default(),
                    reporter: e.reporting_controller.unwrap_or_default(),
                }
            })
            .collect();
        out.sort_by(|a, b| a.last_time.cmp(&b.last_time));
        Ok(out)
    }

    /// Queues an Event (unless the handler was built without Events): written off the caller's
    /// path (see `event_queue.rs`); a failure to write it is logged, never returned.
    pub(crate) fn record_quietly(&self, type_: EventType, reason: &str, note: String, regarding: &ObjectReference) {
        if !self.record_events {
            return;
        }
        let ev = EventSpec { type_, reason: reason.into(), action: "Scale".into(), note };
        self.event_queue.push(ev, regarding.clone());
    }

    /// Writes the Events queued so far (waiting at most
    /// [`EVENT_FLUSH_TIMEOUT`](crate::core::EVENT_FLUSH_TIMEOUT)). Does nothing in a process
    /// forked after the handler was made (its writer task stayed with the parent).
    pub async fn flush_events(&self) {
        if self.is_own_process() {
            self.event_queue.flush(crate::core::scale::EVENT_FLUSH_TIMEOUT).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_and_reasons() {
        assert_eq!(EventType::parse("Normal").unwrap(), EventType::Normal);
        assert!(EventType::parse("Error").is_err());
        assert!(check_reason("SuccessToScale").is_ok());
        assert!(check_reason("").is_err());
        assert!(check_reason("has space").is_err());
    }
}
