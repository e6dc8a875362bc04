//! Pub/sub, transactions and MONITOR: table rows for the session layer (`Exec::Session`),
//! plus PUBLISH/SPUBLISH, which travel through the log (flag `LOGGED`) so every node
//! applies them and delivers to its own subscribers: a message published on any node
//! reaches subscribers on every node, in log order.

use super::spec;
use crate::error::CmdResult;
use crate::table::{flags::*, keys, CommandSpec, Exec, SessionCmd, NO_KEYS};
use crate::txn::Txn;
use crate::Frame;

pub fn commands() -> Vec<CommandSpec> {
    use Exec::{Engine as E, Session as S};
    let ps: &'static [&'static str] = &["pubsub"];
    let tx: &'static [&'static str] = &["transaction"];
    let g = "pubsub";
    let sub = PUBSUB | NOSCRIPT | LOADING | STALE;
    vec![
        spec(
            "subscribe",
            -2,
            sub | REST_EVENTS | SUBSCRIBED_OK | READ_TOKEN_OK,
            NO_KEYS,
            ps,
            g,
            "2.0.0",
            "Listens for messages published to channels.",
            S(SessionCmd::Subscribe),
        ),
        spec(
            "psubscribe",
            -2,
            sub | REST_EVENTS | SUBSCRIBED_OK | READ_TOKEN_OK,
            NO_KEYS,
            ps,
            g,
            "2.0.0",
            "Listens for messages published to channels that match one or more patterns.",
            S(SessionCmd::PSubscribe),
        ),
        spec(
            "ssubscribe",
            -2,
            sub | REST_EVENTS | SUBSCRIBED_OK,
            keys(1, -1, 1),
            ps,
            g,
            "7.0.0",
            "Listens for messages published to shard channels.",
            S(SessionCmd::SSubscribe),
        ),
        spec(
            "unsubscribe",
            -1,
            sub | REST_EVENTS | SUBSCRIBED_OK,
            NO_KEYS,
            ps,
            g,
            "2.0.0",
            "Stops listening to messages posted to channels.",
            S(SessionCmd::Unsubscribe),
        ),
        spec(
            "punsubscribe",
            -1,
            sub | REST_EVENTS | SUBSCRIBED_OK,
            NO_KEYS,
            ps,
            g,
            "2.0.0",
            "Stops listening to messages published to channels that match one or more patterns.",
            S(SessionCmd::PUnsubscribe),
        ),
        spec(
            "sunsubscribe",
            -1,
            sub | REST_EVENTS | SUBSCRIBED_OK,
            keys(1, -1, 1),
            ps,
            g,
            "7.0.0",
            "Stops listening to messages posted to shard channels.",
            S(SessionCmd::SUnsubscribe),
        ),
        spec(
            "publish",
            3,
            PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE | LOGGED,
            NO_KEYS,
            ps,
            g,
            "2.0.0",
            "Posts a message to a channel.",
            E(publish),
        ),
        spec(
            "spublish",
            3,
            PUBSUB | LOADING | STALE | FAST | MAY_REPLICATE | LOGGED,
            keys(1, 1, 1),
            ps,
            g,
            "7.0.0",
            "Post a message to a shard channel",
            E(spublish),
        ),
        spec(
            "pubsub",
            -2,
            PUBSUB | LOADING | STALE,
            NO_KEYS,
            ps,
            g,
            "2.8.0",
            "A container for Pub/Sub commands.",
            S(SessionCmd::PubSub),
        ),
        spec(
            "multi",
            1,
            NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | NOT_OVER_REST | NOT_QUEUED,
            NO_KEYS,
            tx,
            "transactions",
            "1.2.0",
            "Starts a transaction.",
            S(SessionCmd::Multi),
        ),
        spec(
            "exec",
            1,
            NOSCRIPT | LOADING | STALE | SKIP_MONITOR | NOT_OVER_REST | NOT_QUEUED,
            NO_KEYS,
            tx,
            "transactions",
            "1.2.0",
            "Executes all commands in a transaction.",
            S(SessionCmd::Exec),
        ),
        spec(
            "discard",
            1,
            NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | NOT_OVER_REST | NOT_QUEUED,
            NO_KEYS,
            tx,
            "transactions",
            "2.0.0",
            "Discards a transaction.",
            S(SessionCmd::Discard),
        ),
        spec(
            "watch",
            -2,
            NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | NOT_OVER_REST | NOT_QUEUED,
            keys(1, -1, 1),
            tx,
            "transactions",
            "2.2.0",
            "Monitors changes to keys to determine the execution of a transaction.",
            S(SessionCmd::Watch),
        ),
        spec(
            "unwatch",
            1,
            NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY | NOT_OVER_REST,
            NO_KEYS,
            tx,
            "transactions",
            "2.2.0",
            "Forgets about watched keys of a transaction.",
            S(SessionCmd::Unwatch),
        ),
        spec(
            "monitor",
            1,
            ADMIN | NOSCRIPT | LOADING | STALE | REST_EVENTS,
            NO_KEYS,
            &["admin", "slow", "dangerous"],
            "server",
            "1.0.0",
            "Listens for all requests received by the server in real-time.",
            S(SessionCmd::Monitor),
        ),
    ]
}

fn publish(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    Ok(Frame::Integer(t.publish(&argv[1], &argv[2], false)))
}

fn spublish(t: &mut Txn, argv: &[Vec<u8>]) -> CmdResult {
    Ok(Frame::Integer(t.publish(&argv[1], &argv[2], true)))
}
