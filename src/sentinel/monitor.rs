//! The sentinel's periodic work on every instance (sentinel.c's
//! `sentinelHandleRedisInstance`): keep links up, send PING / INFO / hello,
//! read INFO replies (replica discovery, role changes, reconfiguration
//! progress), and decide subjective and objective down.

use super::instance::{flag, parse_info, Addr, FailoverState, Instance, Kind, Master};
use super::link::{Callback, LinkKind, Owner, Reply};
use super::{describe, failover, hello, Level, Sentinel, State};
use super::{ASK_PERIOD, INFO_PERIOD, MIN_LINK_RECONNECT_PERIOD, PING_PERIOD, PUBLISH_PERIOD};
use super::{TICK_MS, TILT_PERIOD, TILT_TRIGGER};
use crate::resp::Frame;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// While a master is subjectively down, other sentinels are asked this often
/// whether they agree (Redis asks every second; asking sooner reaches ODOWN
/// sooner after a crash that all sentinels see at once).
const ASK_PERIOD_SDOWN: i64 = 100;
const MAX_PENDING: usize = 100;

/// One timer tick over every master group.
pub(crate) fn tick(sen: &Arc<Sentinel>) {
    let now = crate::util::now_ms();
    let mut st = sen.state.lock();
    check_tilt(sen, &mut st, now);
    let names: Vec<String> = st.masters.keys().cloned().collect();
    for name in &names {
        handle_group(sen, &mut st, name, now);
    }
    for name in &names {
        let update = st
            .masters
            .get(name)
            .is_some_and(|m| m.failover_state == FailoverState::UpdateConfig);
        if update {
            failover::switch_to_promoted(sen, &mut st, name, now);
        }
    }
}

/// Redis's TILT: if the clock jumps or the process stalled for more than
/// 2 s, what we measured is unreliable; act on nothing for 30 s.
fn check_tilt(sen: &Sentinel, st: &mut State, now: i64) {
    let delta = now - st.previous_time;
    if !(0..=TILT_TRIGGER).contains(&delta) {
        st.tilt = true;
        st.tilt_start = now;
        sen.event(Level::Warning, "+tilt", "#tilt mode entered");
    }
    st.previous_time = now;
}

fn handle_group(sen: &Sentinel, st: &mut State, name: &str, now: i64) {
    ensure_links(st, name);
    if st.tilt && now - st.tilt_start >= TILT_PERIOD {
        st.tilt = false;
        sen.event(Level::Warning, "-tilt", "#tilt mode exited");
    }
    let mut forced = false;
    if !st.tilt {
        for id in &instance_ids(st, name) {
            check_sdown(sen, st, name, *id, now);
        }
        check_odown(sen, st, name, now);
        forced = failover::start_if_needed(sen, st, name, now);
        failover::state_machine(sen, st, name, now);
    }
    // After the decisions, as Redis handles a master before its replicas:
    // a master found down this tick gets its replicas' INFO asked now, so
    // the replica selection next tick reads fresh offsets.
    for id in &instance_ids(st, name) {
        periodic(st, name, *id, now);
    }
    if !st.tilt {
        ask_other_sentinels(st, name, now, forced);
    }
}

fn instance_ids(st: &State, name: &str) -> Vec<u64> {
    let Some(m) = st.masters.get(name) else {
        return Vec::new();
    };
    std::iter::once(m.inst.id)
        .chain(m.replicas.values().map(|r| r.id))
        .chain(m.sentinels.values().map(|s| s.id))
        .collect()
}

/// Asks the timer to start link tasks that are not running yet.
fn ensure_links(st: &mut State, name: &str) {
    let Some(m) = st.masters.get(name) else {
        return;
    };
    let mut todo = Vec::new();
    let all = std::iter::once(&m.inst)
        .chain(m.replicas.values())
        .chain(m.sentinels.values());
    for i in all {
        let owner = Owner {
            master: name.to_string(),
            id: i.id,
        };
        if !i.link.is_started() {
            todo.push((
                owner.clone(),
                i.addr.clone(),
                i.link.clone(),
                LinkKind::Command,
            ));
        }
        if let Some(p) = &i.pubsub {
            if !p.is_started() {
                todo.push((owner, i.addr.clone(), p.clone(), LinkKind::Hello));
            }
        }
    }
    st.to_start.extend(todo);
}

