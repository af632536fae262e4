//! Pub/sub commands. Sentinels talk to nodes through these (hello messages
//! on `__sentinel__:hello`). The sharded forms (SSUBSCRIBE, SUNSUBSCRIBE,
//! SPUBLISH) are Redis 7.0's on a node outside a cluster: every shard
//! channel is served here, and their channels are keys in the command
//! table (`NOT_KEY` key specs), as Redis declares them.
//!
//! A master with replicas logs each PUBLISH and SPUBLISH in its WAL
//! (`Effect::Message`), so its replicas, and theirs, deliver it to their
//! own subscribers, as Redis propagates both outside a cluster. A master
//! alone keeps them out, as Redis without a backlog; a replica's own
//! PUBLISH stays local, as in Redis.

use super::{cmd, flags::*, Command, Ctx};
use crate::client::pubsub::{PubSub, Subscriber};
use crate::server::client::Client;
use crate::util::eq_ic;
use bytes::Bytes;

pub(crate) fn commands() -> Vec<Command> {
    let none = (0, 0, 0);
    vec![
        cmd(
            "subscribe",
            -2,
            PUBSUB | STALE | SENTINEL,
            none,
            "pubsub",
            "Listens for messages published to channels.",
            subscribe,
        )
        .syntax("channel ..."),
        cmd(
            "unsubscribe",
            -1,
            PUBSUB | STALE | SENTINEL,
            none,
            "pubsub",
            "Stops listening to messages posted to channels.",
            unsubscribe,
        )
        .syntax("[channel ...]"),
        cmd(
            "psubscribe",
            -2,
            PUBSUB | STALE | SENTINEL,
            none,
            "pubsub",
            "Listens for messages published to channels that match one or more patterns.",
            psubscribe,
        )
        .syntax("pattern ..."),
        cmd(
            "punsubscribe",
            -1,
            PUBSUB | STALE | SENTINEL,
            none,
            "pubsub",
            "Stops listening to messages published to channels that match one or more patterns.",
            punsubscribe,
        )
        .syntax("[pattern ...]"),
        cmd(
            "publish",
            3,
            PUBSUB | FAST | STALE | SENTINEL,
            none,
            "pubsub",
            "Posts a message to a channel.",
            publish,
        )
        .syntax("channel message"),
        Command {
            since: "7.0.0",
            ..cmd(
                "ssubscribe",
                -2,
                PUBSUB | NOSCRIPT | LOADING | STALE | NOT_KEY,
                (1, -1, 1),
                "pubsub",
                "Listens for messages published to shard channels.",
                ssubscribe,
            )
            .syntax("shardchannel ...")
        },
        Command {
            since: "7.0.0",
            ..cmd(
                "sunsubscribe",
                -1,
                PUBSUB | NOSCRIPT | LOADING | STALE | NOT_KEY,
                (1, -1, 1),
                "pubsub",
                "Stops listening to messages posted to shard channels.",
                sunsubscribe,
            )
            .syntax("[shardchannel ...]")
        },
        Command {
            since: "7.0.0",
            ..cmd(
                "spublish",
                3,
                PUBSUB | LOADING | STALE | FAST | NOT_KEY,
                (1, 1, 1),
                "pubsub",
                "Post a message to a shard channel",
                spublish,
            )
            .syntax("shardchannel message")
        },
        cmd(
            "pubsub",
            -2,
            PUBSUB | STALE,
            none,
            "pubsub",
            "A container for Pub/Sub commands.",
            pubsub,
        )
        .syntax("subcommand [argument ...]")
        .subs(&[
            ("channels", "pubsub|channels", -2),
            ("numsub", "pubsub|numsub", -2),
            ("numpat", "pubsub|numpat", 2),
            ("shardchannels", "pubsub|shardchannels", -2),
            ("shardnumsub", "pubsub|shardnumsub", -2),
            ("help", "pubsub|help", 2),
        ]),
    ]
}

fn subscriber(ctx: &Ctx<'_>) -> Subscriber {
    Subscriber {
        info: ctx.client.info.clone(),
        tx: ctx.client.push.clone(),
    }
}

