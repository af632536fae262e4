//! One memory budget, `maxmemory`, cut into the shares the store and the
//! server use. The data lives on disk, so nothing is ever evicted: when a
//! share is full, its owner waits (writers stall) or drops what it caches.

/// `maxmemory 0` (unset) means this budget: small enough for a 1 GB machine,
/// big enough for a hot working set of ~100k 1 KiB values in the read cache.
pub const DEFAULT_BUDGET: u64 = 512 << 20;
/// What the process needs whatever the budget (code, the runtime, thread
/// stacks, sled's page table: ~12 MB at start, ~24 MB with 1M keys
/// measured): the shares divide what is left.
pub const RESERVED: u64 = 24 << 20;
/// Shares stop shrinking below this (a node needs some room to work).
pub const MIN_SHARES: u64 = 16 << 20;
/// Frozen write-buffer tables that may wait for sled before writers stall.
pub const MAX_FROZEN: usize = 2;

/// The shares of one budget, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// The whole budget (`maxmemory`, or the default when unset).
    pub total: u64,
    /// One write-buffer table: the active one freezes at this size, and up
    /// to `MAX_FROZEN` frozen ones wait for sled (3/8 of the budget in all).
    pub table_bytes: usize,
    /// The read cache in front of sled (1/4).
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
    /// The shares of `maxmemory` (0: the default budget).
    pub fn of(maxmemory: u64) -> Budget {
        let total = if maxmemory == 0 {
            DEFAULT_BUDGET
        } else {
            maxmemory
        };
        let b = total.saturating_sub(RESERVED).max(MIN_SHARES);
        let eighth = (b / 8) as usize;
        Budget {
            total,
            table_bytes: eighth,
            read_cache: 2 * eighth,
            engine_cache: (eighth / 2) as u64,
            sync_buffers: eighth,
            clients: eighth,
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
        assert_eq!(Budget::of(0).total, DEFAULT_BUDGET);
        // Tiny budgets keep working shares.
        assert_eq!(Budget::of(1).table_bytes, (MIN_SHARES / 8) as usize);
    }
}
