//! Failover (sentinel.c's failover state machine): start when the master is
//! objectively down, win the vote for a new epoch, promote the best replica
//! with `SLAVEOF NO ONE`, repoint the other replicas (`parallel-syncs` at a
//! time), then switch the group to the new master.

use super::instance::{flag, Addr, FailoverState, Instance, Kind, Master};
use super::link::{Callback, Owner, Reply};
use super::monitor::{describe_in, find, refresh_info, send_slaveof};
use super::INFO_PERIOD;
use super::{describe, hello, Level, Sentinel, State};
use super::{ELECTION_TIMEOUT, MAX_DESYNC, MAX_START_DELAY, PING_PERIOD, SLAVE_RECONF_TIMEOUT};
use crate::resp::Frame;
use rand::Rng;
use std::collections::BTreeMap;

/// Starts a failover if the master is ODOWN and none ran recently; true if
/// one started (the other sentinels are then asked for votes at once).
pub(crate) fn start_if_needed(sen: &Sentinel, st: &mut State, name: &str, now: i64) -> bool {
    let Some(m) = st.masters.get_mut(name) else {
        return false;
    };
    if !m.inst.has(flag::O_DOWN) || m.inst.has(flag::FAILOVER_IN_PROGRESS) {
        return false;
    }
    if now - m.failover_start_time < m.failover_timeout * 2 {
        return false;
    }
    // With other sentinels around, wait a random moment: sentinels that saw
    // the crash together would otherwise all ask for votes at once and
    // split them. Whoever asks first gets the others' votes, and a
    // sentinel that voted for another does not start its own failover.
    if !m.sentinels.is_empty() {
        if m.failover_delay_until == 0 {
            m.failover_delay_until = now + rand::thread_rng().gen_range(0..=MAX_START_DELAY);
        }
        if now < m.failover_delay_until {
            return false;
        }
    }
    m.failover_delay_until = 0;
    start(sen, st, name, now);
    true
}

/// Redis's `sentinelStartFailover`.
pub(crate) fn start(sen: &Sentinel, st: &mut State, name: &str, now: i64) {
    st.current_epoch += 1;
    let epoch = st.current_epoch;
    let Some(m) = st.masters.get_mut(name) else {
        return;
    };
    m.failover_state = FailoverState::WaitStart;
    m.select_asked = 0;
    m.inst.flags |= flag::FAILOVER_IN_PROGRESS;
    m.failover_epoch = epoch;
    sen.event(Level::Warning, "+new-epoch", &epoch.to_string());
    sen.event(Level::Warning, "+try-failover", &describe(m, None));
    m.failover_start_time = now + rand::thread_rng().gen_range(0..MAX_DESYNC);
    m.failover_state_change_time = now;
    st.dirty = true;
}

/// Records this sentinel's vote for `epoch` (one vote per epoch: the first
/// candidate to ask gets it). Returns the leader voted for and its epoch.
pub(crate) fn vote(
    sen: &Sentinel,
    st: &mut State,
    name: &str,
    req_epoch: u64,
    req_runid: &str,
    now: i64,
) -> (Option<String>, u64) {
    if req_epoch > st.current_epoch {
        st.current_epoch = req_epoch;
        st.dirty = true;
        sen.event(Level::Warning, "+new-epoch", &req_epoch.to_string());
    }
    let current = st.current_epoch;
    let myid = st.myid.clone();
    let Some(m) = st.masters.get_mut(name) else {
        return (None, 0);
    };
    if m.leader_epoch < req_epoch && current <= req_epoch {
        m.leader = Some(req_runid.to_string());
        m.leader_epoch = current;
        st.dirty = true;
        sen.event(
            Level::Warning,
            "+vote-for-leader",
            &format!("{req_runid} {}", m.leader_epoch),
        );
        // Having voted for another, do not compete with it for a while.
        if req_runid != myid {
            m.failover_start_time = now + rand::thread_rng().gen_range(0..MAX_DESYNC);
        }
    }
    (m.leader.clone(), m.leader_epoch)
}

/// Redis's `sentinelGetLeader`: the sentinel with a majority of the votes
/// for `epoch` (and at least `quorum`), counting our own vote, which goes to
/// the front runner or else to ourselves.
fn get_leader(sen: &Sentinel, st: &mut State, name: &str, epoch: u64, now: i64) -> Option<String> {
    let myid = st.myid.clone();
    let m = st.masters.get(name)?;
    let mut counters: BTreeMap<String, u32> = BTreeMap::new();
    let voters = m.sentinels.len() as u32 + 1;
    for s in m.sentinels.values() {
        if let Some(l) = &s.leader {
            if s.leader_epoch == epoch {
                *counters.entry(l.clone()).or_default() += 1;
            }
        }
    }
    let quorum = m.quorum;
    let front = counters
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(k, _)| k.clone());
    let candidate = front.unwrap_or(myid);
    let (my_vote, my_epoch) = vote(sen, st, name, epoch, &candidate, now);
    if let Some(v) = my_vote {
        if my_epoch == epoch {
            *counters.entry(v).or_default() += 1;
        }
    }
    let (winner, votes) = counters
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))?;
    (votes > voters / 2 && votes >= quorum).then_some(winner)
}

