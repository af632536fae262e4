//! One memory budget, `maxmemory`, cut into the shares the store and the
//! server use. The data lives on disk, so nothing is ever evicted: when a
//! share is full, its owner waits (writers stall) or drops what it caches.

/// `maxmemory 0` (unset) means a quarter of the memory the process may use
/// (the machine's, or its memory cgroup's limit when lower), and never less
/// than this: Redis's unset `maxmemory` means "all it needs", and a
/// disk-backed node's need is its cache; a quarter leaves the rest of a
/// small machine to everything else.
pub const MIN_DEFAULT_BUDGET: u64 = 128 << 20;
/// What the process needs whatever the budget (code, the runtime, thread
/// stacks, sled's page table: ~12 MB at start, ~24 MB with 1M keys
/// measured): the shares divide what is left.
pub const RESERVED: u64 = 24 << 20;
/// Shares stop shrinking below this (a node needs some room to work).
pub const MIN_SHARES: u64 = 16 << 20;
/// Frozen write-buffer tables that may wait for sled before writers stall.
pub const MAX_FROZEN: usize = 2;
/// Caps on the shares that do not gain from more memory; a big budget goes
/// to the read cache. A bigger write-buffer table does not write faster
/// (sled's apply rate bounds the load) and lengthens the replay after
/// `kill -9`; sled's cache above this only duplicates the read cache.
const TABLE_CAP: usize = 128 << 20;
const ENGINE_CAP: usize = 128 << 20;
const SYNC_CAP: usize = 256 << 20;
const CLIENTS_CAP: usize = 256 << 20;

/// The shares of one budget, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// The whole budget (`maxmemory`, or the default when unset).
    pub total: u64,
    /// One write-buffer table: the active one freezes at this size, and up
    /// to `MAX_FROZEN` frozen ones wait for sled (3/8 of the budget in all,
    /// up to `TABLE_CAP` a table).
    pub table_bytes: usize,
    /// The read cache in front of sled: what the other shares leave (1/4
    /// of a small budget, most of a big one).
    pub read_cache: usize,
    /// sled's own page cache: half of sled's 1/8 share. sled's heap runs
    /// well above its cache setting (its page table, node copies during
    /// splits and flushes: ~30 MB with an 8 MB cache over 1M keys, measured
    /// with heaptrack), so the setting is half the share.
    pub engine_cache: u64,
    /// Replication and snapshot buffers (1/8): a snapshot scan's read-ahead
    /// and a full sync load's decoded blocks in flight.
    pub sync_buffers: usize,
    /// Client buffers (1/8): query and reply buffers are bounded by their
    /// own Redis limits; this is what they are expected to use.
    pub clients: usize,
}

impl Budget {
    /// The shares of `maxmemory` (0: the default budget, `default_total`).
    pub fn of(maxmemory: u64) -> Budget {
        let total = if maxmemory == 0 {
            default_total()
        } else {
            maxmemory
        };
        let b = total.saturating_sub(RESERVED).max(MIN_SHARES);
        let eighth = (b / 8) as usize;
        let table_bytes = eighth.min(TABLE_CAP);
        let engine = eighth.min(ENGINE_CAP);
        let sync_buffers = eighth.min(SYNC_CAP);
        let clients = eighth.min(CLIENTS_CAP);
        let rest = b as usize - table_bytes * (1 + MAX_FROZEN) - engine - sync_buffers - clients;
        Budget {
            total,
            table_bytes,
            read_cache: rest,
            engine_cache: (engine / 2) as u64,
            sync_buffers,
            clients,
        }
    }

    /// The whole write buffer: the active table plus the frozen ones.
    pub fn write_buffer(&self) -> usize {
        self.table_bytes * (1 + MAX_FROZEN)
    }

    /// What a snapshot scan may read ahead of its writer.
    pub fn scan_ahead(&self) -> usize {
        self.sync_buffers / 2
    }

    /// The WAL a write-buffer table may cover before it goes to sled: what
    /// a restart after `kill -9` replays is bounded by the tables in memory
    /// plus this.
    pub fn table_wal(&self) -> u64 {
        (self.table_bytes as u64 * 2).max(16 << 20)
    }
}

/// The default budget: a quarter of the memory the process may use.
pub fn default_total() -> u64 {
    (memory_available() / 4).max(MIN_DEFAULT_BUDGET)
}

/// The memory this process may use: the machine's (`MemTotal`), or its
/// memory cgroup's limit when that is lower (v1 and v2).
fn memory_available() -> u64 {
    let machine = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(u64::MAX, |kb| kb * 1024);
    machine.min(cgroup_limit().unwrap_or(u64::MAX))
}

/// This process's memory cgroup limit, if it has one.
fn cgroup_limit() -> Option<u64> {
    let groups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let read = |path: String| {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
    };
    groups.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, ctrl, path) = (f.next()?, f.next()?, f.next()?);
        if ctrl.split(',').any(|c| c == "memory") {
            read(format!("/sys/fs/cgroup/memory{path}/memory.limit_in_bytes"))
        } else if ctrl.is_empty() {
            read(format!("/sys/fs/cgroup{path}/memory.max"))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_to_the_budget() {
        for m in [0u64, 64 << 20, 256 << 20, 1 << 30, 3 << 30] {
            let b = Budget::of(m);
            let sum = b.write_buffer() as u64
                + b.read_cache as u64
                + b.engine_cache * 2
                + b.sync_buffers as u64
                + b.clients as u64;
            let shared = b.total.saturating_sub(RESERVED).max(MIN_SHARES);
            assert!(sum <= shared, "{m}: {sum} > {shared}");
            assert!(sum * 100 >= shared * 99, "{m}: {sum} wastes the budget");
        }
        assert_eq!(Budget::of(0).total, default_total());
        assert!(default_total() >= MIN_DEFAULT_BUDGET);
        // A small budget keeps its eighths; a big one gives the rest to
        // the read cache.
        let small = Budget::of(512 << 20);
        assert_eq!(small.read_cache, 2 * small.table_bytes);
        let big = Budget::of(8 << 30);
        assert_eq!(big.table_bytes, TABLE_CAP);
        assert!(big.read_cache as u64 > (8u64 << 30) * 3 / 4);
        // Tiny budgets keep working shares.
        assert_eq!(Budget::of(1).table_bytes, (MIN_SHARES / 8) as usize);
    }
}
