//! Hello messages on `__sentinel__:hello`: how sentinels watching the same
//! master find each other and spread the newest master configuration.
//! Format (Redis's): `ip,port,runid,current_epoch,master_name,master_ip,
//! master_port,master_config_epoch`.

use super::instance::{Addr, Instance, Kind, Master};
use super::link::Owner;
use super::{describe, failover, Level, Sentinel, State};
use crate::resp::Frame;

pub(crate) const CHANNEL: &str = "__sentinel__:hello";

/// A hello without the announced ip, which depends on the link.
pub(crate) struct Template {
    announce_ip: Option<String>,
    rest: String,
}

impl Template {
    /// The payload for a hello sent over `inst`'s link.
    pub(crate) fn render(&self, inst: &Instance) -> Option<String> {
        let ip = match &self.announce_ip {
            Some(ip) => ip.clone(),
            None => inst.link.local_ip.lock().clone()?,
        };
        Some(format!("{ip},{}", self.rest))
    }
}

pub(crate) fn payload(st: &State, m: &Master) -> Template {
    let port = if st.announce_port != 0 {
        st.announce_port
    } else {
        st.port
    };
    let a = m.current_addr();
    Template {
        announce_ip: st.announce_ip.clone(),
        rest: format!(
            "{port},{},{},{},{},{},{}",
            st.myid, st.current_epoch, m.inst.name, a.ip, a.port, m.config_epoch
        ),
    }
}

/// Makes the next tick send hellos to every instance of the group (after a
/// promotion, so the others learn the new configuration at once).
pub(crate) fn force_update(m: &mut Master) {
    m.inst.last_pub_time = 0;
    for r in m.replicas.values_mut() {
        r.last_pub_time = 0;
    }
    for s in m.sentinels.values_mut() {
        s.last_pub_time = 0;
    }
}

/// A message arriving on a hello subscription.
pub(crate) fn on_message(sen: &Sentinel, _owner: &Owner, frame: Frame) {
    let Frame::Array(items) = frame else {
        return;
    };
    let Some(payload) = items.get(2).and_then(|f| f.as_bytes()) else {
        return;
    };
    let payload = String::from_utf8_lossy(payload).into_owned();
    let mut st = sen.state.lock();
    process(sen, &mut st, &payload);
}

/// Redis's `sentinelProcessHelloMessage`: learn the sender, its epoch, and
/// a newer configuration of the master if it has one.
pub(crate) fn process(sen: &Sentinel, st: &mut State, payload: &str) -> bool {
    let t: Vec<&str> = payload.split(',').collect();
    if t.len() != 8 {
        return false;
    }
    let (Ok(port), Ok(epoch), Ok(mport), Ok(mepoch)) = (
        t[1].parse::<u16>(),
        t[3].parse::<u64>(),
        t[6].parse::<u16>(),
        t[7].parse::<u64>(),
    ) else {
        return false;
    };
    let (ip, runid, mname, mip) = (t[0], t[2], t[4], t[5]);
    if runid == st.myid {
        return true;
    }
    if runid.len() != 40 {
        return false;
    }
    let now = crate::util::now_ms();
    st.next_id += 1;
    let fresh_id = st.next_id;
    let Some(m) = st.masters.get_mut(mname) else {
        return false;
    };
    let mut dirty = false;
    let known = m
        .sentinels
        .get(runid)
        .is_some_and(|s| s.addr.ip == ip && s.addr.port == port);
    if !known {
        // Same id at a new address, or a new id at a known address: the old
        // entry is stale.
        let stale: Vec<String> = m
            .sentinels
            .values()
            .filter(|s| s.name == runid || (s.addr.ip == ip && s.addr.port == port))
            .map(|s| s.name.clone())
            .collect();
        for k in stale {
            if let Some(old) = m.sentinels.remove(&k) {
                old.close_links();
                sen.event(
                    Level::Notice,
                    "-dup-sentinel",
                    &format!(
                        "{} #duplicate of {ip}:{port} or {runid}",
                        describe(m, Some(&old))
                    ),
                );
            }
        }
        let mut s = Instance::new(
            fresh_id,
            Kind::Sentinel,
            runid.to_string(),
            Addr::new(ip, port),
            now,
        );
        s.runid = Some(runid.to_string());
        sen.event(Level::Notice, "+sentinel", &describe(m, Some(&s)));
        m.sentinels.insert(runid.to_string(), s);
        dirty = true;
    }
    if let Some(s) = m.sentinels.get_mut(runid) {
        s.last_hello_time = now;
    }
    let mut switch = None;
    if m.config_epoch < mepoch {
        m.config_epoch = mepoch;
        dirty = true;
        if m.inst.addr.ip != mip || m.inst.addr.port != mport {
            if let Some(s) = m.sentinels.get(runid) {
                sen.event(Level::Warning, "+config-update-from", &describe(m, Some(s)));
            }
            switch = Some(Addr::new(mip, mport));
        }
    }
    if epoch > st.current_epoch {
        st.current_epoch = epoch;
        dirty = true;
        sen.event(Level::Warning, "+new-epoch", &epoch.to_string());
    }
    if let Some(to) = switch {
        failover::switch_master(sen, st, mname, to, now);
    }
    st.dirty |= dirty;
    true
}