/// PING, INFO and hello, each at its period.
fn periodic(st: &mut State, name: &str, id: u64, now: i64) {
    let hello_payload = {
        let Some(m) = st.masters.get(name) else {
            return;
        };
        hello::payload(st, m)
    };
    let Some(m) = st.masters.get_mut(name) else {
        return;
    };
    // From SDOWN on (Redis: ODOWN), replicas are asked for INFO every
    // second, so the replica selection sees fresh offsets and link states.
    let group_busy = m
        .inst
        .has(flag::S_DOWN | flag::O_DOWN | flag::FAILOVER_IN_PROGRESS);
    let waiting_promotion = m.failover_state == FailoverState::WaitPromotion;
    let ping_period = m.down_after.min(PING_PERIOD);
    let Some(inst) = m.find_mut(id) else {
        return;
    };
    if !inst.link_up || !inst.link.is_connected() {
        return;
    }
    if inst.link.pending.load(Ordering::Acquire) >= MAX_PENDING {
        return;
    }
    let owner = Owner {
        master: name.to_string(),
        id,
    };
    if inst.kind != Kind::Sentinel && !inst.info_pending {
        // During a failover the instances it waits on are polled every
        // tick (Redis: every second), so promotion and reconfiguration
        // are seen at once.
        let watched = inst.has(flag::PROMOTED) && waiting_promotion
            || inst.has(flag::RECONF_SENT | flag::RECONF_INPROG);
        let period = if watched {
            TICK_MS as i64
        } else if inst.kind == Kind::Replica && (group_busy || inst.master_link_down_time > 0) {
            1000
        } else {
            INFO_PERIOD
        };
        if inst.info_refresh == 0 || now - inst.info_refresh > period {
            inst.info_pending = true;
            inst.link
                .send(&["INFO"], Some(info_callback(owner.clone())));
        }
    }
    if now - inst.last_pong_time > ping_period && now - inst.last_ping_time > ping_period / 2 {
        send_ping(inst, owner.clone(), now);
    }
    if now - inst.last_pub_time > PUBLISH_PERIOD {
        if let Some(p) = hello_payload.render(inst) {
            inst.last_pub_time = now;
            inst.link.send(&["PUBLISH", hello::CHANNEL, &p], None);
        }
    }
}

fn send_ping(inst: &mut Instance, owner: Owner, now: i64) {
    if inst.link.send(&["PING"], Some(ping_callback(owner))) {
        if inst.act_ping_time == 0 {
            inst.act_ping_time = now;
        }
        inst.last_ping_time = now;
    }
}

/// Looks up the instance a callback belongs to.
pub(crate) fn find<'a>(st: &'a mut State, owner: &Owner) -> Option<&'a mut Instance> {
    st.masters.get_mut(&owner.master)?.find_mut(owner.id)
}

pub(crate) fn ping_callback(owner: Owner) -> Callback {
    Box::new(move |_sen, st, reply: Reply| {
        let now = crate::util::now_ms();
        let Some(inst) = find(st, &owner) else {
            return;
        };
        let Ok(frame) = reply else {
            return;
        };
        let valid = match &frame {
            Frame::Simple(s) => s.eq_ignore_ascii_case("PONG"),
            Frame::Error(e) => e.starts_with("LOADING") || e.starts_with("MASTERDOWN"),
            _ => false,
        };
        if valid {
            inst.last_avail_time = now;
            inst.act_ping_time = 0;
        }
        inst.last_pong_time = now;
    })
}

fn info_callback(owner: Owner) -> Callback {
    Box::new(move |sen, st, reply: Reply| {
        if let Some(inst) = find(st, &owner) {
            inst.info_pending = false;
        }
        if let Ok(Frame::Bulk(text)) = reply {
            let text = String::from_utf8_lossy(&text).into_owned();
            refresh_info(sen, st, &owner, text);
        }
    })
}

/// Sends the reconfiguration Redis Sentinel sends, in one transaction so a
/// node never ends half reconfigured: `SLAVEOF`, `CONFIG REWRITE` (so the
/// role survives a restart), and `CLIENT KILL` of normal and pub/sub
/// clients (so they reconnect and find out about the change).
pub(crate) fn send_slaveof(inst: &Instance, to: Option<&Addr>) -> bool {
    let l = &inst.link;
    if !l.is_connected() {
        return false;
    }
    let port;
    let slaveof: Vec<&str> = match to {
        Some(a) => {
            port = a.port.to_string();
            vec!["SLAVEOF", &a.ip, &port]
        }
        None => vec!["SLAVEOF", "NO", "ONE"],
    };
    l.send(&["MULTI"], None)
        && l.send(&slaveof, None)
        && l.send(&["CONFIG", "REWRITE"], None)
        && l.send(&["CLIENT", "KILL", "TYPE", "normal"], None)
        && l.send(&["CLIENT", "KILL", "TYPE", "pubsub"], None)
        && l.send(&["EXEC"], None)
}

