//! Commands, one module per group and one function per command.

pub mod bitmap;
pub mod blocking;
pub mod dump;
pub mod generic;
pub mod geo;
pub mod hash;
pub mod hll;
pub mod json;
pub mod list;
pub mod pubsub;
pub mod script;
pub mod server;
pub mod set;
pub mod sort;
pub mod stream;
pub mod string;
pub mod zset;

use crate::table::{Block, CommandSpec, Exec, KeySpec};

/// Builds a table row. Keeps the per-module tables one line per command.
#[allow(clippy::too_many_arguments)]
pub(crate) fn spec(
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: KeySpec,
    acl: &'static [&'static str],
    group: &'static str,
    since: &'static str,
    summary: &'static str,
    exec: Exec,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        keys,
        acl,
        group,
        since,
        summary,
        exec,
        // Strings and bitmaps are one record per key; generic, connection and server
        // commands read at most a key's meta record (see `CommandSpec::single_record`).
        single_record: matches!(
            group,
            "string" | "bitmap" | "generic" | "connection" | "server"
        ),
        block: Block::Never,
    }
}

pub(crate) fn all_commands() -> Vec<CommandSpec> {
    let mut all = Vec::new();
    all.extend(string::commands());
    all.extend(bitmap::commands());
    all.extend(generic::commands());
    all.extend(dump::commands());
    all.extend(hash::commands());
    all.extend(set::commands());
    all.extend(list::commands());
    all.extend(zset::commands());
    all.extend(geo::commands());
    all.extend(hll::commands());
    all.extend(sort::commands());
    all.extend(json::commands());
    all.extend(stream::commands());
    all.extend(script::commands());
    all.extend(script::function_commands());
    all.extend(blocking::commands());
    all.extend(pubsub::commands());
    all.extend(server::commands());
    all
}
