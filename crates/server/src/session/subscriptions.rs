//! The session's pub/sub side: (P|S)SUBSCRIBE and their UNSUBSCRIBEs, PUBSUB, MONITOR.

use super::{Reply, Session};
use crate::pubsub::{Kind, Push};
use engine::{args, CmdError, Frame, SessionCmd};

fn bulk(s: impl Into<Vec<u8>>) -> Frame {
    Frame::Bulk(s.into())
}

/// The channel RESP2 clients receive invalidation messages on (CLIENT TRACKING REDIRECT).
pub const INVALIDATE_CHANNEL: &str = "__redis__:invalidate";

/// A pushed message as the client sees it: a push frame in RESP3, an array in RESP2.
pub fn push_frame(p: &Push, resp3: bool) -> Frame {
    let items = match p {
        Push::Message { channel, payload } => {
            vec![
                bulk("message"),
                bulk(channel.clone()),
                bulk(payload.clone()),
            ]
        }
        Push::PMessage {
            pattern,
            channel,
            payload,
        } => vec![
            bulk("pmessage"),
            bulk(pattern.clone()),
            bulk(channel.clone()),
            bulk(payload.clone()),
        ],
        Push::SMessage { channel, payload } => {
            vec![
                bulk("smessage"),
                bulk(channel.clone()),
                bulk(payload.clone()),
            ]
        }
        Push::Monitor(line) => return Frame::Simple(line.clone()),
        // Client-side caching: a push in RESP3; in RESP2 (a redirect target in
        // subscribed mode) a message on `__redis__:invalidate`, as Redis sends them.
        Push::Invalidate(keys) => {
            let keys = keys.as_ref().map_or(Frame::Null, |ks| {
                Frame::Array(ks.iter().map(|k| bulk(k.clone())).collect())
            });
            if !resp3 {
                return Frame::Array(vec![bulk("message"), bulk(INVALIDATE_CHANNEL), keys]);
            }
            vec![bulk("invalidate"), keys]
        }
        Push::RedirBroken(id) => {
            vec![bulk("tracking-redir-broken"), Frame::Integer(*id as i64)]
        }
    };
    if resp3 {
        Frame::Push(items)
    } else {
        Frame::Array(items)
    }
}

impl Session {
    /// What this connection writes for `p`, if anything: a RESP2 connection cannot take
    /// client-side caching pushes unless it is subscribed (Redis drops them too).
    pub fn push_out(&self, p: &Push) -> Option<Frame> {
        if !self.resp3 {
            match p {
                Push::RedirBroken(_) => return None,
                Push::Invalidate(_) if !self.is_subscriber() => return None,
                _ => {}
            }
        }
        Some(push_frame(p, self.resp3))
    }

    /// Channels plus patterns (what SUBSCRIBE replies count); shard channels apart.
    pub fn subscription_count(&self) -> usize {
        self.subs.len() + self.psubs.len()
    }

    /// Subscribed to anything (channels, patterns or shard channels): the connection's
    /// output then falls under the `pubsub` class of `client-output-buffer-limit`.
    pub fn is_subscriber(&self) -> bool {
        self.subscription_count() + self.ssubs.len() > 0
    }

    /// In RESP2 a subscribed connection only takes pub/sub commands, PING, QUIT, RESET.
    pub fn in_subscribed_mode(&self) -> bool {
        !self.resp3 && (self.subscription_count() + self.ssubs.len()) > 0
    }

    fn ack(&self, what: &str, name: Option<&[u8]>, count: usize) -> Frame {
        let items = vec![
            bulk(what),
            name.map_or(Frame::Null, |n| bulk(n.to_vec())),
            Frame::Integer(count as i64),
        ];
        if self.resp3 {
            Frame::Push(items)
        } else {
            Frame::Array(items)
        }
    }