/// Redis's `sentinelMasterLooksSane`.
pub(crate) fn master_looks_sane(m: &Master, now: i64) -> bool {
    m.inst.role_reported == Kind::Master
        && !m.inst.has(flag::S_DOWN | flag::O_DOWN)
        && m.inst.info_refresh != 0
        && now - m.inst.info_refresh < INFO_PERIOD * 2
}

/// Applies an INFO reply (Redis's `sentinelRefreshInstanceInfo`).
pub(crate) fn refresh_info(sen: &Sentinel, st: &mut State, owner: &Owner, text: String) {
    let now = crate::util::now_ms();
    let tilt = st.tilt;
    let next_id = &mut st.next_id;
    let Some(m) = st.masters.get_mut(&owner.master) else {
        return;
    };
    let f = parse_info(&text);
    let mut dirty = false;
    let mut new_replicas = Vec::new();
    let mut rebooted = false;
    {
        let Some(inst) = m.find_mut(owner.id) else {
            return;
        };
        inst.info = text;
        inst.info_refresh = now;
        if f.master_replid.is_some() {
            inst.replid = f.master_replid.clone();
        }
        if let Some(id) = &f.run_id {
            if inst.runid.as_deref() != Some(id.as_str()) {
                rebooted = inst.runid.is_some();
                inst.runid = Some(id.clone());
            }
        }
        if inst.kind == Kind::Master && f.role == Some(Kind::Master) {
            new_replicas = f.replicas.clone();
        }
        if inst.kind == Kind::Replica {
            inst.master_link_down_time = if f.master_link_up == Some(true) {
                0
            } else {
                f.master_link_down_since.unwrap_or(0)
            };
            let host = f.master_host.clone();
            let port = f.master_port.unwrap_or(0);
            if host != inst.slave_master_host || port != inst.slave_master_port {
                inst.slave_conf_change_time = now;
            }
            inst.slave_master_host = host;
            inst.slave_master_port = port;
            inst.slave_master_link_up = f.master_link_up == Some(true);
            if let Some(p) = f.slave_priority {
                inst.slave_priority = p;
            }
            if let Some(o) = f.slave_repl_offset {
                inst.slave_repl_offset = o;
            }
            if let Some(a) = f.replica_announced {
                inst.replica_announced = a;
            }
        }
    }
    if rebooted {
        sen.event(Level::Notice, "+reboot", &describe_in(m, owner.id));
    }
    for (ip, port) in new_replicas {
        let a = Addr::new(&ip, port);
        if !m.replicas.contains_key(&a.key()) {
            *next_id += 1;
            let r = Instance::new(*next_id, Kind::Replica, a.key(), a, now);
            sen.event(Level::Notice, "+slave", &describe(m, Some(&r)));
            m.replicas.insert(r.name.clone(), r);
            dirty = true;
        }
    }
    let Some(role) = f.role else {
        st.dirty |= dirty;
        return;
    };
    let kind = match m.find_mut(owner.id) {
        Some(inst) => inst.kind,
        None => return,
    };
    let changed = {
        let inst = m.find_mut(owner.id).expect("checked above");
        if inst.role_reported != role {
            inst.role_reported = role;
            inst.role_reported_time = now;
            if kind == Kind::Replica {
                inst.slave_conf_change_time = now;
            }
            true
        } else {
            false
        }
    };
    if changed {
        let ty = if role == kind {
            "+role-change"
        } else {
            "-role-change"
        };
        let d = describe_in(m, owner.id);
        let r = if role == Kind::Master {
            "master"
        } else {
            "slave"
        };
        sen.event(Level::Notice, ty, &format!("{d} new reported role is {r}"));
    }
    if tilt {
        st.dirty |= dirty;
        return;
    }
    let master_addr = m.inst.addr.clone();
    if kind == Kind::Replica && role == Kind::Master {
        let inst = m.find_mut(owner.id).expect("checked above");
        let promoted_here = inst.has(flag::PROMOTED);
        if promoted_here
            && m.inst.has(flag::FAILOVER_IN_PROGRESS)
            && m.failover_state == FailoverState::WaitPromotion
        {
            m.config_epoch = m.failover_epoch;
            m.failover_state = FailoverState::ReconfSlaves;
            m.failover_state_change_time = now;
            dirty = true;
            let d = describe_in(m, owner.id);
            sen.event(Level::Warning, "+promoted-slave", &d);
            sen.event(
                Level::Warning,
                "+failover-state-reconf-slaves",
                &describe(m, None),
            );
            hello::force_update(m);
        } else if !promoted_here {
            // A replica turned master behind our back: make it a replica again,
            // after giving other sentinels time to tell us about a new config.
            let wait = PUBLISH_PERIOD * 4;
            let sane = master_looks_sane(m, now);
            let inst = m.find_mut(owner.id).expect("checked above");
            if sane
                && inst.no_down_for(wait, now)
                && now - inst.role_reported_time > wait
                && send_slaveof(inst, Some(&master_addr))
            {
                let d = describe_in(m, owner.id);
                sen.event(Level::Notice, "+convert-to-slave", &d);
            }
        }
    }
    if kind == Kind::Replica && role == Kind::Replica {
        let wait = m.failover_timeout;
        let sane = master_looks_sane(m, now);
        let promoted_addr = m.promoted_replica().map(|r| r.addr.clone());
        let inst = m.find_mut(owner.id).expect("checked above");
        let points_elsewhere = inst.slave_master_port != master_addr.port
            || inst.slave_master_host.as_deref() != Some(master_addr.ip.as_str());
        let reconfiguring = inst.has(flag::RECONF_SENT | flag::RECONF_INPROG);
        if points_elsewhere
            && !reconfiguring
            && sane
            && inst.no_down_for(wait, now)
            && now - inst.slave_conf_change_time > wait
            && send_slaveof(inst, Some(&master_addr))
        {
            let d = describe_in(m, owner.id);
            sen.event(Level::Notice, "+fix-slave-config", &d);
        }
        if let Some(p) = promoted_addr {
            let inst = m.find_mut(owner.id).expect("checked above");
            let to_promoted = inst.slave_master_port == p.port
                && inst.slave_master_host.as_deref() == Some(p.ip.as_str());
            if inst.has(flag::RECONF_SENT) && to_promoted {
                inst.flags = (inst.flags & !flag::RECONF_SENT) | flag::RECONF_INPROG;
                let d = describe_in(m, owner.id);
                sen.event(Level::Notice, "+slave-reconf-inprog", &d);
            }
            let inst = m.find_mut(owner.id).expect("checked above");
            if inst.has(flag::RECONF_INPROG) && inst.slave_master_link_up {
                inst.flags = (inst.flags & !flag::RECONF_INPROG) | flag::RECONF_DONE;
                let d = describe_in(m, owner.id);
                sen.event(Level::Notice, "+slave-reconf-done", &d);
            }
        }
    }
    st.dirty |= dirty;
}

