//! Connection-level commands: AUTH HELLO SELECT CLIENT QUIT RESET COMMAND INFO CONFIG TIME.

use crate::clients::ClientInfo;
use crate::password;
use crate::shared::Shared;
use consensus::Op;
use engine::{args, CmdError, CommandSpec, Frame, SessionCmd};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

mod subscriptions;
pub use subscriptions::push_frame;

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
}

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
        }
    }

    fn with_info(&self, f: impl FnOnce(&mut ClientInfo)) {
        if let Ok(mut i) = self.info.lock() {
            f(&mut i);
        }
    }

    pub fn note_command(&self, name: &str) {
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
            Some(SessionCmd::Client) => self.client(argv),
            Some(SessionCmd::Quit) => return (Frame::ok(), Outcome::Close),
            Some(SessionCmd::Reset) => Ok(self.reset()),
            Some(SessionCmd::Command) => crate::command_cmds::command(argv),
            Some(SessionCmd::Info) => Ok(crate::admin_cmds::info(&self.shared, argv)),
            Some(SessionCmd::Config) => self.config(argv).await,
            Some(SessionCmd::Shutdown) => self.shutdown(argv),
            Some(SessionCmd::Time) => Ok(time()),
            Some(SessionCmd::PubSub) => self.pubsub_info(argv),
            Some(SessionCmd::Monitor) => self.start_monitor(),
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
        let mut replies = self.propose(vec![Op::Multi { cmds, watch }]).await?;
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
                .filter(|(n, _)| engine::settings::lookup(n).is_some())
                .count();
            if replicated > 0 {
                if replicated < pairs.len() {
                    return Err(CmdError::new(
                        "ERR CONFIG SET cannot change replicated settings (script-max-instructions, script-max-memory) and node settings in one call",
                    ));
                }
                return Ok(self.propose_one(Op::SetConfig { pairs }).await);
            }
        }
        let mut reply = crate::admin_cmds::config(&self.shared, argv)?;
        if sub == "GET" {
            if let Frame::Map(found) = &mut reply {
                for s in engine::settings::ALL {
                    if argv[2..]
                        .iter()
                        .any(|p| engine::glob_match(p, s.name.as_bytes(), true))
                    {
                        let v = self.shared.reads.setting(s).to_string();
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

    fn check_password(&self, user: &[u8], pass: &[u8]) -> Reply {
        let pw = self
            .shared
            .password
            .read()
            .map(|p| p.clone())
            .unwrap_or(None);
        match pw {
            None => Err(CmdError::new(
                "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
            )),
            Some(pw) if user == b"default" && password::matches(&pw, pass) => Ok(Frame::ok()),
            Some(_) => Err(CmdError::new("WRONGPASS invalid username-password pair or user is disabled.")),
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
            if let Err(e) = self.check_password(user, pass) {
                if e.0.starts_with("WRONGPASS") {
                    let m = self.multi.is_some();
                    crate::acl_cmds::log_denial(self, "auth", cmd, user, "auth", m);
                }
                return Err(e);
            }
            self.user = None;
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
    /// that is gone or disabled logs the connection out.
    pub fn refresh_acl(&mut self) {
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
        self.with_info(|i| {
            i.user = "default".into();
            i.db = 0;
            i.resp = 2;
            i.name.clear();
            i.no_evict = false;
            i.no_touch = false;
        });
        Frame::Simple("RESET".into())
    }

    fn client(&mut self, argv: &[Vec<u8>]) -> Reply {
        let sub = args::upper(&argv[1]);
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
                let line = self.info.lock().map(|i| i.line()).unwrap_or_default();
                Ok(Frame::Verbatim("txt".into(), format!("{line}\n").into_bytes()))
            }
            "LIST" => {
                let mut clients = self.shared.clients.snapshot();
                let mut i = 2;
                while i < argv.len() {
                    if args::is(&argv[i], "type") && i + 1 < argv.len() {
                        let t = args::upper(&argv[i + 1]);
                        match t.as_str() {
                            "NORMAL" => {}
                            "MASTER" | "REPLICA" | "SLAVE" | "PUBSUB" => clients.clear(),
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
                for c in clients {
                    s.push_str(&c.line());
                    s.push('\n');
                }
                Ok(Frame::Verbatim("txt".into(), s.into_bytes()))
            }
            "KILL" if argv.len() >= 3 => self.client_kill(argv),
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
                }
                Ok(Frame::ok())
            }
            "HELP" if argv.len() == 2 => Ok(Frame::Array(
                [
                    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                    "GETNAME",
                    "    Return the name of the current connection.",
                    "ID",
                    "    Return the ID of the current connection.",
                    "INFO",
                    "    Return information about the current client connection.",
                    "KILL <ip:port>",
                    "    Kill connection made from <ip:port>.",
                    "KILL <option> <value> [<option> <value> [...]]",
                    "    Kill connections. Options are: ID <client-id>, ADDR <ip:port>, LADDR <ip:port>, USER <username>, SKIPME (YES|NO).",
                    "LIST [options ...]",
                    "    Return information about client connections. Options: TYPE (NORMAL|MASTER|REPLICA|PUBSUB), ID id [id ...].",
                    "NO-EVICT (ON|OFF)",
                    "    Protect current client connection from eviction.",
                    "NO-TOUCH (ON|OFF)",
                    "    Will not touch LRU/LFU stats when this mode is on.",
                    "SETINFO <option> <value>",
                    "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
                    "SETNAME <name>",
                    "    Assign the name <name> to the current connection.",
                    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
                    "    Unblock the specified blocked client.",
                    "HELP",
                    "    Print this help.",
                ]
                .iter()
                .map(|s| Frame::Simple(s.to_string()))
                .collect(),
            )),
            "ID" | "GETNAME" | "SETNAME" | "SETINFO" | "INFO" | "KILL" | "NO-EVICT" | "NO-TOUCH" | "HELP" | "UNBLOCK" => Err(arity_err()),
            _ => Err(CmdError::unknown_subcommand(&argv[1], "CLIENT")),
        }
    }

    fn client_kill(&mut self, argv: &[Vec<u8>]) -> Reply {
        if argv.len() == 3 {
            // Old form: CLIENT KILL addr:port → OK or error.
            let addr = String::from_utf8_lossy(&argv[2]).to_string();
            let n = self
                .shared
                .clients
                .kill_where(|c| c.addr.to_string() == addr);
            return if n > 0 {
                Ok(Frame::ok())
            } else {
                Err(CmdError::new("ERR No such client"))
            };
        }
        let mut id = None;
        let mut addr = None;
        let mut laddr = None;
        let mut user = None;
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
                "USER" => user = Some(String::from_utf8_lossy(v).to_string()),
                "SKIPME" => {
                    skipme = if args::is(v, "yes") {
                        true
                    } else if args::is(v, "no") {
                        false
                    } else {
                        return Err(CmdError::syntax());
                    }
                }
                "TYPE" => {}
                _ => return Err(CmdError::syntax()),
            }
            i += 2;
        }
        if i != argv.len() {
            return Err(CmdError::syntax());
        }
        let me = self.id;
        let n = self.shared.clients.kill_where(|c| {
            !(skipme && c.id == me)
                && id.map_or(true, |x| c.id == x)
                && addr.as_ref().map_or(true, |a| &c.addr.to_string() == a)
                && laddr.as_ref().map_or(true, |a| &c.laddr.to_string() == a)
                && user.as_ref().map_or(true, |u| &c.user == u)
        });
        Ok(Frame::Integer(n as i64))
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