fn subscribe(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let me = subscriber(ctx);
    ctx.client
        .subs
        .subscribe(ctx.pubsub(), &me, ctx.out, &a[1..], false);
}

fn psubscribe(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let me = subscriber(ctx);
    ctx.client
        .subs
        .subscribe(ctx.pubsub(), &me, ctx.out, &a[1..], true);
}

fn unsubscribe(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let info = ctx.client.info.clone();
    ctx.client
        .subs
        .unsubscribe(ctx.pubsub(), &info, ctx.out, &a[1..], false);
}

fn punsubscribe(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let info = ctx.client.info.clone();
    ctx.client
        .subs
        .unsubscribe(ctx.pubsub(), &info, ctx.out, &a[1..], true);
}

/// Drops every subscription (connection close, RESET).
pub(crate) fn unsubscribe_all(pubsub: &PubSub, c: &mut Client) {
    let info = c.info.clone();
    c.subs.clear(pubsub, &info);
}

fn ssubscribe(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    // Redis refuses it to a client that expects one reply per command
    // (inside EXEC).
    if ctx.in_exec {
        return ctx.err("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client");
    }
    let me = subscriber(ctx);
    ctx.client
        .subs
        .ssubscribe(ctx.pubsub(), &me, ctx.out, &a[1..]);
}

fn sunsubscribe(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let info = ctx.client.info.clone();
    ctx.client
        .subs
        .sunsubscribe(ctx.pubsub(), &info, ctx.out, &a[1..]);
}

fn spublish(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let n = ctx.pubsub().spublish(&a[1], &a[2]);
    propagate(ctx, true, &a[1], &a[2]);
    ctx.out.int(n as i64);
}

fn publish(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    let n = ctx.pubsub().publish(&a[1], &a[2]);
    propagate(ctx, false, &a[1], &a[2]);
    ctx.out.int(n as i64);
}

/// Logs the message for replicas, on a master that feeds them (a Redis
/// replica does not pass its own PUBLISH on).
fn propagate(ctx: &mut Ctx<'_>, shard: bool, channel: &Bytes, message: &Bytes) {
    let ttl = ctx.config().repl_backlog_ttl;
    if !ctx.store().is_follower() && ctx.repl().feeds_messages(ttl) {
        ctx.tx().message(shard, channel, message);
    }
}

fn pubsub(ctx: &mut Ctx<'_>, a: &[Bytes]) {
    if eq_ic(&a[1], "channels") && a.len() <= 3 {
        let list = ctx.pubsub().channels(a.get(2).map(|b| &b[..]));
        ctx.out.array(list.len());
        for c in list {
            ctx.out.bulk(&c);
        }
    } else if eq_ic(&a[1], "numsub") {
        // A flat array even under RESP3, as Redis 7.0 answers.
        ctx.out.array(2 * (a.len() - 2));
        for ch in &a[2..] {
            ctx.out.bulk(ch);
            ctx.out.int(ctx.pubsub().numsub(ch) as i64);
        }
    } else if eq_ic(&a[1], "numpat") && a.len() == 2 {
        ctx.out.int(ctx.pubsub().numpat() as i64);
    } else if eq_ic(&a[1], "shardchannels") && a.len() <= 3 {
        let list = ctx.pubsub().shard_channels(a.get(2).map(|b| &b[..]));
        ctx.out.array(list.len());
        for c in list {
            ctx.out.bulk(&c);
        }
    } else if eq_ic(&a[1], "shardnumsub") {
        ctx.out.array(2 * (a.len() - 2));
        for ch in &a[2..] {
            ctx.out.bulk(ch);
            ctx.out.int(ctx.pubsub().shard_numsub(ch) as i64);
        }
    } else if eq_ic(&a[1], "help") && a.len() == 2 {
        let lines = [
            "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
            "HELP",
            "    Prints this help.",
        ];
        ctx.help(&lines);
    } else {
        ctx.err(&format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
            String::from_utf8_lossy(&a[1])
        ));
    }
}
