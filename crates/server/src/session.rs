//! Connection-level commands: AUTH HELLO SELECT CLIENT QUIT RESET COMMAND INFO CONFIG TIME.

use crate::clients::ClientInfo;
use crate::shared::Shared;
use consensus::Op;
use engine::{args, CmdError, CommandSpec, Frame, SessionCmd};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

mod subscriptions;

#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Continue,
    Close,
}

pub struct Session {
    pub(crate) shared: Arc<Shared>,
    pub id: u64,
    pub db: u8,
    pub resp3: bool,
    pub authenticated: bool,
    /// The ACL user this connection is authenticated as; `None` is `default`.
    pub user: Option<crate::acl_cmds::AclUser>,
    /// Logged in as `default` with a password: its hash and the node's applied index when
    /// it was last found among the default user's passwords. A rotation that removes it
    /// logs the connection out (`refresh_acl`).
    pub default_login: Option<(String, u64)>,
    /// Highest log index this connection wrote (its sync token).
    pub last_index: u64,
    /// CLIENT CONSISTENCY strong: reads go through the leader's read index.
    pub strong: bool,
    pub(crate) info: Arc<Mutex<ClientInfo>>,
    /// Where pub/sub messages and MONITOR lines reach this connection (RESP only).
    pub mailbox: Option<crate::pubsub::Mailbox>,
    pub subs: std::collections::BTreeSet<Vec<u8>>,
    pub psubs: std::collections::BTreeSet<Vec<u8>>,
    pub ssubs: std::collections::BTreeSet<Vec<u8>>,
    /// Inside MULTI: the queued commands.
    pub multi: Option<crate::dispatch::Multi>,
    /// WATCHed keys with the write index each had when watched.
    pub watch: Vec<(u8, Vec<u8>, u64)>,
    /// Raised by the broker when an applied write touches a watched key (even one that
    /// leaves it as it was, such as a create then a delete): EXEC then aborts.
    pub watch_touched: Arc<std::sync::atomic::AtomicBool>,
    pub monitor: bool,
    /// CLIENT NO-TOUCH: this client's reads leave the keys' access statistics alone.
    pub no_touch: bool,
    /// CLIENT TRACKING: this connection's mode while it tracks.
    pub(crate) tracking: Option<crate::tracking::Mode>,
    /// CLIENT CACHING yes/no, in force for the next command (OPTIN / OPTOUT).
    caching: Option<bool>,
    /// The previous command was CLIENT (which leaves CLIENT CACHING in force).
    prev_client: bool,
    /// CLIENT REPLY (`REPLY_*`), read by the connection as it writes replies.
    pub reply: Arc<AtomicU8>,
    /// Close once this command's reply is written (CLIENT KILL of itself).
    close_after: bool,
    /// What `publish_state` last put in the client registry.
    shown: crate::clients::SessionState,
}

/// CLIENT REPLY modes: replies sent; none sent; the next reply (CLIENT REPLY SKIP's
/// own) dropped, then the one after it.
pub const REPLY_ON: u8 = 0;
pub const REPLY_OFF: u8 = 1;
pub const REPLY_SKIP: u8 = 2;
pub const REPLY_SKIP_NEXT: u8 = 3;

type Reply = Result<Frame, CmdError>;

fn bulk(s: impl Into<Vec<u8>>) -> Frame {
    Frame::Bulk(s.into())
}

impl Session {
    pub fn new(shared: Arc<Shared>, id: u64, info: Arc<Mutex<ClientInfo>>) -> Session {
        let authenticated = !shared.auth_required();
        Session {
            shared,
            id,
            db: 0,
            resp3: false,
            authenticated,
            user: None,
            default_login: None,
            last_index: 0,
            strong: false,
            info,
            mailbox: None,
            subs: Default::default(),
            psubs: Default::default(),
            ssubs: Default::default(),
            multi: None,
            watch: Vec::new(),
            watch_touched: Default::default(),
            monitor: false,
            no_touch: false,
            tracking: None,
            caching: None,
            prev_client: false,
            reply: Default::default(),
            close_after: false,
            shown: Default::default(),
        }
    }

    /// A per-request session for the REST front end: the token was already checked,
    /// the database is 0, replies have RESP2 shapes. Not listed by CLIENT LIST.
    pub fn for_rest(
        shared: Arc<Shared>,
        addr: std::net::SocketAddr,
        laddr: std::net::SocketAddr,
    ) -> Session {
        let id = shared.clients.next_id();
        let info = ClientInfo::new(id, addr, laddr);
        Session {
            shared,
            id,
            db: 0,
            resp3: false,
            authenticated: true,
            user: None,
            default_login: None,
            last_index: 0,
            strong: false,
            info: Arc::new(Mutex::new(info)),
            mailbox: None,
            subs: Default::default(),
            psubs: Default::default(),
            ssubs: Default::default(),
            multi: None,
            watch: Vec::new(),
            watch_touched: Default::default(),
            monitor: false,
            no_touch: false,
            tracking: None,
            caching: None,
            prev_client: false,
            reply: Default::default(),
            close_after: false,
            shown: Default::default(),
        }
    }

    fn with_info(&self, f: impl FnOnce(&mut ClientInfo)) {
        if let Ok(mut i) = self.info.lock() {
            f(&mut i);
        }
    }

    /// The log op of write `argv`. A script (EVAL, EVALSHA, FCALL) of an ACL user who may
    /// not run everything carries the user's ACL (`Op::CmdAs`), so the commands it calls
    /// are checked on every node as Redis checks a script's caller; everything else,
    /// and every command of the default user, is a plain `Op::Cmd`.
    pub fn write_op(&self, spec: &CommandSpec, argv: Vec<Vec<u8>>) -> Op {
        if spec.flags & engine::flags::RUNS_SCRIPT != 0 {
            if let Some((user, acl)) = self.script_acl() {
                return Op::CmdAs {
                    db: self.db,
                    argv,
                    user,
                    acl,
                };
            }
        }
        Op::Cmd { db: self.db, argv }
    }