/// `%@` for the instance with `id` in `m`.
pub(crate) fn describe_in(m: &Master, id: u64) -> String {
    if m.inst.id == id {
        return describe(m, None);
    }
    let inst = m
        .replicas
        .values()
        .chain(m.sentinels.values())
        .find(|i| i.id == id);
    describe(m, inst)
}

/// Subjectively down: no valid PING reply for `down-after-milliseconds`,
/// or a master that has claimed to be a replica for too long.
fn check_sdown(sen: &Sentinel, st: &mut State, name: &str, id: u64, now: i64) {
    let Some(m) = st.masters.get_mut(name) else {
        return;
    };
    let down_after = m.down_after;
    let Some(inst) = m.find_mut(id) else {
        return;
    };
    let elapsed = if inst.act_ping_time != 0 {
        now - inst.act_ping_time
    } else if !inst.link_up {
        now - inst.last_avail_time
    } else {
        0
    };
    // A connection that stopped answering is replaced, but not more than
    // once per MIN_LINK_RECONNECT_PERIOD.
    if inst.link_up
        && now - inst.link_up_since >= MIN_LINK_RECONNECT_PERIOD
        && inst.act_ping_time != 0
        && now - inst.act_ping_time > down_after / 2
        && now - inst.last_pong_time > down_after / 2
    {
        inst.link.kick();
    }
    let down = elapsed > down_after
        || (inst.kind == Kind::Master
            && inst.role_reported == Kind::Replica
            && now - inst.role_reported_time > down_after + INFO_PERIOD * 2);
    if down && !inst.has(flag::S_DOWN) {
        inst.flags |= flag::S_DOWN;
        inst.s_down_since = now;
        let d = describe_in(m, id);
        sen.event(Level::Warning, "+sdown", &d);
    } else if !down && inst.has(flag::S_DOWN) {
        inst.flags &= !flag::S_DOWN;
        let d = describe_in(m, id);
        sen.event(Level::Warning, "-sdown", &d);
    }
}

