//! COMMAND: answered from the command table.

use engine::{args, CmdError, CommandSpec, Frame};

fn bulk(s: impl Into<Vec<u8>>) -> Frame {
    Frame::Bulk(s.into())
}

/// One COMMAND INFO entry in Redis 7's shape.
fn command_info(c: &CommandSpec) -> Frame {
    Frame::Array(vec![
        bulk(c.name),
        Frame::Integer(c.arity as i64),
        Frame::Set(
            c.flag_names()
                .into_iter()
                .map(|f| Frame::Simple(f.into()))
                .collect(),
        ),
        Frame::Integer(c.keys.first as i64),
        Frame::Integer(c.keys.last as i64),
        Frame::Integer(c.keys.step as i64),
        Frame::Set(c.acl_categories().into_iter().map(Frame::Simple).collect()),
        Frame::Set(vec![]),
        Frame::Array(vec![]),
        Frame::Array(vec![]),
    ])
}

fn command_docs(c: &CommandSpec) -> Frame {
    Frame::Map(vec![
        (bulk("summary"), bulk(c.summary)),
        (bulk("since"), bulk(c.since)),
        (bulk("group"), bulk(c.group)),
    ])
}

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern].
fn command_list(all: &[CommandSpec], rest: &[Vec<u8>]) -> Result<Frame, CmdError> {
    let names = |keep: &dyn Fn(&CommandSpec) -> bool| {
        Ok(Frame::Array(
            all.iter()
                .filter(|c| keep(c))
                .map(|c| bulk(c.name))
                .collect(),
        ))
    };
    match rest {
        [] => names(&|_| true),
        [f, kind, value] if args::is(f, "filterby") => match args::upper(kind).as_str() {
            // No modules are loaded.
            "MODULE" => names(&|_| false),
            "ACLCAT" => {
                let cat = format!("@{}", String::from_utf8_lossy(value).to_ascii_lowercase());
                names(&|c| c.acl_categories().contains(&cat))
            }
            "PATTERN" => names(&|c| engine::glob_match(value, c.name.as_bytes(), true)),
            _ => Err(CmdError::new("ERR syntax error")),
        },
        _ => Err(CmdError::new("ERR syntax error")),
    }
}

pub fn command(argv: &[Vec<u8>]) -> Result<Frame, CmdError> {
    let all = engine::COMMANDS();
    if argv.len() == 1 {
        return Ok(Frame::Array(all.iter().map(command_info).collect()));
    }
    let sub = args::upper(&argv[1]);
    match sub.as_str() {
        "COUNT" if argv.len() == 2 => Ok(Frame::Integer(all.len() as i64)),
        "LIST" => command_list(all, &argv[2..]),
        "INFO" => {
            if argv.len() == 2 {
                return Ok(Frame::Array(all.iter().map(command_info).collect()));
            }
            Ok(Frame::Array(
                argv[2..]
                    .iter()
                    .map(|n| engine::lookup(n).map_or(Frame::NullArray, command_info))
                    .collect(),
            ))
        }
        "DOCS" => {
            let pick: Vec<&CommandSpec> = if argv.len() == 2 {
                all.iter().collect()
            } else {
                argv[2..].iter().filter_map(|n| engine::lookup(n)).collect()
            };
            Ok(Frame::Map(
                pick.into_iter()
                    .map(|c| (bulk(c.name), command_docs(c)))
                    .collect(),
            ))
        }
        "GETKEYS" | "GETKEYSANDFLAGS" if argv.len() >= 3 => {
            let target = &argv[2..];
            let spec = engine::lookup(&target[0])
                .ok_or_else(|| CmdError::new("ERR Invalid command specified"))?;
            engine::check_arity(spec, target).map_err(|_| {
                CmdError::new("ERR Invalid number of arguments specified for command")
            })?;
            let pos = spec.key_positions(target);
            if pos.is_empty() {
                return Err(CmdError::new("ERR The command has no key arguments"));
            }
            let flags_of = |_: usize| {
                let f = if spec.is_write() { "RW" } else { "RO" };
                Frame::Array(vec![
                    Frame::Simple(f.into()),
                    Frame::Simple(if spec.is_write() { "update" } else { "access" }.into()),
                ])
            };
            Ok(Frame::Array(
                pos.into_iter()
                    .filter_map(|i| target.get(i).map(|k| (i, k)))
                    .map(|(i, k)| {
                        if sub == "GETKEYS" {
                            bulk(k.clone())
                        } else {
                            Frame::Array(vec![bulk(k.clone()), flags_of(i)])
                        }
                    })
                    .collect(),
            ))
        }
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
                "DOCS [<command-name> ...]",
                "    Return documentation details about multiple Redis commands.",
                "GETKEYS <full-command>",
                "    Return the keys from a full Redis command.",
                "GETKEYSANDFLAGS <full-command>",
                "    Return the keys and the access flags from a full Redis command.",
                "HELP",
                "    Print this help.",
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
