//! Lua scripting (Redis's eval.c and script.c): the script cache, the
//! script running now, and SCRIPT KILL. The Lua side (the VM, the `redis`
//! library, replies to and from Lua) is `lua.rs`; the commands are
//! `command/scripting.rs`.
//!
//! A script runs on its connection's thread inside one write transaction,
//! like EXEC: its writes are one WAL record of effects, so replicas and the
//! dump tool see what it did, not the script. Each thread has its own Lua
//! VM (`lua.rs`): scripts share nothing but the cache of their bodies.

pub(crate) mod bit;
pub(crate) mod cjson;
pub(crate) mod cmsgpack;
pub(crate) mod functions;
pub(crate) mod lua;
pub(crate) mod structlib;

use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

/// The flags of a script's `#!lua flags=...` first line or of a function
/// (Redis 7).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Flags {
    pub no_writes: bool,
    pub allow_oom: bool,
    pub allow_stale: bool,
    /// Cluster and eviction flags change nothing here, but FUNCTION LIST
    /// shows them.
    pub no_cluster: bool,
    pub allow_cross_slot_keys: bool,
}

impl Flags {
    /// Sets the flag named `name`; false if there is none.
    pub(crate) fn set(&mut self, name: &str) -> bool {
        match name {
            "no-writes" => self.no_writes = true,
            "allow-oom" => self.allow_oom = true,
            "allow-stale" => self.allow_stale = true,
            "no-cluster" => self.no_cluster = true,
            "allow-cross-slot-keys" => self.allow_cross_slot_keys = true,
            _ => return false,
        }
        true
    }

    /// The names of the flags set, in Redis's order.
    pub(crate) fn names(&self) -> Vec<&'static str> {
        [
            (self.no_writes, "no-writes"),
            (self.allow_oom, "allow-oom"),
            (self.allow_stale, "allow-stale"),
            (self.no_cluster, "no-cluster"),
            (self.allow_cross_slot_keys, "allow-cross-slot-keys"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }
}

/// A script's shebang: None without one (a legacy script), its flags, or
/// Redis's error for a bad one.
pub(crate) fn shebang(body: &[u8]) -> Result<Option<Flags>, String> {
    if !body.starts_with(b"#!") {
        return Ok(None);
    }
    let Some(eol) = body.iter().position(|&b| b == b'\n') else {
        return Err("ERR Invalid script shebang".into());
    };
    let line = &body[..eol];
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or("");
    if engine != "#!lua" {
        return Err(format!("ERR Unexpected engine in script shebang: {engine}"));
    }
    let mut flags = Flags::default();
    for part in parts {
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(format!("ERR Unknown lua shebang option: {part}"));
        };
        for f in list.split(',').filter(|f| !f.is_empty()) {
            if !flags.set(f) {
                return Err(format!("ERR Unexpected flag in script shebang: {f}"));
            }
        }
    }
    Ok(Some(flags))
}

/// Bodies up to this size may run inline (see [`straight_line`]).
const INLINE_MAX_BYTES: usize = 4096;

/// Words after which a script may run for long: loops, closures (a Lua
/// function can loop by recursion) and the ways to compile new code
/// (`load`, `loadstring`, or either fetched by a computed name through
/// `_G` or `rawget`).
const MAY_LOOP: &[&[u8]] = &[
    b"while",
    b"for",
    b"repeat",
    b"function",
    b"load",
    b"loadstring",
    b"_G",
    b"rawget",
    b"getfenv",
    b"setfenv",
    b"coroutine",
    b"dofile",
    b"loadfile",
    b"require",
];