/// Objectively down: enough sentinels (counting us) see the master down.
fn check_odown(sen: &Sentinel, st: &mut State, name: &str, now: i64) {
    let Some(m) = st.masters.get_mut(name) else {
        return;
    };
    let mut votes = 0u32;
    let mut odown = false;
    if m.inst.has(flag::S_DOWN) {
        votes = 1 + m
            .sentinels
            .values()
            .filter(|s| s.has(flag::MASTER_DOWN))
            .count() as u32;
        odown = votes >= m.quorum;
    }
    if odown && !m.inst.has(flag::O_DOWN) {
        m.inst.flags |= flag::O_DOWN;
        m.inst.o_down_since = now;
        sen.event(
            Level::Warning,
            "+odown",
            &format!("{} #quorum {votes}/{}", describe(m, None), m.quorum),
        );
    } else if !odown && m.inst.has(flag::O_DOWN) {
        m.inst.flags &= !flag::O_DOWN;
        m.failover_delay_until = 0;
        sen.event(Level::Warning, "-odown", &describe(m, None));
    }
}

/// Asks the other sentinels whether they see the master down; during our
/// failover the request also asks for their vote (our id instead of `*`).
fn ask_other_sentinels(st: &mut State, name: &str, now: i64, forced: bool) {
    let myid = st.myid.clone();
    let epoch = st.current_epoch;
    let Some(m) = st.masters.get_mut(name) else {
        return;
    };
    let sdown = m.inst.has(flag::S_DOWN);
    let ask_period = if sdown { ASK_PERIOD_SDOWN } else { ASK_PERIOD };
    let (ip, port) = (m.inst.addr.ip.clone(), m.inst.addr.port.to_string());
    let runid = if m.failover_state > FailoverState::None {
        myid
    } else {
        "*".to_string()
    };
    let epoch = epoch.to_string();
    for s in m.sentinels.values_mut() {
        let elapsed = now - s.last_master_down_reply_time;
        // An old answer does not count.
        if elapsed > ASK_PERIOD * 5 {
            s.flags &= !flag::MASTER_DOWN;
            s.leader = None;
        }
        if !sdown || !s.link_up {
            continue;
        }
        if !forced && (elapsed < ask_period || s.info_pending) {
            continue;
        }
        let owner = Owner {
            master: name.to_string(),
            id: s.id,
        };
        // `info_pending` doubles as "question in flight" for sentinels.
        if s.link.send(
            &[
                "SENTINEL",
                "is-master-down-by-addr",
                &ip,
                &port,
                &epoch,
                &runid,
            ],
            Some(is_master_down_callback(owner)),
        ) {
            s.info_pending = true;
        }
    }
}

fn is_master_down_callback(owner: Owner) -> Callback {
    Box::new(move |_sen, st, reply: Reply| {
        let now = crate::util::now_ms();
        let Some(s) = find(st, &owner) else {
            return;
        };
        s.info_pending = false;
        let Ok(Frame::Array(r)) = reply else {
            return;
        };
        if r.len() != 3 {
            return;
        }
        let (Frame::Integer(down), Some(leader), Frame::Integer(epoch)) =
            (&r[0], r[1].as_bytes(), &r[2])
        else {
            return;
        };
        s.last_master_down_reply_time = now;
        if *down == 1 {
            s.flags |= flag::MASTER_DOWN;
        } else {
            s.flags &= !flag::MASTER_DOWN;
        }
        if leader != b"*" {
            s.leader = Some(String::from_utf8_lossy(leader).into_owned());
            s.leader_epoch = (*epoch).max(0) as u64;
        }
    })
}