    /// (P|S)SUBSCRIBE and (P|S)UNSUBSCRIBE: one confirmation per channel.
    pub fn pubsub_cmd(&mut self, cmd: SessionCmd, name: &str, argv: &[Vec<u8>]) -> Vec<Frame> {
        let Some(mb) = self.mailbox.clone() else {
            return vec![Frame::Error(format!(
                "ERR {} is not available on this protocol; use RESP or the REST /subscribe endpoint",
                name.to_uppercase()
            ))];
        };
        if self.multi.is_some() {
            return vec![Frame::Error(format!(
                "ERR Command not allowed inside a transaction: {name}"
            ))];
        }
        let broker = self.shared.broker.clone();
        let mut out = Vec::new();
        let (kind, subscribe) = match cmd {
            SessionCmd::Subscribe => (Kind::Channel, true),
            SessionCmd::PSubscribe => (Kind::Pattern, true),
            SessionCmd::SSubscribe => (Kind::Shard, true),
            SessionCmd::Unsubscribe => (Kind::Channel, false),
            SessionCmd::PUnsubscribe => (Kind::Pattern, false),
            _ => (Kind::Shard, false),
        };
        let count = |s: &Session| {
            if kind == Kind::Shard {
                s.ssubs.len()
            } else {
                s.subscription_count()
            }
        };
        if subscribe {
            for ch in &argv[1..] {
                let inserted = match kind {
                    Kind::Channel => self.subs.insert(ch.clone()),
                    Kind::Pattern => self.psubs.insert(ch.clone()),
                    Kind::Shard => self.ssubs.insert(ch.clone()),
                };
                if inserted {
                    broker.subscribe(kind, ch, &mb);
                }
                out.push(self.ack(name, Some(ch), count(self)));
            }
        } else {
            let targets: Vec<Vec<u8>> = if argv.len() > 1 {
                argv[1..].to_vec()
            } else {
                match kind {
                    Kind::Channel => self.subs.iter().cloned().collect(),
                    Kind::Pattern => self.psubs.iter().cloned().collect(),
                    Kind::Shard => self.ssubs.iter().cloned().collect(),
                }
            };
            if targets.is_empty() {
                out.push(self.ack(name, None, count(self)));
            }
            for ch in targets {
                let removed = match kind {
                    Kind::Channel => self.subs.remove(&ch),
                    Kind::Pattern => self.psubs.remove(&ch),
                    Kind::Shard => self.ssubs.remove(&ch),
                };
                if removed {
                    broker.unsubscribe(kind, &ch, self.id);
                }
                out.push(self.ack(name, Some(&ch), count(self)));
            }
        }
        self.with_info(|i| i.sub_count = self_counts(&self.subs, &self.psubs, &self.ssubs));
        out
    }

    /// PUBSUB CHANNELS | NUMSUB | NUMPAT | SHARDCHANNELS | SHARDNUMSUB (this node's).
    pub(super) fn pubsub_info(&mut self, argv: &[Vec<u8>]) -> Reply {
        let b = &self.shared.broker;
        let sub = args::upper(&argv[1]);
        let list = |v: Vec<Vec<u8>>| Frame::Array(v.into_iter().map(Frame::Bulk).collect());
        match sub.as_str() {
            "CHANNELS" if argv.len() <= 3 => {
                Ok(list(b.channels(Kind::Channel, argv.get(2).map(|p| p.as_slice()))))
            }
            "SHARDCHANNELS" if argv.len() <= 3 => {
                Ok(list(b.channels(Kind::Shard, argv.get(2).map(|p| p.as_slice()))))
            }
            "NUMPAT" if argv.len() == 2 => Ok(Frame::Integer(b.numpat() as i64)),
            "NUMSUB" | "SHARDNUMSUB" => {
                let kind = if sub == "NUMSUB" {
                    Kind::Channel
                } else {
                    Kind::Shard
                };
                let mut out = Vec::new();
                for ch in &argv[2..] {
                    out.push(bulk(ch.clone()));
                    out.push(Frame::Integer(b.numsub(kind, ch) as i64));
                }
                Ok(Frame::Array(out))
            }
            "HELP" if argv.len() == 2 => Ok(Frame::Array(
                [
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
                    "    Print this help.",
                ]
                .iter()
                .map(|s| Frame::Simple(s.to_string()))
                .collect(),
            )),
            // Redis 7.0 answers this for too many arguments, naming the subcommand as
            // the client wrote it.
            "CHANNELS" | "SHARDCHANNELS" if argv.len() > 3 => Err(CmdError::new(format!(
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
                String::from_utf8_lossy(&argv[1])
            ))),
            "CHANNELS" | "SHARDCHANNELS" | "NUMPAT" | "HELP" => Err(CmdError::new(format!(
                "ERR wrong number of arguments for 'pubsub|{}' command",
                sub.to_lowercase()
            ))),
            _ => Err(CmdError::unknown_subcommand(&argv[1], "PUBSUB")),
        }
    }

    pub(super) fn start_monitor(&mut self) -> Reply {
        let Some(mb) = self.mailbox.clone() else {
            return Err(CmdError::new("ERR MONITOR is only available over RESP"));
        };
        if self.multi.is_some() {
            return Err(CmdError::new("ERR MONITOR isn't allowed inside MULTI"));
        }
        self.monitor = true;
        self.shared.broker.add_monitor(&mb);
        // Commands run by scripts and functions applied on this node, as `[db lua]`.
        let broker = std::sync::Arc::downgrade(&self.shared.broker);
        engine::ScriptControl::set_monitor_hook(move |db, argv| {
            if let Some(b) = broker.upgrade() {
                if b.has_monitors() {
                    b.feed_monitors(0, &crate::dispatch::monitor_line(db, "lua", argv));
                }
            }
        });
        Ok(Frame::ok())
    }

    /// Drops every subscription and the MONITOR feed (RESET, connection close).
    pub fn leave_pubsub(&mut self) {
        self.shared.broker.remove_client(self.id);
        self.subs.clear();
        self.psubs.clear();
        self.ssubs.clear();
        self.monitor = false;
        self.with_info(|i| i.sub_count = (0, 0));
    }
}

fn self_counts(
    subs: &std::collections::BTreeSet<Vec<u8>>,
    psubs: &std::collections::BTreeSet<Vec<u8>>,
    ssubs: &std::collections::BTreeSet<Vec<u8>>,
) -> (usize, usize) {
    (subs.len() + ssubs.len(), psubs.len())
}
