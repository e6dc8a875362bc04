//! COMMAND: answered from the command table and Redis 7.0's command metadata
//! (`engine::command_meta`): flags, ACL categories, tips, key specs, subcommands and
//! docs as Redis 7.0 shows them; arity and keys as Meridian runs them.

use engine::command_meta::{self as meta, Meta};
use engine::{args, CmdError, CommandSpec, Frame};

fn bulk(s: impl Into<Vec<u8>>) -> Frame {
    Frame::Bulk(s.into())
}

fn set_of(items: impl IntoIterator<Item = impl Into<String>>) -> Frame {
    Frame::Set(items.into_iter().map(|s| Frame::Simple(s.into())).collect())
}

/// A command COMMAND can describe: a row of the table, or a Redis subcommand of one.
#[derive(Clone, Copy)]
enum Target {
    Row(&'static CommandSpec),
    Sub(&'static str, &'static Meta),
}

/// A command by name: `get`, or `config|get` (a subcommand of a command Meridian has).
fn find(name: &[u8]) -> Option<Target> {
    let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
    match lower.split_once('|') {
        None => engine::lookup(name).map(Target::Row),
        Some((container, _)) => {
            engine::lookup(container.as_bytes())?;
            let m = meta::meta(&lower)?;
            Some(Target::Sub(m.name.as_str(), m))
        }
    }
}

/// A key spec for a row Redis 7.0 has no metadata for: its fixed key range, `RW update`
/// for a write and `RO access` for a read.
fn derived_key_specs(c: &CommandSpec) -> Frame {
    let ks = c.keys;
    if ks.first <= 0 || ks.find.is_some() {
        return Frame::Set(vec![]);
    }
    let flags = if c.is_write() {
        ["RW", "update"]
    } else {
        ["RO", "access"]
    };
    let lastkey = if ks.last < 0 {
        ks.last
    } else {
        ks.last - ks.first
    };
    Frame::Set(vec![Frame::Map(vec![
        (bulk("flags"), set_of(flags)),
        (
            bulk("begin_search"),
            Frame::Map(vec![
                (bulk("type"), bulk("index")),
                (
                    bulk("spec"),
                    Frame::Map(vec![(bulk("index"), Frame::Integer(ks.first as i64))]),
                ),
            ]),
        ),
        (
            bulk("find_keys"),
            Frame::Map(vec![
                (bulk("type"), bulk("range")),
                (
                    bulk("spec"),
                    Frame::Map(vec![
                        (bulk("lastkey"), Frame::Integer(lastkey as i64)),
                        (bulk("keystep"), Frame::Integer(ks.step as i64)),
                        (bulk("limit"), Frame::Integer(0)),
                    ]),
                ),
            ]),
        ),
    ])])
}

/// One COMMAND INFO entry in Redis 7's shape.
fn command_info(c: &CommandSpec) -> Frame {
    if let Some(m) = meta::meta(c.name) {
        let mut f = m.info.clone();
        if let Frame::Array(e) = &mut f {
            // Meridian's own arity (ZRANK takes Redis 7.2's WITHSCORE).
            e[1] = Frame::Integer(c.arity as i64);
        }
        return f;
    }
    Frame::Array(vec![
        bulk(c.name),
        Frame::Integer(c.arity as i64),
        set_of(c.flag_names()),
        Frame::Integer(c.keys.first as i64),
        Frame::Integer(c.keys.last as i64),
        Frame::Integer(c.keys.step as i64),
        set_of(c.acl_categories()),
        Frame::Set(vec![]),
        derived_key_specs(c),
        Frame::Set(vec![]),
    ])
}

fn target_info(t: Target) -> Frame {
    match t {
        Target::Row(c) => command_info(c),
        Target::Sub(_, m) => m.info.clone(),
    }
}

fn command_docs(c: &CommandSpec) -> Frame {
    if let Some(d) = meta::meta(c.name).and_then(|m| m.docs.clone()) {
        return d;
    }
    Frame::Map(vec![
        (bulk("summary"), bulk(c.summary)),
        (bulk("since"), bulk(c.since)),
        (bulk("group"), bulk(c.group)),
    ])
}

/// Every name COMMAND LIST shows, with its ACL categories: each row, then its
/// subcommands as Redis lists them.
fn every_name() -> Vec<(&'static str, Vec<String>)> {
    let mut out = Vec::new();
    for c in engine::COMMANDS() {
        let cats = match meta::meta(c.name) {
            Some(m) => m.categories.iter().map(|c| format!("@{c}")).collect(),
            None => c.acl_categories(),
        };
        out.push((c.name, cats));
        if let Some(m) = meta::meta(c.name) {
            for sub in &m.subcommands {
                if let Some(s) = meta::meta(sub) {
                    let cats = s.categories.iter().map(|c| format!("@{c}")).collect();
                    out.push((sub.as_str(), cats));
                }
            }
        }
    }
    out
}

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern].
fn command_list(rest: &[Vec<u8>]) -> Result<Frame, CmdError> {
    let names = |keep: &dyn Fn(&str, &[String]) -> bool| {
        Ok(Frame::Array(
            every_name()
                .into_iter()
                .filter(|(n, cats)| keep(n, cats))
                .map(|(n, _)| bulk(n))
                .collect(),
        ))
    };
    match rest {
        [] => names(&|_, _| true),
        [f, kind, value] if args::is(f, "filterby") => match args::upper(kind).as_str() {
            // No modules are loaded.
            "MODULE" => names(&|_, _| false),
            "ACLCAT" => {
                let cat = format!("@{}", String::from_utf8_lossy(value).to_ascii_lowercase());
                names(&|_, cats| cats.contains(&cat))
            }
            "PATTERN" => names(&|n, _| engine::glob_match(value, n.as_bytes(), true)),
            _ => Err(CmdError::new("ERR syntax error")),
        },
        _ => Err(CmdError::new("ERR syntax error")),
    }
}

