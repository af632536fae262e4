//! The changed keys of each published record, reported to client-side
//! caching (`client/tracking.rs`) from the one place every change passes
//! (`Store::publish`: commands, EXEC, scripts, expiry, a master's stream).
//! The store knows no clients: it calls a sink the server sets.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// What a record changed.
pub(crate) enum Changed<'a> {
    /// Keys (names only, any database) changed by client `origin` (0:
    /// none, e.g. expiry or a master's record), in the order written.
    Keys(&'a [&'a [u8]], u64),
    /// FLUSHDB / FLUSHALL.
    Flushed,
}

pub(crate) type Sink = Box<dyn Fn(Changed<'_>) + Send + Sync>;

#[derive(Default)]
pub(crate) struct Changes {
    /// Set by client-side caching while anything is tracked: otherwise
    /// nothing is gathered (one relaxed load per record).
    on: Arc<AtomicBool>,
    sink: OnceLock<Sink>,
}

impl Changes {
    pub(crate) fn set_sink(&self, sink: Sink) {
        let _ = self.sink.set(sink);
    }

    /// The switch, for the tracking state to set under its own lock.
    pub(crate) fn switch(&self) -> Arc<AtomicBool> {
        self.on.clone()
    }

    /// The sink, if changes are wanted.
    pub(super) fn wanted(&self) -> Option<&Sink> {
        if self.on.load(Ordering::Relaxed) {
            self.sink.get()
        } else {
            None
        }
    }
}
