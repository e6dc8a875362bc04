//! ACL on the server side: the connection's user, authentication, and every `ACL`
//! subcommand except the two that change users (SETUSER and DELUSER are proposed to the
//! log, after their passwords were replaced by hashes, and applied by the engine).
//!
//! Users are read from this node's state machine (`sm`, `acl:user:<name>`), so every
//! node, a restart, a failover and a read replica see the same users. A connection
//! authenticated as a user re-reads its record before a command whenever the node has
//! applied anything since the last read (one point read; the parsed rules are reused
//! while the record is unchanged), so disabling, deleting or changing the user takes
//! effect on that connection's next command, on any node that has applied the change.
//!
//! The `default` user has every permission. Its password is the node's configured one
//! (`password.rs`) until `ACL SETUSER default` changes it through the log (password rules
//! and `on` only); the replicated record then overrides the configuration on every node
//! (`creds`). `ACL DELUSER default` is refused.

pub mod creds;

use crate::dispatch::await_consistency;
use crate::session::Session;
use crate::shared::Shared;
use consensus::Op;
use engine::acl::{self, User};
use engine::{args, CmdError, Frame, Store, Txn};
use keys::Cf;
use rand::Rng;
use std::sync::Arc;

type Reply = Result<Frame, CmdError>;

/// One ACL LOG entry (Redis's ACLLogEntry, with Redis 7.2's entry-id and timestamps).
struct LogEntry {
    count: u64,
    /// `command`, `key`, `channel` or `auth`.
    reason: &'static str,
    /// `toplevel`, `multi` or `lua`.
    context: &'static str,
    object: Vec<u8>,
    username: Vec<u8>,
    client_info: String,
    entry_id: u64,
    created_ms: u64,
    updated_ms: u64,
}

/// This node's ACL LOG, newest first (per node, as Redis keeps it per server).
struct AclLog {
    entries: std::collections::VecDeque<LogEntry>,
    next_id: u64,
}

static ACL_LOG: std::sync::Mutex<AclLog> = std::sync::Mutex::new(AclLog {
    entries: std::collections::VecDeque::new(),
    next_id: 0,
});

