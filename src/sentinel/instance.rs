//! What a sentinel knows about each instance it watches (Redis's
//! `sentinelRedisInstance`): a master, one of its replicas, or another
//! sentinel watching the same master. Timing fields are milliseconds since
//! the epoch (0 = never).

use super::link::Link;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Master,
    Replica,
    Sentinel,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Master => "master",
            Kind::Replica => "slave",
            Kind::Sentinel => "sentinel",
        }
    }
}

/// Instance flags, as SENTINEL MASTER(S) lists them.
pub(crate) mod flag {
    pub(crate) const S_DOWN: u32 = 1 << 0;
    pub(crate) const O_DOWN: u32 = 1 << 1;
    /// A sentinel told us it sees the master down.
    pub(crate) const MASTER_DOWN: u32 = 1 << 2;
    pub(crate) const FAILOVER_IN_PROGRESS: u32 = 1 << 3;
    /// The replica chosen for promotion.
    pub(crate) const PROMOTED: u32 = 1 << 4;
    pub(crate) const RECONF_SENT: u32 = 1 << 5;
    pub(crate) const RECONF_INPROG: u32 = 1 << 6;
    pub(crate) const RECONF_DONE: u32 = 1 << 7;
    pub(crate) const FORCE_FAILOVER: u32 = 1 << 8;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum FailoverState {
    None,
    WaitStart,
    SelectSlave,
    SendSlaveofNoone,
    WaitPromotion,
    ReconfSlaves,
    UpdateConfig,
}

impl FailoverState {
    pub(crate) fn name(self) -> &'static str {
        match self {
            FailoverState::None => "none",
            FailoverState::WaitStart => "wait_start",
            FailoverState::SelectSlave => "select_slave",
            FailoverState::SendSlaveofNoone => "send_slaveof_noone",
            FailoverState::WaitPromotion => "wait_promotion",
            FailoverState::ReconfSlaves => "reconf_slaves",
            FailoverState::UpdateConfig => "update_config",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Addr {
    pub ip: String,
    pub port: u16,
}

impl Addr {
    pub(crate) fn new(ip: &str, port: u16) -> Addr {
        Addr {
            ip: ip.to_string(),
            port,
        }
    }

    /// `ip:port`, the name Redis gives a replica.
    pub(crate) fn key(&self) -> String {
        if self.ip.contains(':') {
            format!("[{}]:{}", self.ip, self.port)
        } else {
            format!("{}:{}", self.ip, self.port)
        }
    }
}

pub(crate) struct Instance {
    /// Unique for the life of the process: link callbacks find their
    /// instance by it and do nothing once it is gone.
    pub id: u64,
    pub kind: Kind,
    /// Master name, `ip:port` for a replica, run id for a sentinel.
    pub name: String,
    pub addr: Addr,
    pub runid: Option<String>,
    pub flags: u32,
    pub link: Arc<Link>,
    /// The hello subscription (masters and replicas only).
    pub pubsub: Option<Arc<Link>>,
    /// When the oldest unanswered PING was sent, or the link found broken.
    pub act_ping_time: i64,
    pub last_ping_time: i64,
    /// Last valid PING reply (PONG, LOADING, MASTERDOWN).
    pub last_avail_time: i64,
    /// Last reply of any kind to PING.
    pub last_pong_time: i64,
    pub link_up: bool,
    pub link_up_since: i64,
    pub info_refresh: i64,
    pub info_pending: bool,
    pub last_pub_time: i64,
    pub info: String,
    pub role_reported: Kind,
    pub role_reported_time: i64,
    pub slave_conf_change_time: i64,
    pub s_down_since: i64,
    pub o_down_since: i64,
    // From a replica's INFO.
    pub master_link_down_time: i64,
    pub slave_master_host: Option<String>,
    pub slave_master_port: u16,
    pub slave_master_link_up: bool,
    pub slave_priority: i64,
    pub slave_repl_offset: u64,
    pub replica_announced: bool,
    pub slave_reconf_sent_time: i64,
    /// `master_replid` from its INFO: the history its offsets count in.
    pub replid: Option<String>,
    /// When the INFO asked for by the failover's replica selection was
    /// answered (0: not yet); see `failover::select_slave`.
    pub select_info_time: i64,
    // A sentinel's state as we know it.
    pub last_hello_time: i64,
    pub last_master_down_reply_time: i64,
    pub leader: Option<String>,
    pub leader_epoch: u64,
}

impl Instance {
    pub(crate) fn new(id: u64, kind: Kind, name: String, addr: Addr, now: i64) -> Instance {
        Instance {
            id,
            kind,
            name,
            addr,
            runid: None,
            flags: 0,
            link: Link::new(),
            pubsub: (kind != Kind::Sentinel).then(Link::new),
            act_ping_time: now,
            last_ping_time: 0,
            last_avail_time: now,
            last_pong_time: now,
            link_up: false,
            link_up_since: 0,
            info_refresh: 0,
            info_pending: false,
            last_pub_time: 0,
            info: String::new(),
            role_reported: if kind == Kind::Sentinel {
                Kind::Sentinel
            } else {
                kind
            },
            role_reported_time: now,
            slave_conf_change_time: now,
            s_down_since: 0,
            o_down_since: 0,
            master_link_down_time: 0,
            slave_master_host: None,
            slave_master_port: 0,
            slave_master_link_up: false,
            slave_priority: 100,
            slave_repl_offset: 0,
            replica_announced: true,
            slave_reconf_sent_time: 0,
            replid: None,
            select_info_time: 0,
            last_hello_time: 0,
            last_master_down_reply_time: now,
            leader: None,
            leader_epoch: 0,
        }
    }

    pub(crate) fn has(&self, f: u32) -> bool {
        self.flags & f != 0
    }

    /// Redis's flag words, for SENTINEL MASTER and friends.
    pub(crate) fn flags_text(&self) -> String {
        let mut v: Vec<&str> = vec![self.kind.name()];
        let before = [
            (flag::S_DOWN, "s_down"),
            (flag::O_DOWN, "o_down"),
            (flag::MASTER_DOWN, "master_down"),
        ];
        let after = [
            (flag::FAILOVER_IN_PROGRESS, "failover_in_progress"),
            (flag::PROMOTED, "promoted"),
            (flag::RECONF_SENT, "reconf_sent"),
            (flag::RECONF_INPROG, "reconf_inprog"),
            (flag::RECONF_DONE, "reconf_done"),
            (flag::FORCE_FAILOVER, "force_failover"),
        ];
        for (f, n) in before {
            if self.has(f) {
                v.push(n);
            }
        }
        if !self.link_up {
            v.push("disconnected");
        }
        for (f, n) in after {
            if self.has(f) {
                v.push(n);
            }
        }
        v.join(",")
    }

    /// Not heard from within `ms`: neither down now nor recently.
    pub(crate) fn no_down_for(&self, ms: i64, now: i64) -> bool {
        let most_recent = self.s_down_since.max(self.o_down_since);
        most_recent == 0 || now - most_recent > ms
    }

    /// Stops the link tasks; they exit at their next step.
    pub(crate) fn close_links(&self) {
        self.link.close();
        if let Some(p) = &self.pubsub {
            p.close();
        }
    }
}

pub(crate) struct Master {
    pub inst: Instance,
    pub quorum: u32,
    pub down_after: i64,
    pub failover_timeout: i64,
    pub parallel_syncs: i64,
    pub auth_pass: Option<String>,
    pub auth_user: Option<String>,
    pub reboot_down_after: i64,
    pub config_epoch: u64,
    /// Whom this sentinel voted for, and in which epoch.
    pub leader: Option<String>,
    pub leader_epoch: u64,
    pub failover_epoch: u64,
    pub failover_state: FailoverState,
    pub failover_state_change_time: i64,
    pub failover_start_time: i64,
    /// When an ODOWN master may start its failover: a short random delay
    /// so that sentinels seeing the failure together do not split the vote.
    pub failover_delay_until: i64,
    /// Key (`ip:port`) of the replica being promoted.
    pub promoted: Option<String>,
    /// When the replica selection asked every replica for a fresh INFO
    /// (0: not yet in this failover).
    pub select_asked: i64,
    pub replicas: BTreeMap<String, Instance>,
    /// Keyed by run id.
    pub sentinels: BTreeMap<String, Instance>,
}

impl Master {
    /// The replica chosen for promotion in the failover under way.
    pub(crate) fn promoted_replica(&self) -> Option<&Instance> {
        self.promoted.as_ref().and_then(|k| self.replicas.get(k))
    }

    /// The address clients should use: the promoted replica's once the
    /// failover has gone past promotion.
    pub(crate) fn current_addr(&self) -> Addr {
        if self.failover_state >= FailoverState::ReconfSlaves {
            if let Some(r) = self.promoted_replica() {
                return r.addr.clone();
            }
        }
        self.inst.addr.clone()
    }

    /// Finds an instance of this group by id.
    pub(crate) fn find_mut(&mut self, id: u64) -> Option<&mut Instance> {
        if self.inst.id == id {
            return Some(&mut self.inst);
        }
        if let Some(r) = self.replicas.values_mut().find(|r| r.id == id) {
            return Some(r);
        }
        self.sentinels.values_mut().find(|s| s.id == id)
    }

    pub(crate) fn close_all_links(&self) {
        self.inst.close_links();
        for r in self.replicas.values() {
            r.close_links();
        }
        for s in self.sentinels.values() {
            s.close_links();
        }
    }
}

/// The fields a sentinel reads from a node's `INFO`.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct InfoFields {
    pub run_id: Option<String>,
    pub role: Option<Kind>,
    /// (ip, port) of each `slaveN:` line.
    pub replicas: Vec<(String, u16)>,
    pub master_host: Option<String>,
    pub master_port: Option<u16>,
    pub master_link_up: Option<bool>,
    pub master_link_down_since: Option<i64>,
    pub slave_priority: Option<i64>,
    pub slave_repl_offset: Option<u64>,
    pub replica_announced: Option<bool>,
    pub master_replid: Option<String>,
}

/// Parses what matters in an `INFO` reply (Redis's field names; both old
/// `slaveN:ip,port,state` and new `slaveN:ip=..,port=..` forms).
pub(crate) fn parse_info(text: &str) -> InfoFields {
    let mut f = InfoFields::default();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        match k {
            "run_id" if v.len() == 40 => f.run_id = Some(v.to_string()),
            "role" => {
                f.role = match v {
                    "master" => Some(Kind::Master),
                    "slave" => Some(Kind::Replica),
                    _ => None,
                }
            }
            "master_host" => f.master_host = Some(v.to_string()),
            "master_port" => f.master_port = v.parse().ok(),
            "master_link_status" => f.master_link_up = Some(v == "up"),
            "master_link_down_since_seconds" => {
                f.master_link_down_since = v.parse::<i64>().ok().map(|s| s.max(0) * 1000)
            }
            "slave_priority" | "replica_priority" => f.slave_priority = v.parse().ok(),
            "slave_repl_offset" => f.slave_repl_offset = v.parse().ok(),
            "replica_announced" => f.replica_announced = Some(v == "1"),
            "master_replid" if v.len() == 40 => f.master_replid = Some(v.to_string()),
            _ if k.starts_with("slave") && k[5..].bytes().all(|b| b.is_ascii_digit()) => {
                if let Some(r) = parse_slave_line(v) {
                    f.replicas.push(r);
                }
            }
            _ => {}
        }
    }
    f
}

fn parse_slave_line(v: &str) -> Option<(String, u16)> {
    if v.contains('=') {
        let mut ip = None;
        let mut port = None;
        for kv in v.split(',') {
            match kv.split_once('=') {
                Some(("ip", x)) => ip = Some(x.to_string()),
                Some(("port", x)) => port = x.parse().ok(),
                _ => {}
            }
        }
        Some((ip?, port?))
    } else {
        let mut it = v.split(',');
        Some((it.next()?.to_string(), it.next()?.parse().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_of_a_master_and_a_replica() {
        let m = parse_info(
            "# Server\r\nrun_id:0123456789012345678901234567890123456789\r\n# Replication\r\nrole:master\r\n\
             connected_slaves:2\r\nslave0:ip=127.0.0.1,port=6380,state=online,offset=10,lag=0\r\n\
             slave1:127.0.0.1,6381,online\r\nmaster_repl_offset:10\r\n",
        );
        assert_eq!(m.role, Some(Kind::Master));
        assert_eq!(
            m.replicas,
            vec![("127.0.0.1".into(), 6380), ("127.0.0.1".into(), 6381)]
        );
        assert!(m.run_id.is_some());
        let r = parse_info(
            "role:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:6379\r\nmaster_link_status:down\r\n\
             master_link_down_since_seconds:3\r\nslave_priority:50\r\nslave_repl_offset:99\r\n",
        );
        assert_eq!(r.role, Some(Kind::Replica));
        assert_eq!(r.master_port, Some(6379));
        assert_eq!(r.master_link_up, Some(false));
        assert_eq!(r.master_link_down_since, Some(3000));
        assert_eq!(r.slave_priority, Some(50));
        assert_eq!(r.slave_repl_offset, Some(99));
    }
}