/// The flags reply of one key (addReplyFlagsForKeyArgs).
fn key_flags(flags: &[String]) -> Frame {
    set_of(flags.iter().cloned())
}

/// The keys of `target` with their flags, as COMMAND GETKEYSANDFLAGS finds them:
/// Redis's key specs where they can say, else the command's own key positions.
fn keys_and_flags(t: Target, target: &[Vec<u8>]) -> Result<Vec<(usize, Frame)>, CmdError> {
    let (specs, row) = match t {
        Target::Row(c) => (meta::meta(c.name).map(|m| &m.key_specs[..]), Some(c)),
        Target::Sub(_, m) => (Some(&m.key_specs[..]), None),
    };
    if let Some(specs) = specs.filter(|s| !s.is_empty()) {
        if specs.iter().any(|s| s.has("variable_flags")) {
            // Flags that depend on the arguments: Redis asks the command itself.
            let flags = variable_flags(&target[0], target);
            return Ok(vec![(1, set_of(flags.iter().copied()))]);
        }
        if let Some(found) = meta::keys_from_specs(specs, target) {
            return Ok(found.into_iter().map(|(i, f)| (i, key_flags(f))).collect());
        }
        if !matches!(row.map(|c| c.name), Some("sort" | "sort_ro")) {
            // A bad key count or too few arguments: the command would answer an
            // error, and Redis reports no keys.
            return Ok(Vec::new());
        }
    }
    // The command's own rule (SORT's STORE, numkeys errors, Meridian-only commands).
    let Some(c) = row else {
        return Ok(Vec::new());
    };
    let derived: &[&str] = if c.is_write() {
        &["RW", "update"]
    } else {
        &["RO", "access"]
    };
    Ok(c.key_positions(target)
        .into_iter()
        .filter(|&i| i < target.len())
        .map(|i| {
            let f: &[&str] = match c.name {
                "sort" if i > 1 => &["OW", "update"],
                "sort" | "sort_ro" => &["RO", "access"],
                _ => derived,
            };
            (i, set_of(f.iter().copied()))
        })
        .collect())
}

/// The key flags of SET and BITFIELD, whose specs say `variable_flags`: SET with GET
/// reads the old value; BITFIELD with only GET (and OVERFLOW) subcommands is a read.
fn variable_flags(name: &[u8], argv: &[Vec<u8>]) -> &'static [&'static str] {
    const RW: &[&str] = &["RW", "access", "update"];
    if name.eq_ignore_ascii_case(b"set") {
        if argv.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get")) {
            return RW;
        }
        return &["OW", "update"];
    }
    let mut i = 2;
    while i < argv.len() {
        let rem = argv.len() - i - 1;
        let a = &argv[i];
        if a.eq_ignore_ascii_case(b"get") && rem >= 2 {
            i += 3;
        } else if a.eq_ignore_ascii_case(b"overflow") && rem >= 1 {
            i += 2;
        } else {
            return RW;
        }
    }
    &["RO", "access"]
}