pub(crate) fn state_machine(sen: &Sentinel, st: &mut State, name: &str, now: i64) {
    let Some(m) = st.masters.get(name) else {
        return;
    };
    if !m.inst.has(flag::FAILOVER_IN_PROGRESS) {
        return;
    }
    match m.failover_state {
        FailoverState::WaitStart => wait_start(sen, st, name, now),
        FailoverState::SelectSlave => select_slave(sen, st, name, now),
        FailoverState::SendSlaveofNoone => send_slaveof_noone(sen, st, name, now),
        FailoverState::WaitPromotion => {
            let Some(m) = st.masters.get_mut(name) else {
                return;
            };
            if now - m.failover_state_change_time > m.failover_timeout {
                sen.event(
                    Level::Warning,
                    "-failover-abort-slave-timeout",
                    &describe(m, None),
                );
                abort(m);
            }
        }
        FailoverState::ReconfSlaves => reconf_next_slave(sen, st, name, now),
        FailoverState::None | FailoverState::UpdateConfig => {}
    }
}

fn wait_start(sen: &Sentinel, st: &mut State, name: &str, now: i64) {
    let myid = st.myid.clone();
    let Some(epoch) = st.masters.get(name).map(|m| m.failover_epoch) else {
        return;
    };
    let leader = get_leader(sen, st, name, epoch, now);
    let Some(m) = st.masters.get_mut(name) else {
        return;
    };
    let is_leader = leader.as_deref() == Some(myid.as_str());
    if !is_leader && !m.inst.has(flag::FORCE_FAILOVER) {
        let timeout = ELECTION_TIMEOUT.min(m.failover_timeout);
        if now - m.failover_start_time > timeout {
            sen.event(
                Level::Warning,
                "-failover-abort-not-elected",
                &describe(m, None),
            );
            abort(m);
        }
        return;
    }
    sen.event(Level::Warning, "+elected-leader", &describe(m, None));
    m.failover_state = FailoverState::SelectSlave;
    m.failover_state_change_time = now;
    sen.event(
        Level::Warning,
        "+failover-state-select-slave",
        &describe(m, None),
    );
    // The selection starts at the next tick by asking every replica for a
    // fresh INFO (`select_slave`).
}

/// How long the replica selection waits for the fresh INFO replies it
/// asked for; a replica that does not answer within it is not a candidate.
pub(crate) const FRESH_INFO_TIMEOUT: i64 = 1000;