/// Redis merges a denial into one of the 10 newest entries with the same reason,
/// context, object and user if that entry was updated less than 60 s ago.
const LOG_GROUPING_MS: u64 = 60_000;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `acllog-max-len` (CONFIG SET stores it per node; Redis's default 128).
fn log_max_len(shared: &Shared) -> usize {
    shared
        .tunables
        .lock()
        .ok()
        .and_then(|t| t.get("acllog-max-len").and_then(|v| v.parse().ok()))
        .unwrap_or(128)
}

/// Records a denial (or a failed AUTH) in this node's ACL LOG (addACLLogEntry).
pub fn log_denial(
    sess: &Session,
    reason: &'static str,
    object: &[u8],
    username: &[u8],
    cmd_name: &str,
    in_multi: bool,
) {
    let context = if in_multi { "multi" } else { "toplevel" };
    log_denial_in(sess, reason, object, username, cmd_name, context);
}

/// The refusals a script met in its caller's `redis.call`/`redis.pcall` (context `lua`).
/// Each is (reason, object), from `engine::ScriptControl::as_caller_noting`.
pub fn log_script_denials(
    sess: &Session,
    cmd_name: &str,
    denials: impl IntoIterator<Item = (&'static str, Vec<u8>)>,
) {
    let Some(u) = &sess.user else { return };
    for (reason, object) in denials {
        log_denial_in(sess, reason, &object, &u.name, cmd_name, "lua");
    }
}

fn log_denial_in(
    sess: &Session,
    reason: &'static str,
    object: &[u8],
    username: &[u8],
    cmd_name: &str,
    context: &'static str,
) {
    let max = log_max_len(&sess.shared);
    let client_info = sess
        .info
        .lock()
        .map(|i| {
            let mut i = i.clone();
            i.last_cmd = cmd_name.to_string();
            i.line()
        })
        .unwrap_or_default();
    let now = now_ms();
    let Ok(mut log) = ACL_LOG.lock() else { return };
    let found = log.entries.iter().take(10).position(|e| {
        e.reason == reason
            && e.context == context
            && e.object == object
            && e.username == username
            && now.saturating_sub(e.updated_ms) <= LOG_GROUPING_MS
    });
    if let Some(i) = found {
        if let Some(mut e) = log.entries.remove(i) {
            e.count += 1;
            e.updated_ms = now;
            e.client_info = client_info;
            log.entries.push_front(e);
        }
    } else {
        let entry_id = log.next_id;
        log.next_id += 1;
        log.entries.push_front(LogEntry {
            count: 1,
            reason,
            context,
            object: object.to_vec(),
            username: username.to_vec(),
            client_info,
            entry_id,
            created_ms: now,
            updated_ms: now,
        });
    }
    log.entries.truncate(max);
}

/// The connection's ACL check before a command runs or is queued: NOPERM, logged in
/// ACL LOG, unless its user may run `argv`.
pub fn check(sess: &Session, spec: &engine::CommandSpec, argv: &[Vec<u8>]) -> Result<(), CmdError> {
    check_as(sess, spec, argv, sess.multi.is_some())
}

/// The check EXEC makes again on each queued command (logged in the `multi` context).
pub fn check_queued(
    sess: &Session,
    spec: &engine::CommandSpec,
    argv: &[Vec<u8>],
) -> Result<(), CmdError> {
    check_as(sess, spec, argv, true)
}

fn check_as(
    sess: &Session,
    spec: &engine::CommandSpec,
    argv: &[Vec<u8>],
    in_multi: bool,
) -> Result<(), CmdError> {
    let Some(u) = &sess.user else { return Ok(()) };
    u.user.check(spec, argv).map_err(|d| {
        let (reason, object) = match d {
            acl::Denied::Command => ("command", acl::command_full_name(spec, argv).into_bytes()),
            acl::Denied::Key(i) => ("key", argv.get(i).cloned().unwrap_or_default()),
            acl::Denied::Channel(i) => ("channel", argv.get(i).cloned().unwrap_or_default()),
        };
        log_denial(sess, reason, &object, &u.name, spec.name, in_multi);
        CmdError::new(format!(
            "NOPERM {}",
            acl::denied_message(&u.name, spec, argv, d, false)
        ))
    })
}

/// ACL LOG [count | RESET].
fn acl_log(argv: &[Vec<u8>]) -> Reply {
    let count = match argv.get(2) {
        Some(a) if args::is(a, "reset") => {
            if let Ok(mut log) = ACL_LOG.lock() {
                log.entries.clear();
            }
            return Ok(Frame::ok());
        }
        Some(a) => args::parse_i64_opt(a)
            .ok_or_else(|| CmdError::new("ERR value is not an integer or out of range"))?
            .max(0) as usize,
        None => 10,
    };
    let now = now_ms();
    let log = ACL_LOG
        .lock()
        .map_err(|_| CmdError::new("ERR ACL LOG unavailable"))?;
    let b = |v: &[u8]| Frame::Bulk(v.to_vec());
    Ok(Frame::Array(
        log.entries
            .iter()
            .take(count)
            .map(|e| {
                Frame::Map(vec![
                    (b(b"count"), Frame::Integer(e.count as i64)),
                    (b(b"reason"), b(e.reason.as_bytes())),
                    (b(b"context"), b(e.context.as_bytes())),
                    (b(b"object"), b(&e.object)),
                    (b(b"username"), b(&e.username)),
                    (
                        b(b"age-seconds"),
                        Frame::Double(now.saturating_sub(e.updated_ms) as f64 / 1000.0),
                    ),
                    (b(b"client-info"), b(e.client_info.as_bytes())),
                    (b(b"entry-id"), Frame::Integer(e.entry_id as i64)),
                    (b(b"timestamp-created"), Frame::Integer(e.created_ms as i64)),
                    (
                        b(b"timestamp-last-updated"),
                        Frame::Integer(e.updated_ms as i64),
                    ),
                ])
            })
            .collect(),
    ))
}

/// The ACL user a connection (or a REST request) is authenticated as. `None` on the
/// session means `default`.
#[derive(Clone, Debug)]
pub struct AclUser {
    pub name: Vec<u8>,
    /// The record the rules were parsed from (to notice changes cheaply).
    raw: Vec<u8>,
    /// This node's applied index when the record was read: while it has not moved,
    /// nothing can have changed the record, and it is not read again.
    seen: u64,
    pub user: Arc<User>,
}

impl AclUser {
    /// NOPERM unless the user may run `argv` (its key and channel arguments included).
    pub fn check(&self, spec: &engine::CommandSpec, argv: &[Vec<u8>]) -> Result<(), CmdError> {
        self.user.check(spec, argv).map_err(|d| {
            CmdError::new(format!(
                "NOPERM {}",
                acl::denied_message(&self.name, spec, argv, d, false)
            ))
        })
    }

    pub fn name_lossy(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }
}

/// This node's record of user `name`, parsed.
pub fn load(shared: &Shared, name: &[u8]) -> Result<Option<AclUser>, CmdError> {
    // The epoch first: a change committed after it is read makes the next refresh re-read.
    let seen = shared.reads.storage().acl_epoch();
    let Some(raw) = shared.reads.storage().get(Cf::Sm, &acl::user_key(name))? else {
        return Ok(None);
    };
    let user = User::decode(name, &raw)?;
    Ok(Some(AclUser {
        name: name.to_vec(),
        raw,
        seen,
        user: Arc::new(user),
    }))
}

/// Brings `cur` up to date before a command: re-reads its record if this node applied
/// anything since it was read (the applied index moves only after an entry's writes are
/// visible), parsing it again only if it changed. False if the user was deleted or
/// disabled (or cannot be read): the connection is no longer authenticated.
pub fn refresh(shared: &Shared, cur: &mut AclUser) -> bool {
    let now = shared.reads.storage().acl_epoch();
    if now == cur.seen {
        return cur.user.enabled;
    }
    match shared
        .reads
        .storage()
        .get(Cf::Sm, &acl::user_key(&cur.name))
    {
        Ok(Some(raw)) if raw == cur.raw => {
            cur.seen = now;
            cur.user.enabled
        }
        Ok(Some(raw)) => match User::decode(&cur.name, &raw) {
            Ok(u) if u.enabled => {
                cur.raw = raw;
                cur.seen = now;
                cur.user = Arc::new(u);
                true
            }
            _ => false,
        },
        _ => false,
    }
}

/// AUTH for an ACL user: the user if it exists, is enabled and `pass` is one of its
/// passwords (every hash compared in constant time; any password for `nopass`).
pub fn authenticate(shared: &Shared, name: &[u8], pass: &[u8]) -> Option<AclUser> {
    let u = load(shared, name).ok().flatten()?;
    (u.user.enabled && u.user.password_matches(pass)).then_some(u)
}

fn default_user(shared: &Shared) -> User {
    match creds::current(shared) {
        Some(c) => c.user(),
        None => User::default_user(None),
    }
}

/// Every user, `default` included, in name order (as Redis's radix tree lists them).
fn all_users(shared: &Shared) -> Result<Vec<User>, CmdError> {
    let t = Txn::read_only(shared.reads.storage(), 0, 0);
    let mut users = vec![default_user(shared)];
    for (name, raw) in acl::load_all(&t)? {
        if name == b"default" {
            continue;
        }
        users.push(User::decode(&name, &raw)?);
    }
    users.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(users)
}

fn arity(sub: &str) -> CmdError {
    CmdError::new(format!(
        "ERR wrong number of arguments for 'acl|{}' command",
        sub.to_ascii_lowercase()
    ))
}

/// `ACL <subcommand> ...`.
pub async fn acl(sess: &mut Session, argv: &[Vec<u8>]) -> Reply {
    let shared = sess.shared.clone();
    let sub = args::upper(&argv[1]);
    let n = argv.len();
    match sub.as_str() {
        "SETUSER" if n >= 3 => setuser(&shared, sess, argv).await,
        "DELUSER" if n >= 3 => {
            if argv[2..].iter().any(|u| u == b"default") {
                return Err(CmdError::new("ERR The 'default' user cannot be removed"));
            }
            propose(sess, argv.to_vec()).await
        }
        "GETUSER" if n == 3 => {
            if argv[2] == b"default" {
                return Ok(default_user(&shared).getuser_reply());
            }
            await_consistency(&shared, sess).await.map_err(CmdError::new)?;
            Ok(match load(&shared, &argv[2])? {
                Some(u) => u.user.getuser_reply(),
                None => Frame::Null,
            })
        }
        "USERS" | "LIST" if n == 2 => {
            await_consistency(&shared, sess).await.map_err(CmdError::new)?;
            let users = all_users(&shared)?;
            Ok(Frame::Array(
                users
                    .iter()
                    .map(|u| {
                        Frame::Bulk(if sub == "USERS" {
                            u.name.clone()
                        } else {
                            u.list_line()
                        })
                    })
                    .collect(),
            ))
        }
        "WHOAMI" if n == 2 => Ok(Frame::Bulk(
            sess.user
                .as_ref()
                .map_or(b"default".to_vec(), |u| u.name.clone()),
        )),
        "CAT" if n == 2 => Ok(Frame::Array(
            acl::CATEGORIES
                .iter()
                .map(|c| Frame::Bulk(c.as_bytes().to_vec()))
                .collect(),
        )),
        "CAT" if n == 3 => {
            let cat = String::from_utf8_lossy(&argv[2]);
            match acl::category_commands(&cat) {
                Some(cmds) => Ok(Frame::Array(
                    cmds.into_iter().map(|c| Frame::Bulk(c.into_bytes())).collect(),
                )),
                None => Err(CmdError::new(format!("ERR Unknown category '{cat}'"))),
            }
        }
        "GENPASS" if n == 2 || n == 3 => {
            let bits = match argv.get(2) {
                Some(a) => args::parse_i64(a)?,
                None => 256,
            };
            if !(1..=4096).contains(&bits) {
                return Err(CmdError::new(
                    "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096",
                ));
            }
            let chars = ((bits + 3) / 4) as usize;
            let mut rng = rand::thread_rng();
            let pass: String = (0..chars)
                .map(|_| char::from(b"0123456789abcdef"[rng.gen_range(0..16)]))
                .collect();
            Ok(Frame::Bulk(pass.into_bytes()))
        }
        "DRYRUN" if n >= 4 => dryrun(&shared, sess, argv).await,
        "RESTTOKEN" if n == 4 => resttoken(&shared, sess, &argv[2], &argv[3]).await,
        "LOAD" | "SAVE" if n == 2 => Err(CmdError::new(
            "ERR Meridian keeps ACL users in its replicated state (every node, restarts and failovers see them), not in an ACL file: ACL LOAD and ACL SAVE are not needed",
        )),
        "LOG" if n == 2 || n == 3 => acl_log(argv),
        "LOG" => Err(CmdError::new(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try ACL HELP.",
            String::from_utf8_lossy(&argv[1])
        ))),
        "HELP" if n == 2 => Ok(Frame::Array(
            [
                "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "CAT [<category>]",
                "    List all commands that belong to <category>, or all command categories",
                "    when no category is specified.",
                "DELUSER <username> [<username> ...]",
                "    Delete a list of users.",
                "DRYRUN <username> <command> [<arg> ...]",
                "    Returns whether the user can execute the given command without executing the command.",
                "GETUSER <username>",
                "    Get the user's details.",
                "GENPASS [<bits>]",
                "    Generate a secure 256-bit user password. The optional `bits` argument can",
                "    be used to specify a different size.",
                "LIST",
                "    Show users details in config file format.",
                "LOG [<count> | RESET]",
                "    Show the ACL log entries.",
                "RESTTOKEN <username> <password>",
                "    Return a REST token carrying the user's permissions (Upstash).",
                "SETUSER <username> <attribute> [<attribute> ...]",
                "    Create or modify a user with the specified attributes.",
                "USERS",
                "    List all the registered usernames.",
                "WHOAMI",
                "    Return the current connection username.",
                "HELP",
                "    Print this help.",
            ]
            .iter()
            .map(|s| Frame::Simple(s.to_string()))
            .collect(),
        )),
        "SETUSER" | "DELUSER" | "GETUSER" | "USERS" | "LIST" | "WHOAMI" | "CAT" | "GENPASS"
        | "DRYRUN" | "RESTTOKEN" | "LOAD" | "SAVE" | "HELP" => Err(arity(&sub)),
        _ => Err(CmdError::unknown_subcommand(&argv[1], "ACL")),
    }
}

/// ACL SETUSER: passwords become hashes, the rules are tried on this node's copy of the
/// user (so a bad rule never enters the log), then the command is proposed and the
/// engine applies it to the replicated record.
async fn setuser(shared: &Arc<Shared>, sess: &mut Session, argv: &[Vec<u8>]) -> Reply {
    let name = &argv[2];
    acl::check_name(name)?;
    if name == b"default" {
        return setuser_default(shared, sess, &argv[3..]).await;
    }
    let rules = acl::prepare_setuser(&argv[3..])?;
    await_consistency(shared, sess)
        .await
        .map_err(CmdError::new)?;
    let mut probe = match load(shared, name)? {
        Some(u) => (*u.user).clone(),
        None => User::new(name),
    };
    probe.apply(&rules)?;
    let mut cmd = vec![b"acl".to_vec(), b"setuser".to_vec(), name.clone()];
    cmd.extend(rules);
    propose(sess, cmd).await
}

/// ACL SETUSER default: only password rules (and rules granting what `default` has).
/// They are applied to this node's view of the current passwords and the resulting list
/// is proposed whole (`resetpass #h ...`), so the record written does not depend on
/// whether a node had the configured password or a replicated one. Concurrent changes:
/// the last one applied wins.
async fn setuser_default(shared: &Arc<Shared>, sess: &mut Session, rules: &[Vec<u8>]) -> Reply {
    acl::default_rules_check(rules)?;
    let rules = acl::prepare_setuser(rules)?;
    await_consistency(shared, sess)
        .await
        .map_err(CmdError::new)?;
    let Some(cur) = creds::current(shared) else {
        return Err(CmdError::new(
            "ERR authentication is off on this node (--no-auth): the default user has no password to change",
        ));
    };
    let mut probe = cur.user();
    probe.apply(&rules)?;
    let mut cmd = vec![b"acl".to_vec(), b"setuser".to_vec(), b"default".to_vec()];
    cmd.extend(password_list(&probe));
    propose(sess, cmd).await
}

/// The rules that give `default` exactly `u`'s passwords.
pub fn password_list(u: &User) -> Vec<Vec<u8>> {
    let mut rules = vec![b"resetpass".to_vec()];
    rules.extend(u.passwords.iter().map(|h| format!("#{h}").into_bytes()));
    rules
}

async fn propose(sess: &mut Session, argv: Vec<Vec<u8>>) -> Reply {
    let db = sess.db;
    Ok(sess.propose_one(Op::Cmd { db, argv }).await)
}

/// ACL DRYRUN user command [arg ...]: OK, or why not (naming the key or channel).
async fn dryrun(shared: &Arc<Shared>, sess: &mut Session, argv: &[Vec<u8>]) -> Reply {
    let name = &argv[2];
    let user = if name == b"default" {
        None
    } else {
        await_consistency(shared, sess)
            .await
            .map_err(CmdError::new)?;
        match load(shared, name)? {
            Some(u) => Some(u),
            None => {
                return Err(CmdError::new(format!(
                    "ERR User '{}' not found",
                    String::from_utf8_lossy(name)
                )))
            }
        }
    };
    let cmd = &argv[3..];
    let Some(spec) = engine::lookup(&cmd[0]) else {
        return Err(CmdError::new(format!(
            "ERR Command '{}' not found",
            String::from_utf8_lossy(&cmd[0])
        )));
    };
    engine::check_arity(spec, cmd)?;
    match user {
        None => Ok(Frame::ok()),
        Some(u) => match u.user.check(spec, cmd) {
            Ok(()) => Ok(Frame::ok()),
            Err(d) => Ok(Frame::Bulk(
                acl::denied_message(&u.name, spec, cmd, d, true).into_bytes(),
            )),
        },
    }
}

/// Upstash's ACL RESTTOKEN user password: a REST token carrying the user's permissions.
/// For `default`, the standard token. Nothing is stored: the token is derived from the
/// user's name, the password's hash and the default user's current credentials (see
/// `rest::auth`), so removing or resetting that password, or the default user's, revokes it.
async fn resttoken(shared: &Arc<Shared>, sess: &mut Session, name: &[u8], pass: &[u8]) -> Reply {
    let wrong = || {
        CmdError::new(format!(
            "ERR Wrong password or user \"{}\" does not exist",
            String::from_utf8_lossy(name)
        ))
    };
    await_consistency(shared, sess)
        .await
        .map_err(CmdError::new)?;
    let creds = creds::current(shared);
    if name == b"default" {
        let Some(c) = creds else {
            return Err(CmdError::new(
                "ERR authentication is off on this node (--no-auth): REST requests need no token",
            ));
        };
        return match (&c.tokens, c.matching(pass)) {
            (Some(t), Some(_)) => Ok(Frame::Bulk(t.standard.clone().into_bytes())),
            _ => Err(wrong()),
        };
    }
    let Some(u) = authenticate(shared, name, pass) else {
        return Err(wrong());
    };
    let hash = if u.user.nopass {
        crate::rest::NOPASS_MARK.to_string()
    } else {
        acl::hash_password(pass)
    };
    Ok(Frame::Bulk(
        crate::rest::user_token(creds.as_ref().map(|c| &c.key[..]), name, &hash).into_bytes(),
    ))
}