    /// The (name, ACL description) the scripts of this connection's user are checked
    /// against, unless it may run everything (the default user, or `~* &* +@all`).
    fn script_acl(&self) -> Option<(Vec<u8>, Vec<u8>)> {
        let u = self.user.as_ref()?;
        let acl = u.user.describe();
        (!acl.ends_with(b" ~* &* +@all")).then(|| (u.name.clone(), acl))
    }

    pub fn note_command(&mut self, name: &str) {
        // CLIENT CACHING lasts one command (a whole MULTI ... EXEC), as Redis clears it
        // after each command but CLIENT and those that leave the client in MULTI.
        if self.caching.is_some() && !self.prev_client && self.multi.is_none() {
            self.caching = None;
        }
        self.prev_client = name == "client";
        self.with_info(|i| {
            i.last_cmd_at = Instant::now();
            if i.last_cmd != name {
                i.last_cmd = name.to_string();
            }
        });
    }

    pub async fn handle(
        &mut self,
        spec: &'static CommandSpec,
        argv: &[Vec<u8>],
    ) -> (Frame, Outcome) {
        let res = match spec.session_cmd() {
            Some(SessionCmd::Auth) => self.auth(argv).await,
            Some(SessionCmd::Hello) => self.hello(argv).await,
            Some(SessionCmd::Acl) => crate::acl_cmds::acl(self, argv).await,
            Some(SessionCmd::Select) => self.select(argv),
            Some(SessionCmd::Client) => {
                let r = self.client(argv);
                // Keys that came due during a pause are expired before UNPAUSE answers,
                // as Redis's first access after it would.
                if r.is_ok() && argv.len() == 2 && args::is(&argv[1], "unpause") {
                    self.shared.node.expire_now().await;
                }
                if std::mem::take(&mut self.close_after) {
                    return (r.unwrap_or_else(Frame::from), Outcome::Close);
                }
                r
            }
            Some(SessionCmd::Quit) => return (Frame::ok(), Outcome::Close),
            Some(SessionCmd::Reset) => Ok(self.reset()),
            Some(SessionCmd::Command) => crate::command_cmds::command(argv),
            Some(SessionCmd::Info) => Ok(crate::admin_cmds::info(&self.shared, argv)),
            Some(SessionCmd::Config) => self.config(argv).await,
            Some(SessionCmd::Shutdown) => self.shutdown(argv),
            Some(SessionCmd::Time) => Ok(time()),
            Some(SessionCmd::PubSub) => self.pubsub_info(argv),
            Some(SessionCmd::Monitor) => self.start_monitor(),
            Some(SessionCmd::Server) => crate::server_cmds::server_cmd(self, spec, argv).await,
            // The subscribe family and MULTI & co are the dispatcher's (queued inside
            // MULTI, they answer this at EXEC); engine commands never come here.
            Some(
                SessionCmd::Subscribe
                | SessionCmd::PSubscribe
                | SessionCmd::SSubscribe
                | SessionCmd::Unsubscribe
                | SessionCmd::PUnsubscribe
                | SessionCmd::SUnsubscribe
                | SessionCmd::Multi
                | SessionCmd::Exec
                | SessionCmd::Discard
                | SessionCmd::Watch
                | SessionCmd::Unwatch,
            )
            | None => Err(CmdError::new(format!(
                "ERR '{}' is not handled by the session layer",
                spec.name
            ))),
        };
        (res.unwrap_or_else(Frame::from), Outcome::Continue)
    }

    /// Proposes `ops` as one proposal and waits for their replies, one per op, or for
    /// the error that failed them all. The connection's sync token moves to the entry.
    /// Every write a connection or REST request makes goes through here.
    pub async fn propose(&mut self, ops: Vec<Op>) -> Result<Vec<Frame>, Frame> {
        if self.tracking.as_ref().is_some_and(|t| t.noloop) {
            return self.propose_noloop(ops).await;
        }
        match self.shared.node.write(ops).await {
            Ok((index, replies)) => {
                self.last_index = self.last_index.max(index);
                Ok(replies)
            }
            Err(e) => Err(e.to_frame()),
        }
    }

    /// [`Session::propose`] of one op: its reply, or the error.
    pub async fn propose_one(&mut self, op: Op) -> Frame {
        match self.propose(vec![op]).await {
            Ok(mut r) => r.pop().unwrap_or(Frame::Null),
            Err(e) => e,
        }
    }