/// Redis's `sentinelSelectSlave`, with one departure: among replicas that
/// are up, answered recently, have priority > 0 and were not cut off from
/// the master for long, the **largest offset** first, then the lowest
/// priority, then the smallest run id (Redis puts priority before the
/// offset). A replica behind another would lose the writes only the other
/// has, acknowledged ones included, so priority only breaks ties.
///
/// Offsets count within one history: when the master's replid is known,
/// only replicas that report it are candidates. A replica of another
/// history has not finished a sync with this master (a full sync or a
/// partial one adopts the master's id), so it may lack what the master
/// acknowledged: a node still resyncing, such as an old master being
/// converted, reports the offset of its own divergent log. If no replica
/// qualifies, no failover: waiting for the master beats promoting one that
/// may be behind.
///
/// `fresh_since`: only replicas whose INFO answered the selection's own
/// request, sent at that time, count (see `select_slave`); `None` (the
/// SENTINEL FAILOVER precheck) uses what periodic INFO said.
pub(crate) fn best_replica(m: &Master, now: i64, fresh_since: Option<i64>) -> Option<String> {
    let mut max_down = m.down_after * 10;
    if m.inst.has(flag::S_DOWN) {
        max_down += now - m.inst.s_down_since;
    }
    let info_validity = if m.inst.has(flag::S_DOWN) {
        PING_PERIOD * 5
    } else {
        INFO_PERIOD * 3
    };
    let mut c: Vec<&Instance> = m
        .replicas
        .values()
        .filter(|r| {
            !r.has(flag::S_DOWN | flag::O_DOWN)
                && r.link_up
                && now - r.last_avail_time <= PING_PERIOD * 5
                && r.slave_priority != 0
                && r.info_refresh != 0
                && now - r.info_refresh <= info_validity
                && r.master_link_down_time <= max_down
                && r.role_reported == Kind::Replica
                && fresh_since.is_none_or(|t| r.select_info_time >= t && r.select_info_time > 0)
        })
        .collect();
    if let Some(id) = &m.inst.replid {
        c.retain(|r| r.replid.as_ref() == Some(id));
    }
    c.sort_by(|a, b| {
        b.slave_repl_offset
            .cmp(&a.slave_repl_offset)
            .then(a.slave_priority.cmp(&b.slave_priority))
            .then_with(|| match (&a.runid, &b.runid) {
                (Some(x), Some(y)) => x.cmp(y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            })
    });
    c.first().map(|r| r.name.clone())
}

/// Answers the selection's INFO: applies it as any INFO, and marks the
/// replica as having answered this selection.
fn select_info_callback(owner: Owner) -> Callback {
    Box::new(move |sen, st, reply: Reply| {
        if let Ok(Frame::Bulk(text)) = reply {
            let text = String::from_utf8_lossy(&text).into_owned();
            refresh_info(sen, st, &owner, text);
            if let Some(inst) = find(st, &owner) {
                inst.select_info_time = crate::util::now_ms();
            }
        }
    })
}

/// The offsets periodic INFO gave may be a second (or, with the master up,
/// ten) old, so the selection first asks every replica for its INFO right
/// now and chooses among the ones that answer within
/// `FRESH_INFO_TIMEOUT`: it decides as soon as all answered.
fn select_slave(sen: &Sentinel, st: &mut State, name: &str, now: i64) {
    let Some(m) = st.masters.get_mut(name) else {
        return;
    };
    if m.select_asked == 0 {
        m.select_asked = now;
        for (k, r) in m.replicas.iter_mut() {
            r.select_info_time = 0;
            let owner = Owner {
                master: name.to_string(),
                id: r.id,
            };
            if r.link.is_connected() && r.link.send(&["INFO"], Some(select_info_callback(owner))) {
                r.select_info_time = -1;
            } else {
                tracing::debug!("replica {k} not asked for INFO: link down");
            }
        }
        return;
    }
    let waiting = m.replicas.values().any(|r| r.select_info_time == -1);
    if waiting && now - m.select_asked < FRESH_INFO_TIMEOUT {
        return;
    }
    let asked = m.select_asked;
    for r in m.replicas.values() {
        tracing::info!(
            "failover candidate {}: offset {} priority {} {}",
            r.name,
            r.slave_repl_offset,
            r.slave_priority,
            if r.select_info_time >= asked {
                "answered"
            } else {
                "did not answer"
            }
        );
    }
    match best_replica(m, now, Some(asked)) {
        None => {
            sen.event(
                Level::Warning,
                "-failover-abort-no-good-slave",
                &describe(m, None),
            );
            abort(m);
        }
        Some(key) => {
            let Some(r) = m.replicas.get_mut(&key) else {
                return;
            };
            r.flags |= flag::PROMOTED;
            let id = r.id;
            m.promoted = Some(key);
            sen.event(Level::Warning, "+selected-slave", &describe_in(m, id));
            m.failover_state = FailoverState::SendSlaveofNoone;
            m.failover_state_change_time = now;
            sen.event(
                Level::Notice,
                "+failover-state-send-slaveof-noone",
                &describe_in(m, id),
            );
            send_slaveof_noone(sen, st, name, now);
        }
    }
}

fn send_slaveof_noone(sen: &Sentinel, st: &mut State, name: &str, now: i64) {
    let Some(m) = st.masters.get_mut(name) else {
        return;
    };
    let Some(r) = m.promoted_replica() else {
        abort(m);
        return;
    };
    let id = r.id;
    if !r.link_up || !send_slaveof(r, None) {
        if now - m.failover_state_change_time > m.failover_timeout {
            sen.event(
                Level::Warning,
                "-failover-abort-slave-timeout",
                &describe(m, None),
            );
            abort(m);
        }
        return;
    }
    m.failover_state = FailoverState::WaitPromotion;
    m.failover_state_change_time = now;
    sen.event(
        Level::Notice,
        "+failover-state-wait-promotion",
        &describe_in(m, id),
    );
}

/// Repoints up to `parallel-syncs` replicas at a time to the promoted one,
/// and ends the failover when all are done or the failover timeout passed.
fn reconf_next_slave(sen: &Sentinel, st: &mut State, name: &str, now: i64) {
    let Some(m) = st.masters.get_mut(name) else {
        return;
    };
    let Some(promoted) = m.promoted_replica().map(|r| r.addr.clone()) else {
        abort(m);
        return;
    };
    let mut in_progress = m
        .replicas
        .values()
        .filter(|r| r.has(flag::RECONF_SENT | flag::RECONF_INPROG))
        .count() as i64;
    let keys: Vec<String> = m.replicas.keys().cloned().collect();
    for k in &keys {
        if in_progress >= m.parallel_syncs {
            break;
        }
        let Some(r) = m.replicas.get_mut(k) else {
            continue;
        };
        if r.has(flag::PROMOTED | flag::RECONF_DONE) {
            continue;
        }
        // A replica that does not get there in time is left to the
        // fix-slave-config check later.
        if r.has(flag::RECONF_SENT) && now - r.slave_reconf_sent_time > SLAVE_RECONF_TIMEOUT {
            r.flags &= !flag::RECONF_SENT;
            let id = r.id;
            sen.event(
                Level::Notice,
                "-slave-reconf-sent-timeout",
                &describe_in(m, id),
            );
            continue;
        }
        if r.has(flag::RECONF_SENT | flag::RECONF_INPROG) || !r.link_up {
            continue;
        }
        if send_slaveof(r, Some(&promoted)) {
            r.flags |= flag::RECONF_SENT;
            r.slave_reconf_sent_time = now;
            let id = r.id;
            sen.event(Level::Notice, "+slave-reconf-sent", &describe_in(m, id));
            in_progress += 1;
        }
    }
    detect_end(sen, m, &promoted, now);
}

fn detect_end(sen: &Sentinel, m: &mut Master, promoted: &Addr, now: i64) {
    let promoted_down = m.promoted_replica().is_none_or(|r| r.has(flag::S_DOWN));
    if promoted_down {
        return;
    }
    let not_done = m
        .replicas
        .values()
        .filter(|r| !r.has(flag::PROMOTED | flag::RECONF_DONE) && !r.has(flag::S_DOWN))
        .count();
    let timeout = now - m.failover_state_change_time > m.failover_timeout;
    if not_done > 0 && !timeout {
        return;
    }
    if timeout {
        sen.event(
            Level::Warning,
            "+failover-end-for-timeout",
            &describe(m, None),
        );
        // Best effort for the ones left: send them SLAVEOF anyway.
        let keys: Vec<String> = m.replicas.keys().cloned().collect();
        for k in keys {
            let Some(r) = m.replicas.get_mut(&k) else {
                continue;
            };
            if r.has(flag::PROMOTED | flag::RECONF_DONE | flag::RECONF_SENT) {
                continue;
            }
            if send_slaveof(r, Some(promoted)) {
                r.flags |= flag::RECONF_SENT;
                let id = r.id;
                sen.event(Level::Notice, "+slave-reconf-sent-be", &describe_in(m, id));
            }
        }
    }
    sen.event(Level::Warning, "+failover-end", &describe(m, None));
    m.failover_state = FailoverState::UpdateConfig;
    m.failover_state_change_time = now;
}

fn abort(m: &mut Master) {
    m.inst.flags &= !(flag::FAILOVER_IN_PROGRESS | flag::FORCE_FAILOVER);
    m.select_asked = 0;
    m.failover_state = FailoverState::None;
    m.failover_state_change_time = crate::util::now_ms();
    if let Some(r) = m.promoted.take().and_then(|k| m.replicas.get_mut(&k)) {
        r.flags &= !flag::PROMOTED;
    }
    for r in m.replicas.values_mut() {
        r.flags &= !(flag::RECONF_SENT | flag::RECONF_INPROG | flag::RECONF_DONE);
    }
}

/// The failover ended: the promoted replica becomes the group's master.
pub(crate) fn switch_to_promoted(sen: &Sentinel, st: &mut State, name: &str, now: i64) {
    let Some(m) = st.masters.get(name) else {
        return;
    };
    let Some(to) = m.promoted_replica().map(|r| r.addr.clone()) else {
        return;
    };
    switch_master(sen, st, name, to, now);
}

/// `+switch-master` and Redis's `sentinelResetMasterAndChangeAddress`: the
/// group now has its master at `to`; the old master and the other replicas
/// are its replicas; the known sentinels stay.
pub(crate) fn switch_master(sen: &Sentinel, st: &mut State, name: &str, to: Addr, now: i64) {
    let Some(old) = st.masters.remove(name) else {
        return;
    };
    sen.event(
        Level::Warning,
        "+switch-master",
        &format!(
            "{} {} {} {} {}",
            old.inst.name, old.inst.addr.ip, old.inst.addr.port, to.ip, to.port
        ),
    );
    old.inst.close_links();
    for r in old.replicas.values() {
        r.close_links();
    }
    let mut replica_addrs: Vec<Addr> = old
        .replicas
        .values()
        .map(|r| r.addr.clone())
        .filter(|a| *a != to)
        .collect();
    if old.inst.addr != to {
        replica_addrs.push(old.inst.addr.clone());
    }
    let inst = st.new_instance(Kind::Master, old.inst.name.clone(), to, now);
    let mut m = Master {
        inst,
        replicas: BTreeMap::new(),
        leader: None,
        failover_epoch: 0,
        failover_state: FailoverState::None,
        failover_state_change_time: 0,
        failover_start_time: old.failover_start_time,
        failover_delay_until: 0,
        promoted: None,
        select_asked: 0,
        ..old
    };
    for s in m.sentinels.values_mut() {
        s.flags &= !flag::MASTER_DOWN;
    }
    for a in replica_addrs {
        let r = st.new_instance(Kind::Replica, a.key(), a, now);
        sen.event(Level::Notice, "+slave", &describe(&m, Some(&r)));
        m.replicas.insert(r.name.clone(), r);
    }
    hello::force_update(&mut m);
    st.masters.insert(name.to_string(), m);
    st.dirty = true;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sentinel::config::MasterConfig;

    fn state() -> State {
        State {
            myid: "a".repeat(40),
            current_epoch: 0,
            masters: BTreeMap::new(),
            port: 26379,
            announce_ip: None,
            announce_port: 0,
            resolve_hostnames: false,
            announce_hostnames: false,
            sentinel_user: None,
            sentinel_pass: None,
            loglevel: crate::config::LogLevel::Notice,
            tilt: false,
            tilt_start: 0,
            previous_time: 0,
            next_id: 0,
            dirty: false,
            to_start: Vec::new(),
        }
    }

    /// A master with replicas (port, offset, priority, replid), all up and
    /// answering the selection asked at time 1000.
    fn group(replid: Option<&str>, replicas: &[(u16, u64, i64, &str)], now: i64) -> Master {
        let mut st = state();
        let mut m = st.master_from_config(&MasterConfig::new("m", "127.0.0.1", 6379, 1), now);
        m.inst.replid = replid.map(str::to_string);
        for &(port, off, prio, id) in replicas {
            let a = Addr::new("127.0.0.1", port);
            let mut r = st.new_instance(Kind::Replica, a.key(), a, now);
            r.link_up = true;
            r.last_avail_time = now;
            r.info_refresh = now;
            r.role_reported = Kind::Replica;
            r.slave_repl_offset = off;
            r.slave_priority = prio;
            r.replid = Some(id.to_string());
            r.select_info_time = 1000;
            m.replicas.insert(r.name.clone(), r);
        }
        m
    }

    #[test]
    fn offset_beats_priority_and_other_histories_are_not_candidates() {
        let (x, y) = ("x".repeat(40), "y".repeat(40));
        let now = 2000;
        // Ahead wins over a better priority; priority breaks ties.
        let m = group(
            Some(&x),
            &[(1, 100, 10, &x), (2, 200, 100, &x), (3, 200, 50, &x)],
            now,
        );
        assert_eq!(
            best_replica(&m, now, Some(1000)).as_deref(),
            Some("127.0.0.1:3")
        );
        // Priority 0: never.
        let m = group(Some(&x), &[(1, 100, 10, &x), (2, 200, 0, &x)], now);
        assert_eq!(
            best_replica(&m, now, Some(1000)).as_deref(),
            Some("127.0.0.1:1")
        );
        // A replica of another history (an old master resyncing) is not a
        // candidate however far its own log goes; with only such replicas,
        // nobody is.
        let m = group(Some(&x), &[(1, 100, 100, &x), (2, 900, 100, &y)], now);
        assert_eq!(
            best_replica(&m, now, Some(1000)).as_deref(),
            Some("127.0.0.1:1")
        );
        let m = group(Some(&x), &[(2, 900, 100, &y)], now);
        assert_eq!(best_replica(&m, now, Some(1000)), None);
        // Master's history unknown: offsets decide.
        let m = group(None, &[(1, 100, 100, &x), (2, 900, 100, &y)], now);
        assert_eq!(
            best_replica(&m, now, Some(1000)).as_deref(),
            Some("127.0.0.1:2")
        );
        // Only replicas that answered the selection's INFO count.
        let m = group(Some(&x), &[(1, 100, 100, &x)], now);
        assert_eq!(best_replica(&m, now, Some(1001)), None);
        assert!(best_replica(&m, now, None).is_some());
    }
}