fn getkeys(argv: &[Vec<u8>], with_flags: bool) -> Result<Frame, CmdError> {
    let target = &argv[2..];
    let t = if target.len() >= 2 {
        // A container's subcommand, as Redis's lookupCommand picks it.
        let base =
            find(&target[0]).ok_or_else(|| CmdError::new("ERR Invalid command specified"))?;
        match base {
            Target::Row(c) if meta::meta(c.name).is_some_and(|m| !m.subcommands.is_empty()) => {
                let mut full = c.name.as_bytes().to_vec();
                full.push(b'|');
                full.extend_from_slice(&target[1]);
                find(&full).ok_or_else(|| CmdError::new("ERR Invalid command specified"))?
            }
            other => other,
        }
    } else {
        find(&target[0]).ok_or_else(|| CmdError::new("ERR Invalid command specified"))?
    };
    let (arity, has_keys, no_mandatory) = match t {
        Target::Row(c) => match meta::meta(c.name) {
            Some(m) => (
                c.arity,
                m.key_specs.iter().any(|s| !s.has("not_key")),
                m.flags.iter().any(|f| f == "no_mandatory_keys"),
            ),
            None => (c.arity, c.keys.first > 0 || c.keys.find.is_some(), false),
        },
        Target::Sub(_, m) => {
            let arity = match &m.info {
                Frame::Array(e) => match e.get(1) {
                    Some(Frame::Integer(n)) => *n as i32,
                    _ => -1,
                },
                _ => -1,
            };
            (
                arity,
                m.key_specs.iter().any(|s| !s.has("not_key")),
                m.flags.iter().any(|f| f == "no_mandatory_keys"),
            )
        }
    };
    if !has_keys {
        return Err(CmdError::new("ERR The command has no key arguments"));
    }
    let n = target.len() as i32;
    if (arity > 0 && arity != n) || n < -arity {
        return Err(CmdError::new(
            "ERR Invalid number of arguments specified for command",
        ));
    }
    let keys = keys_and_flags(t, target)?;
    if keys.is_empty() && !no_mandatory {
        return Err(CmdError::new("ERR Invalid arguments specified for command"));
    }
    Ok(Frame::Array(
        keys.into_iter()
            .map(|(i, flags)| {
                let k = bulk(target[i].clone());
                if with_flags {
                    Frame::Array(vec![k, flags])
                } else {
                    k
                }
            })
            .collect(),
    ))
}

pub fn command(argv: &[Vec<u8>]) -> Result<Frame, CmdError> {
    let all = engine::COMMANDS();
    if argv.len() == 1 {
        return Ok(Frame::Array(all.iter().map(command_info).collect()));
    }
    let sub = args::upper(&argv[1]);
    match sub.as_str() {
        "COUNT" if argv.len() == 2 => Ok(Frame::Integer(all.len() as i64)),
        "LIST" => command_list(&argv[2..]),
        "INFO" => {
            if argv.len() == 2 {
                return Ok(Frame::Array(all.iter().map(command_info).collect()));
            }
            Ok(Frame::Array(
                argv[2..]
                    .iter()
                    .map(|n| find(n).map_or(Frame::Null, target_info))
                    .collect(),
            ))
        }
        "DOCS" => {
            let pick: Vec<(&str, Frame)> = if argv.len() == 2 {
                all.iter().map(|c| (c.name, command_docs(c))).collect()
            } else {
                argv[2..]
                    .iter()
                    .filter_map(|n| match find(n)? {
                        Target::Row(c) => Some((c.name, command_docs(c))),
                        Target::Sub(name, m) => Some((name, m.docs.clone()?)),
                    })
                    .collect()
            };
            Ok(Frame::Map(
                pick.into_iter().map(|(n, d)| (bulk(n), d)).collect(),
            ))
        }
        "GETKEYS" | "GETKEYSANDFLAGS" if argv.len() >= 4 => getkeys(argv, sub == "GETKEYSANDFLAGS"),
        "HELP" if argv.len() == 2 => Ok(Frame::Array(
            [
                "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "(no subcommand)",
                "    Return details about all Redis commands.",
                "COUNT",
                "    Return the total number of commands in this Redis server.",
                "LIST",
                "    Return a list of all commands in this Redis server.",
                "INFO [<command-name> ...]",
                "    Return details about multiple Redis commands.",
                "    If no command names are given, documentation details for all",
                "    commands are returned.",
                "DOCS [<command-name> ...]",
                "    Return documentation details about multiple Redis commands.",
                "    If no command names are given, documentation details for all",
                "    commands are returned.",
                "GETKEYS <full-command>",
                "    Return the keys from a full Redis command.",
                "GETKEYSANDFLAGS <full-command>",
                "    Return the keys and the access flags from a full Redis command.",
                "HELP",
                "    Prints this help.",
            ]
            .iter()
            .map(|s| Frame::Simple(s.to_string()))
            .collect(),
        )),
        "COUNT" | "GETKEYS" | "GETKEYSANDFLAGS" | "HELP" => Err(CmdError::new(format!(
            "ERR wrong number of arguments for 'command|{}' command",
            sub.to_lowercase()
        ))),
        _ => Err(CmdError::unknown_subcommand(&argv[1], "COMMAND")),
    }
}
