//! The loop's own state around a [`ScaleHandler`], as kube-runtime's `Controller` keeps its
//! state in its context: the scalers of trigger types, the last tick that decided up per
//! service, and the close signal that wakes a sleeping `run`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use tokio::sync::watch;

use crate::core::elasti::cold_start::ColdStarts;
use crate::core::elasti::pass_context::PassContext;
use crate::core::elasti::scalers::ScalerRegistry;
use crate::core::error::Result;
use crate::core::scale::handler::ScaleHandler;

/// The default bound on services whose triggers are asked at once.
pub const DEFAULT_SCALER_CONCURRENCY: usize = 16;

/// The scale-to-zero loop over ElastiServices; scales through the handler it holds.
pub struct Controller {
    pub(crate) handler: Arc<ScaleHandler>,
    pub(crate) scalers: ScalerRegistry,
    /// Per ElastiService (`namespace/name/uid`): the last tick that decided to scale up.
    pub(crate) last_up: Mutex<HashMap<String, Timestamp>>,
    /// Places for scaler evaluations (services whose triggers are being asked) at once.
    pub(crate) evaluations: tokio::sync::Semaphore,
    /// Per service (`namespace/name/uid`): the status the loop wrote last, until the object
    /// shows it (see `status.rs`).
    pub(crate) written: Mutex<HashMap<String, crate::core::elasti::resource::ElastiServiceStatus>>,
    /// The context of the `run` live on this handler, as calls made by hand see it (the run's
    /// own passes are handed theirs): see [`Controller::check_and_scale`].
    pub(crate) live_run: Mutex<Option<PassContext>>,
    /// The wake-ups being measured (see `cold_start.rs`).
    pub(crate) cold_starts: ColdStarts,
    /// `true` once closed or asked to stop running; a watch, so a close that lands mid-pass is
    /// not lost.
    stop: watch::Sender<bool>,
    /// `true` once closed (ends the metrics server).
    closed: watch::Sender<bool>,
}

impl Controller {
    /// A loop that scales through `handler`, with the built-in scalers registered, asking the
    /// triggers of at most `scaler_concurrency` services at once (the others wait their turn).
    pub fn new(handler: Arc<ScaleHandler>, scaler_concurrency: usize) -> Self {
        Controller {
            handler,
            evaluations: tokio::sync::Semaphore::new(scaler_concurrency.clamp(1, tokio::sync::Semaphore::MAX_PERMITS)),
            scalers: ScalerRegistry::default(),
            last_up: Mutex::new(HashMap::new()),
            live_run: Mutex::new(None),
            cold_starts: ColdStarts::default(),
            written: Mutex::new(HashMap::new()),
            stop: watch::Sender::new(false),
            closed: watch::Sender::new(false),
        }
    }

    /// Connects a handler (see [`ScaleHandler::connect`]) and builds the loop around it.
    pub async fn connect(opts: crate::core::HandlerOptions, scaler_concurrency: usize) -> Result<Self> {
        crate::core::scale::handler::check_places("scaler_concurrency", scaler_concurrency)?;
        let handler = ScaleHandler::connect(opts).await?;
        Ok(Controller::new(Arc::new(handler), scaler_concurrency))
    }

    /// Writes the Events still queued (at most
    /// [`EVENT_FLUSH_TIMEOUT`](crate::core::EVENT_FLUSH_TIMEOUT)), then [`close`](Self::close)s.
    /// A handler closed already is closed again without a flush.
    pub async fn close_flushing(&self) {
        if !self.handler.is_closed() {
            self.handler.flush_events().await;
        }
        self.close();
    }

    /// The handler the loop scales through.
    pub fn handler(&self) -> &Arc<ScaleHandler> {
        &self.handler
    }

    /// The scaler registry (trigger type → factory).
    pub fn scalers(&self) -> &ScalerRegistry {
        &self.scalers
    }

    /// Closes the handler, ends the measuring of wake-ups, and wakes a running loop, which then
    /// returns.
    pub fn close(&self) {
        self.cold_starts.stop();
        self.handler.close();
        self.stop.send_replace(true);
        self.closed.send_replace(true);
    }

    /// Resolves once [`close`](Self::close) was called.
    pub(crate) async fn shut_down(&self) {
        let mut rx = self.closed.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }

    /// Makes a running loop return (releasing its Lease) while the handler stays usable.
    pub fn stop_run(&self) {
        self.stop.send_replace(true);
    }

    /// Called as a run starts: forgets an earlier [`stop_run`](Self::stop_run).
    pub(crate) fn start_run(&self) {
        if !self.handler.is_closed() {
            self.stop.send_replace(false);
        }
    }

    /// The context a pass made by hand works in: the live run's (its scope, its watches), or
    /// every service from the API server when no run is live.
    pub(crate) fn live_context(&self) -> PassContext {
        self.live_run.lock().expect("live run poisoned").clone().unwrap_or_default()
    }

    /// Fails with [`Error::Closed`](crate::core::Error::Closed) once closed.
    pub(crate) fn check_open(&self) -> Result<()> {
        self.handler.check_open()
    }

    /// Resolves once [`close`](Self::close) or [`stop_run`](Self::stop_run) was called (at once
    /// if it already was).
    pub(crate) async fn closed(&self) {
        let mut rx = self.stop.subscribe();
        // The sender lives as long as `self`: waiting cannot fail.
        let _ = rx.wait_for(|c| *c).await;
    }
}

impl std::fmt::Debug for Controller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controller").field("handler", &self.handler).field("scalers", &self.scalers.types()).finish()
    }
}