/// A short script none of whose words (in code, strings or comments)
/// could make Lua repeat itself: each of its VM instructions runs at most
/// once, so it ends within microseconds plus its commands and C library
/// calls (which a busy hook cannot stop in Redis either). Such a script
/// runs inline on the connection's thread; any other goes to the blocking
/// pool so that BUSY and SCRIPT KILL can be served while it runs. False
/// positives (a comment saying "for") only cost the hand-off.
pub(crate) fn straight_line(body: &[u8]) -> bool {
    if body.len() > INLINE_MAX_BYTES {
        return false;
    }
    !body
        .split(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
        .any(|w| MAY_LOOP.contains(&w))
}

/// The script cache and the script running now.
#[derive(Default)]
pub(crate) struct Scripts {
    /// Bodies by lowercase hex SHA1 (EVAL and SCRIPT LOAD add, SCRIPT FLUSH
    /// empties). Not persisted nor replicated, as in Redis 7.
    bodies: Mutex<HashMap<String, Bytes>>,
    /// Moves on SCRIPT FLUSH: every thread's VM starts afresh.
    pub(crate) generation: AtomicU64,
    running: Mutex<Option<Running>>,
    /// `running` is Some: read lock-free by every request's dispatch.
    active: AtomicBool,
    /// Set once the running script passed `busy-reply-threshold`: other
    /// clients get BUSY until it ends.
    busy: AtomicBool,
    kill: AtomicBool,
    /// Scripts handed to the blocking pool and not back yet: they hold
    /// other requests from the moment they leave the connection's thread,
    /// before they take the writer lock and `begin`, so no request runs
    /// on the thread beside one (a read of several keys could otherwise
    /// see half of what the script wrote).
    handed_off: AtomicUsize,
    /// Wakes the requests parked while a script runs: all of them when the
    /// node turns BUSY; one when a script ends, which wakes the next
    /// (`server/connection.rs`).
    pub(crate) changed: tokio::sync::Notify,
    pub(crate) functions: functions::Functions,
}

struct Running {
    started: Instant,
    /// The script has written: SCRIPT KILL cannot stop it (UNKILLABLE).
    wrote: bool,
    /// A function (FCALL): its name and the command that called it.
    function: Option<(String, Vec<Bytes>)>,
}

/// Why SCRIPT KILL or FUNCTION KILL did not kill.
pub(crate) enum KillError {
    NotBusy,
    Unkillable,
    /// SCRIPT KILL of a function, or FUNCTION KILL of a script: Redis's
    /// BUSY text naming the right one.
    OtherKind(&'static str),
}

/// The BUSY replies while a script or a function runs.
pub(crate) const BUSY_SCRIPT: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
pub(crate) const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

impl Scripts {
    pub(crate) fn sha1_hex(body: &[u8]) -> String {
        sha1_smol::Sha1::from(body).digest().to_string()
    }

    pub(crate) fn add(&self, body: Bytes) -> String {
        let sha = Self::sha1_hex(&body);
        self.bodies.lock().entry(sha.clone()).or_insert(body);
        sha
    }

    pub(crate) fn get(&self, sha: &[u8]) -> Option<Bytes> {
        let sha = std::str::from_utf8(sha).ok()?.to_ascii_lowercase();
        self.bodies.lock().get(&sha).cloned()
    }

    pub(crate) fn exists(&self, sha: &[u8]) -> bool {
        self.get(sha).is_some()
    }

    /// The cached scripts: how many, and their bodies' bytes (INFO).
    pub(crate) fn cached(&self) -> (usize, usize) {
        let b = self.bodies.lock();
        (b.len(), b.values().map(|v| v.len()).sum())
    }

    pub(crate) fn flush(&self) {
        self.bodies.lock().clear();
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// A script starts on this thread; `function` names the function
    /// and its FCALL when it is one.
    pub(crate) fn begin(&self, function: Option<(String, Vec<Bytes>)>) {
        *self.running.lock() = Some(Running {
            started: Instant::now(),
            wrote: false,
            function,
        });
        self.kill.store(false, Ordering::Release);
        self.active.store(true, Ordering::Release);
    }

    pub(crate) fn end(&self) {
        *self.running.lock() = None;
        self.active.store(false, Ordering::Release);
        self.busy.store(false, Ordering::Release);
        self.kill.store(false, Ordering::Release);
        // A script handed off wakes the parked at `handed_back`.
        if self.handed_off.load(Ordering::Acquire) == 0 {
            self.changed.notify_one();
        }
    }

    pub(crate) fn running(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// A connection hands a script to the blocking pool.
    pub(crate) fn hand_off(&self) {
        self.handed_off.fetch_add(1, Ordering::AcqRel);
    }

    /// The script handed off is back (run or refused).
    pub(crate) fn handed_back(&self) {
        self.handed_off.fetch_sub(1, Ordering::AcqRel);
        self.changed.notify_one();
    }

    /// Other requests must wait: a script runs or is on its way to run.
    pub(crate) fn holds_others(&self) -> bool {
        self.running() || self.handed_off.load(Ordering::Acquire) > 0
    }

    /// Other clients must get BUSY now.
    pub(crate) fn busy(&self) -> bool {
        self.busy.load(Ordering::Acquire)
    }

    /// The BUSY reply for other clients now.
    pub(crate) fn busy_error(&self) -> &'static str {
        match self.running.lock().as_ref() {
            Some(r) if r.function.is_some() => BUSY_FUNCTION,
            _ => BUSY_SCRIPT,
        }
    }

    /// FUNCTION STATS's running_script: the function's name, its command
    /// and how long it has run (ms); None while no function runs.
    pub(crate) fn running_function(&self) -> Option<(String, Vec<Bytes>, u64)> {
        let g = self.running.lock();
        let r = g.as_ref()?;
        let (name, args) = r.function.clone()?;
        Some((name, args, r.started.elapsed().as_millis() as u64))
    }

    /// A script (not a function) runs now.
    pub(crate) fn script_running(&self) -> bool {
        self.running
            .lock()
            .as_ref()
            .is_some_and(|r| r.function.is_none())
    }

    pub(crate) fn note_write(&self) {
        if let Some(r) = self.running.lock().as_mut() {
            r.wrote = true;
        }
    }

    /// Called from the running script every few thousand instructions:
    /// marks the node busy past `threshold_ms`; true if it must stop.
    pub(crate) fn check(&self, threshold_ms: u64) -> bool {
        if let Some(r) = self.running.lock().as_ref() {
            if threshold_ms > 0
                && r.started.elapsed().as_millis() as u64 >= threshold_ms
                && !self.busy.swap(true, Ordering::AcqRel)
            {
                self.changed.notify_waiters();
            }
        }
        self.kill.load(Ordering::Acquire)
    }

    /// SCRIPT KILL (`function` false) or FUNCTION KILL: only a busy
    /// script of that kind that has not written.
    pub(crate) fn kill(&self, function: bool) -> Result<(), KillError> {
        let g = self.running.lock();
        match g.as_ref() {
            Some(r) if self.busy() => {
                if r.wrote {
                    return Err(KillError::Unkillable);
                }
                match (function, r.function.is_some()) {
                    (false, true) => return Err(KillError::OtherKind(BUSY_FUNCTION)),
                    (true, false) => return Err(KillError::OtherKind(BUSY_SCRIPT)),
                    _ => {}
                }
                self.kill.store(true, Ordering::Release);
                Ok(())
            }
            _ => Err(KillError::NotBusy),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::straight_line;

    #[test]
    fn only_scripts_that_cannot_repeat_are_straight_line() {
        assert!(straight_line(b"return redis.call('SET', KEYS[1], ARGV[1])"));
        assert!(straight_line(
            b"local v = redis.call('get', KEYS[1]) return {v, format}"
        ));
        for body in [
            "while true do end",
            "for i=1,10 do end",
            "repeat until false",
            "local function f() return f() end return f()",
            "return loadstring('while true do end')()",
            "return _G['load' .. 'string']('x')",
            "return rawget(_G, 'load')",
            "return coroutine.wrap(print)",
            "-- a comment for the reader\nreturn 1",
        ] {
            assert!(!straight_line(body.as_bytes()), "{body}");
        }
        assert!(!straight_line(&vec![b'x'; 5000]));
    }
}