    /// [`Session::propose`] of client commands, `ops[i]` being a `specs[i]`: one reply
    /// each (the error for each when the proposal failed), with each command's stats
    /// recorded, the proposal's time shared evenly among them.
    pub async fn propose_commands(
        &mut self,
        specs: &[&'static CommandSpec],
        ops: Vec<Op>,
    ) -> Vec<Frame> {
        let t0 = Instant::now();
        let replies = match self.propose(ops).await {
            Ok(r) => r,
            Err(e) => vec![e; specs.len()],
        };
        self.record_stats(specs, t0, &replies);
        replies
    }

    /// MULTI/EXEC, RESP's EXEC and REST's /multi-exec alike: `cmds` (each in its
    /// database) proposed as one `Op::Multi`, which runs them only if every watched
    /// `(db, key, write index)` still matches. The commands' replies; else the reply
    /// EXEC gives instead (a null array when a watched key changed, or the error).
    pub async fn propose_multi(
        &mut self,
        cmds: Vec<(u8, Vec<Vec<u8>>)>,
        watch: Vec<(u8, Vec<u8>, u64)>,
    ) -> Result<Vec<Frame>, Frame> {
        let op = match self.script_acl() {
            Some((user, acl))
                if cmds.iter().any(|(_, a)| {
                    a.first()
                        .and_then(|n| engine::lookup(n))
                        .is_some_and(|s| s.flags & engine::flags::RUNS_SCRIPT != 0)
                }) =>
            {
                Op::MultiAs {
                    cmds,
                    watch,
                    user,
                    acl,
                }
            }
            _ => Op::Multi { cmds, watch },
        };
        let mut replies = self.propose(vec![op]).await?;
        match replies.pop() {
            Some(Frame::Array(r)) => Ok(r),
            Some(other) => Err(other),
            None => Err(Frame::Error("ERR EXEC got no reply".into())),
        }
    }

    /// Records each command's stats, the time since `t0` shared evenly among them; a
    /// command without a reply in `replies` counts as failed.
    pub fn record_stats(&self, specs: &[&'static CommandSpec], t0: Instant, replies: &[Frame]) {
        let usec = t0.elapsed().as_micros() as u64 / specs.len().max(1) as u64;
        for (i, spec) in specs.iter().enumerate() {
            let failed = replies.get(i).map_or(true, Frame::is_error);
            self.shared.stats.record(spec, usec, failed);
        }
    }

    /// CONFIG: node settings are the admin layer's; the replicated ones (see
    /// `engine::settings`) are read from the applied state and set through the log, so
    /// every replica applies every entry under the same values.
    async fn config(&mut self, argv: &[Vec<u8>]) -> Reply {
        let sub = args::upper(&argv[1]);
        if sub == "SET" && argv.len() >= 4 && argv.len() % 2 == 0 {
            let pairs: Vec<(String, Vec<u8>)> = argv[2..]
                .chunks(2)
                .map(|p| (String::from_utf8_lossy(&p[0]).to_lowercase(), p[1].clone()))
                .collect();
            let replicated = pairs
                .iter()
                .filter(|(n, _)| engine::settings::is_replicated(n))
                .count();
            if replicated > 0 {
                if replicated < pairs.len() {
                    let names: Vec<&str> = engine::settings::ALL
                        .iter()
                        .map(|s| s.name)
                        .chain([engine::allowlist::NAME])
                        .collect();
                    return Err(CmdError::new(format!(
                        "ERR CONFIG SET cannot change replicated settings ({}) and node settings in one call",
                        names.join(", ")
                    )));
                }
                // As Redis: a parameter given twice is refused, whatever the values.
                for (i, (name, _)) in pairs.iter().enumerate() {
                    if pairs[..i].iter().any(|(n, _)| n == name) {
                        return Err(CmdError::new(format!(
                            "ERR CONFIG SET failed (possibly related to argument '{name}') - duplicate parameter"
                        )));
                    }
                }
                if let Some((_, list)) = pairs.iter().find(|(n, _)| n == engine::allowlist::NAME) {
                    self.allowlist_keeps_caller(list)?;
                }
                return Ok(self.propose_one(Op::SetConfig { pairs }).await);
            }
        }
        let mut reply = crate::admin_cmds::config(&self.shared, argv)?;
        if sub == "GET" {
            if let Frame::Map(found) = &mut reply {
                if argv[2..]
                    .iter()
                    .any(|p| engine::glob_match(p, engine::allowlist::NAME.as_bytes(), true))
                {
                    let list = self
                        .shared
                        .reads
                        .allowlist()
                        .map_err(|e| CmdError::new(format!("ERR {e}")))?;
                    found.push((
                        Frame::Bulk(engine::allowlist::NAME.as_bytes().to_vec()),
                        Frame::Bulk(engine::allowlist::normalize(&list).into_bytes()),
                    ));
                }
                for s in engine::settings::ALL {
                    if argv[2..]
                        .iter()
                        .any(|p| engine::glob_match(p, s.name.as_bytes(), true))
                    {
                        let v = s.show(self.shared.reads.setting(s));
                        found.push((
                            Frame::Bulk(s.name.as_bytes().to_vec()),
                            Frame::Bulk(v.into_bytes()),
                        ));
                    }
                }
            }
        }
        Ok(reply)
    }

    /// A new IP allowlist must admit the connection setting it: a list that locks out
    /// the operator typing it is refused instead of applied (the same check as a cloud
    /// console's). Syntax errors are left to the apply, which reports them.
    fn allowlist_keeps_caller(&self, list: &[u8]) -> Result<(), CmdError> {
        let Ok(parsed) = engine::allowlist::parse(list) else {
            return Ok(());
        };
        let peer = self.info.lock().map(|i| i.addr.ip()).ok();
        match peer {
            Some(ip) if !engine::allowlist::permits(&parsed, ip) => Err(CmdError::new(format!(
                "ERR CONFIG SET failed (possibly related to argument '{}') - the list does not include this connection's address {ip}: it would lock this client out",
                engine::allowlist::NAME
            ))),
            _ => Ok(()),
        }
    }

    /// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]. Every acknowledged write is already in
    /// the fsynced log, so there is nothing to save: the process exits at once, even while
    /// a script holds the apply loop (which is why Redis's BUSY text points here). The
    /// other nodes of a cluster elect a new leader if this one led.
    fn shutdown(&mut self, argv: &[Vec<u8>]) -> Reply {
        let mut abort = false;
        let mut other = false;
        for a in &argv[1..] {
            match args::upper(a).as_str() {
                "NOSAVE" | "SAVE" | "NOW" | "FORCE" => other = true,
                "ABORT" => abort = true,
                _ => return Err(CmdError::new("ERR syntax error")),
            }
        }
        if abort {
            return Err(CmdError::new(if other {
                "ERR syntax error"
            } else {
                "ERR No shutdown in progress."
            }));
        }
        tracing::warn!("SHUTDOWN from client {}: exiting", self.id);
        eprintln!("meridian: SHUTDOWN from client {}: exiting", self.id);
        std::process::exit(0)
    }

    /// AUTH as `default`: the hash of the password if it is one of the default user's
    /// current passwords (the configured one, or the replicated ones once changed).
    fn check_password(&self, pass: &[u8]) -> Result<String, CmdError> {
        match crate::acl_cmds::creds::current(&self.shared) {
            None => Err(CmdError::new(
                "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
            )),
            Some(c) => c.matching(pass).ok_or_else(|| {
                CmdError::new("WRONGPASS invalid username-password pair or user is disabled.")
            }),
        }
    }

    async fn auth(&mut self, argv: &[Vec<u8>]) -> Reply {
        let (user, pass) = match argv.len() {
            2 => (&b"default"[..], &argv[1][..]),
            3 => (&argv[1][..], &argv[2][..]),
            _ => return Err(CmdError::syntax()),
        };
        self.login(user, pass, &argv[0]).await
    }

    /// AUTH / HELLO AUTH: `default` is the node's password; any other name is an ACL
    /// user read from this node's state. A failed attempt leaves the connection as it was.
    async fn login(&mut self, user: &[u8], pass: &[u8], cmd: &[u8]) -> Reply {
        if user == b"default" {
            // A password this connection just set must be visible to it.
            let shared = self.shared.clone();
            let _ = crate::dispatch::await_consistency(&shared, self).await;
            // Read before the passwords are: a change committed after this makes the next
            // command re-check them.
            let epoch = self.shared.reads.storage().acl_epoch();
            let hash = match self.check_password(pass) {
                Ok(h) => h,
                Err(e) => {
                    if e.0.starts_with("WRONGPASS") {
                        let m = self.multi.is_some();
                        crate::acl_cmds::log_denial(self, "auth", cmd, user, "auth", m);
                    }
                    return Err(e);
                }
            };
            self.user = None;
            self.default_login = Some((hash, epoch));
            self.authenticated = true;
            self.with_info(|i| i.user = "default".into());
            return Ok(Frame::ok());
        }
        // Users this connection just created must be visible to it.
        let shared = self.shared.clone();
        let _ = crate::dispatch::await_consistency(&shared, self).await;
        match crate::acl_cmds::authenticate(&shared, user, pass) {
            Some(u) => {
                let name = u.name_lossy();
                self.user = Some(u);
                self.default_login = None;
                self.authenticated = true;
                self.with_info(|i| i.user = name);
                Ok(Frame::ok())
            }
            None => {
                let m = self.multi.is_some();
                crate::acl_cmds::log_denial(self, "auth", cmd, user, "auth", m);
                Err(CmdError::new(
                    "WRONGPASS invalid username-password pair or user is disabled.",
                ))
            }
        }
    }

    /// Before each command of a connection authenticated as an ACL user: re-reads the
    /// user, so a change (or deletion, or `off`) applies from this command on. A user
    /// that is gone or disabled logs the connection out. A connection logged in as
    /// `default` is logged out once its password is no longer one of the default user's
    /// (a rotation, on this node once it applied it).
    pub fn refresh_acl(&mut self) {
        if let Some((hash, seen)) = &mut self.default_login {
            let now = self.shared.reads.storage().acl_epoch();
            if *seen == now {
                return;
            }
            match crate::acl_cmds::creds::current(&self.shared) {
                Some(c) if !c.has_hash(hash) => {
                    self.default_login = None;
                    self.authenticated = false;
                    self.with_info(|i| i.user = "default".into());
                }
                _ => *seen = now,
            }
            return;
        }
        let Some(cur) = &mut self.user else { return };
        if !crate::acl_cmds::refresh(&self.shared, cur) {
            self.user = None;
            self.authenticated = !self.shared.auth_required();
            self.with_info(|i| i.user = "default".into());
        }
    }

    async fn hello(&mut self, argv: &[Vec<u8>]) -> Reply {
        let mut proto = if self.resp3 { 3 } else { 2 };
        let mut i = 1;
        if argv.len() > 1 {
            proto = match args::parse_i64_opt(&argv[1]) {
                Some(v) => v,
                None => {
                    return Err(CmdError::new(
                        "ERR Protocol version is not an integer or out of range",
                    ))
                }
            };
            if proto != 2 && proto != 3 {
                return Err(CmdError::new("NOPROTO unsupported protocol version"));
            }
            i = 2;
        }
        let mut setname = None;
        while i < argv.len() {
            let more = argv.len() - i - 1;
            if args::is(&argv[i], "auth") && more >= 2 {
                self.login(&argv[i + 1], &argv[i + 2], &argv[0]).await?;
                i += 3;
            } else if args::is(&argv[i], "setname") && more >= 1 {
                valid_name(&argv[i + 1])?;
                setname = Some(argv[i + 1].clone());
                i += 2;
            } else {
                return Err(CmdError::new(format!(
                    "ERR Syntax error in HELLO option '{}'",
                    String::from_utf8_lossy(&argv[i])
                )));
            }
        }
        if !self.authenticated {
            return Err(CmdError::new(
                "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
            ));
        }
        if let Some(n) = setname {
            self.with_info(|i| i.name = n);
        }
        self.resp3 = proto == 3;
        self.with_info(|i| i.resp = proto as u8);
        Ok(Frame::Map(vec![
            (bulk("server"), bulk("redis")),
            (bulk("version"), bulk("7.2.4")),
            (bulk("proto"), Frame::Integer(proto)),
            (bulk("id"), Frame::Integer(self.id as i64)),
            (bulk("mode"), bulk("standalone")),
            (bulk("role"), bulk("master")),
            (bulk("modules"), Frame::Array(vec![])),
        ]))
    }

    fn select(&mut self, argv: &[Vec<u8>]) -> Reply {
        let db = args::parse_i64(&argv[1])?;
        if !(0..keys::DATABASES as i64).contains(&db) {
            return Err(CmdError::new("ERR DB index is out of range"));
        }
        self.db = db as u8;
        self.with_info(|i| i.db = db as u8);
        Ok(Frame::ok())
    }

    /// Drops the WATCHed keys (EXEC, DISCARD, UNWATCH, RESET).
    pub fn clear_watch(&mut self) {
        self.shared.broker.unwatch(self.id);
        self.watch.clear();
        self.watch_touched
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }

    fn reset(&mut self) -> Frame {
        self.leave_pubsub();
        self.multi = None;
        self.clear_watch();
        self.db = 0;
        self.resp3 = false;
        self.authenticated = !self.shared.auth_required();
        self.user = None;
        self.default_login = None;
        self.with_info(|i| {
            i.user = "default".into();
            i.db = 0;
            i.resp = 2;
            i.name.clear();
            i.no_evict = false;
            i.no_touch = false;
        });
        self.stop_tracking();
        self.caching = None;
        self.no_touch = false;
        self.reply.store(REPLY_ON, Ordering::Relaxed);
        Frame::Simple("RESET".into())
    }

    fn client(&mut self, argv: &[Vec<u8>]) -> Reply {
        let sub = args::upper(&argv[1]);
        let cmd = format!("client|{}", sub.to_lowercase());
        self.with_info(|i| i.last_cmd = cmd);
        let arity_err = || {
            CmdError::new(format!(
                "ERR wrong number of arguments for 'client|{}' command",
                sub.to_lowercase()
            ))
        };
        match sub.as_str() {
            "ID" if argv.len() == 2 => Ok(Frame::Integer(self.id as i64)),
            "GETNAME" if argv.len() == 2 => {
                let name = self.info.lock().map(|i| i.name.clone()).unwrap_or_default();
                Ok(if name.is_empty() { Frame::Null } else { Frame::Bulk(name) })
            }
            "SETNAME" if argv.len() == 3 => {
                valid_name(&argv[2])?;
                let n = argv[2].clone();
                self.with_info(|i| i.name = n);
                Ok(Frame::ok())
            }
            "SETINFO" if argv.len() == 4 => {
                let v = argv[3].clone();
                if v.iter().any(|&b| b == b' ' || b == b'\n' || !(b'!'..=b'~').contains(&b)) {
                    return Err(CmdError::new(format!(
                        "ERR {} cannot contain spaces, newlines or special characters.",
                        args::upper(&argv[2])
                    )));
                }
                match args::upper(&argv[2]).as_str() {
                    "LIB-NAME" => self.with_info(|i| i.lib_name = v),
                    "LIB-VER" => self.with_info(|i| i.lib_ver = v),
                    _ => {
                        return Err(CmdError::new(format!(
                            "ERR Unrecognized option '{}'",
                            String::from_utf8_lossy(&argv[2])
                        )))
                    }
                }
                Ok(Frame::ok())
            }
            "INFO" if argv.len() == 2 => {
                self.publish_state();
                let mut me = match self.info.lock() {
                    Ok(i) => i.clone(),
                    Err(_) => return Err(CmdError::new("ERR client record unavailable")),
                };
                self.annotate(&mut me);
                Ok(Frame::Verbatim("txt".into(), format!("{}\n", me.line()).into_bytes()))
            }
            "LIST" => {
                self.publish_state();
                let mut clients = self.shared.clients.snapshot();
                let mut i = 2;
                while i < argv.len() {
                    if args::is(&argv[i], "type") && i + 1 < argv.len() {
                        let t = args::upper(&argv[i + 1]);
                        match t.as_str() {
                            "NORMAL" => clients.retain(|c| !c.is_pubsub()),
                            "PUBSUB" => clients.retain(|c| c.is_pubsub()),
                            "MASTER" | "REPLICA" | "SLAVE" => clients.clear(),
                            _ => return Err(CmdError::new(format!("ERR Unknown client type '{}'", t.to_lowercase()))),
                        }
                        i += 2;
                    } else if args::is(&argv[i], "id") && i + 1 < argv.len() {
                        let mut ids = Vec::new();
                        for a in &argv[i + 1..] {
                            match args::parse_i64_opt(a) {
                                Some(v) if v > 0 => ids.push(v as u64),
                                _ => return Err(CmdError::new("ERR Invalid client ID")),
                            }
                        }
                        clients.retain(|c| ids.contains(&c.id));
                        i = argv.len();
                    } else {
                        return Err(CmdError::syntax());
                    }
                }
                let mut s = String::new();
                for mut c in clients {
                    self.annotate(&mut c);
                    s.push_str(&c.line());
                    s.push('\n');
                }
                Ok(Frame::Verbatim("txt".into(), s.into_bytes()))
            }
            "KILL" if argv.len() >= 3 => self.client_kill(argv),
            "REPLY" if argv.len() == 3 => {
                let mode = match args::upper(&argv[2]).as_str() {
                    "ON" => REPLY_ON,
                    "OFF" => REPLY_OFF,
                    "SKIP" => REPLY_SKIP,
                    _ => return Err(CmdError::syntax()),
                };
                // Only ON is answered: OFF and SKIP drop their own reply.
                self.reply.store(mode, Ordering::Relaxed);
                Ok(Frame::ok())
            }
            "PAUSE" if argv.len() == 3 || argv.len() == 4 => {
                let Some(ms) = args::parse_i64_opt(&argv[2]) else {
                    return Err(CmdError::new("ERR timeout is not an integer or out of range"));
                };
                let all = match argv.get(3) {
                    None => true,
                    Some(m) if args::is(m, "all") => true,
                    Some(m) if args::is(m, "write") => false,
                    Some(_) => return Err(CmdError::new("ERR CLIENT PAUSE mode must be WRITE or ALL")),
                };
                if ms < 0 {
                    return Err(CmdError::new("ERR timeout is negative"));
                }
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64);
                self.shared.clients.pause(now.saturating_add(ms as u64), all);
                // Keys do not expire while clients are paused (as Redis).
                self.shared
                    .node
                    .pause_expiry(self.shared.clients.pause_until_ms());
                Ok(Frame::ok())
            }
            "UNPAUSE" if argv.len() == 2 => {
                self.shared.clients.unpause();
                self.shared.node.pause_expiry(0);
                Ok(Frame::ok())
            }
            "TRACKING" if argv.len() >= 3 => self.client_tracking(argv),
            "TRACKINGINFO" if argv.len() == 2 => Ok(self.tracking_info()),
            "GETREDIR" if argv.len() == 2 => Ok(Frame::Integer(
                self.tracking.as_ref().map_or(-1, |t| t.redirect as i64),
            )),
            "CACHING" if argv.len() == 3 => {
                let Some(t) = &self.tracking else {
                    return Err(CmdError::new("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"));
                };
                if !t.optin && !t.optout {
                    return Err(CmdError::new("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"));
                }
                if args::is(&argv[2], "yes") {
                    if !t.optin {
                        return Err(CmdError::new("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode."));
                    }
                    self.caching = Some(true);
                } else if args::is(&argv[2], "no") {
                    if !t.optout {
                        return Err(CmdError::new("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode."));
                    }
                    self.caching = Some(false);
                } else {
                    return Err(CmdError::syntax());
                }
                Ok(Frame::ok())
            }
            // Read-your-writes across connections and nodes: the token (a log index) one
            // connection wrote is handed to another, which then waits for it before reads.
            "SYNC-TOKEN" if argv.len() == 2 => Ok(Frame::Integer(self.last_index as i64)),
            "SYNC-TOKEN" if argv.len() == 3 => {
                let t = args::parse_i64(&argv[2])?;
                if t < 0 {
                    return Err(CmdError::not_integer());
                }
                self.last_index = self.last_index.max(crate::dispatch::sync_token_index(t as u64));
                Ok(Frame::ok())
            }
            "CONSISTENCY" if argv.len() == 2 => Ok(bulk(if self.strong { "strong" } else { "eventual" })),
            "CONSISTENCY" if argv.len() == 3 => {
                if args::is(&argv[2], "strong") {
                    self.strong = true;
                } else if args::is(&argv[2], "eventual") {
                    self.strong = false;
                } else {
                    return Err(CmdError::new("ERR CLIENT CONSISTENCY takes STRONG or EVENTUAL"));
                }
                Ok(Frame::ok())
            }
            "UNBLOCK" if argv.len() == 3 || argv.len() == 4 => {
                let id = args::parse_i64(&argv[2])?;
                let how = match argv.get(3) {
                    None => crate::pubsub::UNBLOCK_TIMEOUT,
                    Some(a) if args::is(a, "timeout") => crate::pubsub::UNBLOCK_TIMEOUT,
                    Some(a) if args::is(a, "error") => crate::pubsub::UNBLOCK_ERROR,
                    Some(_) => {
                        return Err(CmdError::new(
                            "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
                        ))
                    }
                };
                let done = id >= 0 && self.shared.broker.client_unblock(id as u64, how);
                Ok(Frame::Integer(done as i64))
            }
            "NO-EVICT" | "NO-TOUCH" if argv.len() == 3 => {
                let on = if args::is(&argv[2], "on") {
                    true
                } else if args::is(&argv[2], "off") {
                    false
                } else {
                    return Err(CmdError::syntax());
                };
                if sub == "NO-EVICT" {
                    self.with_info(|i| i.no_evict = on);
                } else {
                    self.with_info(|i| i.no_touch = on);
                    self.no_touch = on;
                }
                Ok(Frame::ok())
            }
            "HELP" if argv.len() == 2 => Ok(Frame::Array(
                [
                    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                    "CACHING (YES|NO)",
                    "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
                    "GETREDIR",
                    "    Return the client ID we are redirecting to when tracking is enabled.",
                    "GETNAME",
                    "    Return the name of the current connection.",
                    "ID",
                    "    Return the ID of the current connection.",
                    "INFO",
                    "    Return information about the current client connection.",
                    "KILL <ip:port>",
                    "    Kill connection made from <ip:port>.",
                    "KILL <option> <value> [<option> <value> [...]]",
                    "    Kill connections. Options are:",
                    "    * ADDR (<ip:port>|<unixsocket>:0)",
                    "      Kill connections made from the specified address",
                    "    * LADDR (<ip:port>|<unixsocket>:0)",
                    "      Kill connections made to specified local address",
                    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
                    "      Kill connections by type.",
                    "    * USER <username>",
                    "      Kill connections authenticated by <username>.",
                    "    * SKIPME (YES|NO)",
                    "      Skip killing current connection (default: yes).",
                    "    * ID <client-id>",
                    "      Kill connections by client id.",
                    "    * MAXAGE <maxage>",
                    "      Kill connections older than the specified age.",
                    "LIST [options ...]",
                    "    Return information about client connections. Options:",
                    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
                    "      Return clients of specified type.",
                    "UNPAUSE",
                    "    Stop the current client pause, resuming traffic.",
                    "PAUSE <timeout> [WRITE|ALL]",
                    "    Suspend all, or just write, clients for <timeout> milliseconds.",
                    "REPLY (ON|OFF|SKIP)",
                    "    Control the replies sent to the current connection.",
                    "SETNAME <name>",
                    "    Assign the name <name> to the current connection.",
                    "SETINFO <option> <value>",
                    "    Set client meta attr. Options are:",
                    "    * LIB-NAME: the client lib name.",
                    "    * LIB-VER: the client lib version.",
                    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
                    "    Unblock the specified blocked client.",
                    "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
                    "         [OPTIN] [OPTOUT] [NOLOOP]",
                    "    Control server assisted client side caching.",
                    "TRACKINGINFO",
                    "    Report tracking status for the current connection.",
                    "NO-EVICT (ON|OFF)",
                    "    Protect current client connection from eviction.",
                    "NO-TOUCH (ON|OFF)",
                    "    Will not touch LRU/LFU stats when this mode is on.",
                    "HELP",
                    "    Prints this help.",
                ]
                .iter()
                .map(|s| Frame::Simple(s.to_string()))
                .collect(),
            )),
            "ID" | "GETNAME" | "SETNAME" | "SETINFO" | "INFO" | "KILL" | "NO-EVICT" | "NO-TOUCH"
            | "HELP" | "UNBLOCK" | "REPLY" | "PAUSE" | "UNPAUSE" | "TRACKING" | "TRACKINGINFO"
            | "GETREDIR" | "CACHING" => Err(arity_err()),
            _ => Err(CmdError::unknown_subcommand(&argv[1], "CLIENT")),
        }
    }

    fn client_kill(&mut self, argv: &[Vec<u8>]) -> Reply {
        let me = self.id;
        if argv.len() == 3 {
            // Old form: CLIENT KILL addr:port → OK or error.
            let addr = String::from_utf8_lossy(&argv[2]).to_string();
            let mut hit_me = false;
            let n = self.shared.clients.kill_where(|c| {
                let hit = c.addr.to_string() == addr;
                hit_me |= hit && c.id == me;
                hit && c.id != me
            });
            if hit_me {
                self.close_after = true;
            }
            return if n > 0 || hit_me {
                Ok(Frame::ok())
            } else {
                Err(CmdError::new("ERR No such client"))
            };
        }
        let mut id = None;
        let mut addr = None;
        let mut laddr = None;
        let mut user = None;
        let mut kind: Option<&str> = None;
        let mut maxage = None;
        let mut skipme = true;
        let mut i = 2;
        while i + 1 < argv.len() {
            let v = &argv[i + 1];
            match args::upper(&argv[i]).as_str() {
                "ID" => match args::parse_i64_opt(v) {
                    Some(x) if x > 0 => id = Some(x as u64),
                    _ => return Err(CmdError::new("ERR client-id should be greater than 0")),
                },
                "ADDR" => addr = Some(String::from_utf8_lossy(v).to_string()),
                "LADDR" => laddr = Some(String::from_utf8_lossy(v).to_string()),
                "USER" => {
                    let exists = v.as_slice() == b"default"
                        || matches!(crate::acl_cmds::load(&self.shared, v), Ok(Some(_)));
                    if !exists {
                        return Err(CmdError::new(format!(
                            "ERR No such user '{}'",
                            String::from_utf8_lossy(v)
                        )));
                    }
                    user = Some(String::from_utf8_lossy(v).to_string())
                }
                "TYPE" => {
                    kind = Some(match args::upper(v).as_str() {
                        "NORMAL" => "normal",
                        "PUBSUB" => "pubsub",
                        "MASTER" | "SLAVE" | "REPLICA" => "replica",
                        _ => {
                            return Err(CmdError::new(format!(
                                "ERR Unknown client type '{}'",
                                String::from_utf8_lossy(v)
                            )))
                        }
                    })
                }
                // Redis 7.4: clients connected for longer than this many seconds.
                "MAXAGE" => match args::parse_i64_opt(v) {
                    Some(x) if x >= 0 => maxage = Some(x as u64),
                    _ => {
                        return Err(CmdError::new(
                            "ERR maxage is not an integer or out of range",
                        ))
                    }
                },
                "SKIPME" => {
                    skipme = if args::is(v, "yes") {
                        true
                    } else if args::is(v, "no") {
                        false
                    } else {
                        return Err(CmdError::syntax());
                    }
                }
                _ => return Err(CmdError::syntax()),
            }
            i += 2;
        }
        if i != argv.len() {
            return Err(CmdError::syntax());
        }
        let mut hit_me = false;
        let n = self.shared.clients.kill_where(|c| {
            let hit = id.map_or(true, |x| c.id == x)
                && addr.as_ref().map_or(true, |a| &c.addr.to_string() == a)
                && laddr.as_ref().map_or(true, |a| &c.laddr.to_string() == a)
                && user.as_ref().map_or(true, |u| &c.user == u)
                && kind.map_or(true, |k| match k {
                    "pubsub" => c.is_pubsub(),
                    "normal" => !c.is_pubsub(),
                    _ => false,
                })
                && maxage.map_or(true, |a| c.created.elapsed().as_secs() > a);
            if c.id == me {
                hit_me = hit && !skipme;
                return false;
            }
            hit
        });
        if hit_me {
            // Killing itself: the reply is sent, then the connection closes.
            self.close_after = true;
        }
        Ok(Frame::Integer(n as i64 + hit_me as i64))
    }

    /// CLIENT TRACKING ON|OFF [REDIRECT id] [BCAST] [PREFIX p ...] [OPTIN] [OPTOUT]
    /// [NOLOOP], with Redis's checks in Redis's order.
    fn client_tracking(&mut self, argv: &[Vec<u8>]) -> Reply {
        let mut mode = crate::tracking::Mode::default();
        let mut redirect_to = None;
        let mut i = 3;
        while i < argv.len() {
            let more = i + 1 < argv.len();
            match args::upper(&argv[i]).as_str() {
                "REDIRECT" if more => {
                    i += 1;
                    if mode.redirect != 0 {
                        return Err(CmdError::new(
                            "ERR A client can only redirect to a single other client",
                        ));
                    }
                    let id = args::parse_i64(&argv[i])?;
                    let target = if id > 0 {
                        self.shared.clients.mailbox(id as u64)
                    } else {
                        None
                    };
                    let Some(mb) = target else {
                        return Err(CmdError::new(
                            "ERR The client ID you want redirect to does not exist",
                        ));
                    };
                    mode.redirect = id as u64;
                    redirect_to = Some(mb);
                }
                "BCAST" => mode.bcast = true,
                "OPTIN" => mode.optin = true,
                "OPTOUT" => mode.optout = true,
                "NOLOOP" => mode.noloop = true,
                "PREFIX" if more => {
                    i += 1;
                    mode.prefixes.push(argv[i].clone());
                }
                _ => return Err(CmdError::syntax()),
            }
            i += 1;
        }
        if args::is(&argv[2], "off") {
            self.stop_tracking();
            return Ok(Frame::ok());
        }
        if !args::is(&argv[2], "on") {
            return Err(CmdError::syntax());
        }
        if !mode.bcast && !mode.prefixes.is_empty() {
            return Err(CmdError::new(
                "ERR PREFIX option requires BCAST mode to be enabled",
            ));
        }
        if let Some(cur) = &self.tracking {
            if cur.bcast != mode.bcast {
                return Err(CmdError::new("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."));
            }
        }
        if mode.bcast && (mode.optin || mode.optout) {
            return Err(CmdError::new(
                "ERR OPTIN and OPTOUT are not compatible with BCAST",
            ));
        }
        if mode.optin && mode.optout {
            return Err(CmdError::new(
                "ERR You can't specify both OPTIN mode and OPTOUT mode",
            ));
        }
        if let Some(cur) = &self.tracking {
            if (mode.optin && cur.optout) || (mode.optout && cur.optin) {
                return Err(CmdError::new("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode."));
            }
        }
        if mode.bcast {
            let table = &self.shared.broker.tracking;
            for (j, p) in mode.prefixes.iter().enumerate() {
                if let Some(old) = table.existing_overlap(self.id, p) {
                    return Err(CmdError::new(format!(
                        "ERR Prefix '{}' overlaps with an existing prefix '{}'. Prefixes for a single client must not overlap.",
                        String::from_utf8_lossy(p),
                        String::from_utf8_lossy(&old)
                    )));
                }
                for q in &mode.prefixes[j + 1..] {
                    let n = p.len().min(q.len());
                    if p[..n] == q[..n] {
                        return Err(CmdError::new(format!(
                            "ERR Prefix '{}' overlaps with another provided prefix '{}'. Prefixes for a single client must not overlap.",
                            String::from_utf8_lossy(p),
                            String::from_utf8_lossy(q)
                        )));
                    }
                }
            }
        }
        let Some(own) = self.mailbox.clone() else {
            return Err(CmdError::new(
                "ERR CLIENT TRACKING is only available over RESP",
            ));
        };
        let to = redirect_to.unwrap_or_else(|| own.clone());
        let mode = self.shared.broker.tracking.enable(self.id, mode, &own, &to);
        self.tracking = Some(mode);
        self.publish_state();
        Ok(Frame::ok())
    }

    /// CLIENT TRACKINGINFO: flags, redirect, prefixes (a map in RESP3).
    fn tracking_info(&self) -> Frame {
        let mut flags = Vec::new();
        let mut redirect = -1;
        let mut prefixes = Vec::new();
        match &self.tracking {
            None => flags.push(bulk("off")),
            Some(t) => {
                flags.push(bulk("on"));
                for (on, name) in [(t.bcast, "bcast"), (t.optin, "optin"), (t.optout, "optout")] {
                    if on {
                        flags.push(bulk(name));
                    }
                }
                match self.caching {
                    Some(true) if t.optin => flags.push(bulk("caching-yes")),
                    Some(false) if t.optout => flags.push(bulk("caching-no")),
                    _ => {}
                }
                if t.noloop {
                    flags.push(bulk("noloop"));
                }
                if self.shared.broker.tracking.is_broken(self.id) {
                    flags.push(bulk("broken_redirect"));
                }
                redirect = t.redirect as i64;
                prefixes = t.prefixes.iter().map(|p| bulk(p.clone())).collect();
            }
        }
        Frame::Map(vec![
            (bulk("flags"), Frame::Set(flags)),
            (bulk("redirect"), Frame::Integer(redirect)),
            (bulk("prefixes"), Frame::Array(prefixes)),
        ])
    }

    /// Stops CLIENT TRACKING (OFF, RESET, hang-up).
    pub fn stop_tracking(&mut self) {
        if self.tracking.take().is_some() {
            self.shared.broker.tracking.disable(self.id);
            self.publish_state();
        }
    }

    /// Fills in what a client record does not hold: blocked, tracking redirect broken.
    fn annotate(&self, c: &mut ClientInfo) {
        c.blocked = self.shared.broker.is_blocked(c.id);
        c.broken_redir = c.state.tracking && self.shared.broker.tracking.is_broken(c.id);
    }

    /// Puts the state CLIENT LIST shows (MULTI, WATCH, MONITOR, tracking) in the client
    /// registry, when it changed since last time: called after each batch of commands,
    /// so it costs a comparison when nothing changed.
    pub fn publish_state(&mut self) {
        let st = crate::clients::SessionState {
            multi: self.multi.as_ref().map_or(-1, |m| m.cmds.len() as i64),
            watch: self.watch.len(),
            monitor: self.monitor,
            tracking: self.tracking.is_some(),
            bcast: self.tracking.as_ref().is_some_and(|t| t.bcast),
            redir: self.tracking.as_ref().map_or(-1, |t| t.redirect as i64),
            dirty_cas: !self.watch.is_empty() && self.watch_touched.load(Ordering::Relaxed),
        };
        if st != self.shown {
            self.shown = st;
            self.with_info(|i| i.state = st);
        }
    }

    /// A read is about to run: a tracking client (default mode) now caches its keys,
    /// unless OPTIN without CACHING yes, or OPTOUT with CACHING no. Costs one branch
    /// for a client that does not track.
    #[inline]
    pub fn track_read(&self, spec: &CommandSpec, argv: &[Vec<u8>]) {
        let Some(t) = &self.tracking else { return };
        if t.bcast
            || spec.flags & engine::flags::READONLY == 0
            || (t.optin && self.caching != Some(true))
            || (t.optout && self.caching == Some(false))
        {
            return;
        }
        let pos = spec.key_positions(argv);
        if pos.is_empty() {
            return;
        }
        self.shared.broker.tracking.remember(
            self.id,
            pos.iter()
                .filter_map(|&i| argv.get(i))
                .map(|k| k.as_slice()),
        );
    }

    /// [`Session::track_read`] for the reads of a transaction about to be proposed.
    pub fn track_multi_reads(&self, cmds: &[(&'static CommandSpec, u8, Vec<Vec<u8>>)]) {
        if self.tracking.is_none() {
            return;
        }
        for (spec, _, argv) in cmds {
            if !spec.is_write() {
                self.track_read(spec, argv);
            }
        }
    }

    /// [`Session::propose`] for a NOLOOP tracking client: the keys it writes are marked
    /// as its own until this node has applied the entry, so their invalidation is not
    /// sent back to it.
    async fn propose_noloop(&mut self, ops: Vec<Op>) -> Result<Vec<Frame>, Frame> {
        let mut keys = Vec::new();
        let mut add = |argv: &Vec<Vec<u8>>| {
            if let Some(spec) = argv.first().and_then(|n| engine::lookup(n)) {
                for i in spec.key_positions(argv) {
                    if let Some(k) = argv.get(i) {
                        keys.push(k.clone());
                    }
                }
            }
        };
        for op in &ops {
            match op {
                Op::Cmd { argv, .. } | Op::CmdAs { argv, .. } => add(argv),
                Op::Multi { cmds, .. } | Op::MultiAs { cmds, .. } => {
                    cmds.iter().for_each(|(_, a)| add(a))
                }
                _ => {}
            }
        }
        let table = &self.shared.broker.tracking;
        table.writing(self.id, keys);
        let r = self.shared.node.write(ops).await;
        if let Ok((index, _)) = &r {
            // A follower answers once the leader applied; this node applies after.
            let _ = tokio::time::timeout(
                crate::dispatch::SYNC_WAIT,
                self.shared.node.wait_applied(*index),
            )
            .await;
        }
        self.shared.broker.tracking.written(self.id);
        match r {
            Ok((index, replies)) => {
                self.last_index = self.last_index.max(index);
                Ok(replies)
            }
            Err(e) => Err(e.to_frame()),
        }
    }
}

fn valid_name(name: &[u8]) -> Result<(), CmdError> {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(CmdError::new(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    Ok(())
}

fn time() -> Frame {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Frame::Array(vec![
        bulk(d.as_secs().to_string()),
        bulk(d.subsec_micros().to_string()),
    ])
}
