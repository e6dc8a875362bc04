//! Redis 7.0's command metadata, kept as data: the RESP3 replies of a stock
//! redis-server 7.0.15 to `COMMAND INFO` and `COMMAND DOCS` (no arguments), read as
//! sent (`redis70_info.resp`, `redis70_docs.resp`). COMMAND INFO / DOCS / LIST /
//! GETKEYS show these facts about a command (flags, ACL categories, tips, key specs,
//! subcommands, docs) so they match Redis's byte for byte; the command table's rows stay
//! the truth for what Meridian runs (arity, behaviour flags, key positions). Commands
//! Redis 7.0 lacks (JSON.*, the Redis 7.4/8 additions) have no entry here: their replies
//! are derived from their rows.
//!
//! To regenerate: start `redis-server` 7.0, send `HELLO 3`, then write the raw reply
//! bytes of `COMMAND INFO` and `COMMAND DOCS` to the two files.

use crate::Frame;
use std::collections::HashMap;
use std::sync::OnceLock;

static INFO: &[u8] = include_bytes!("redis70_info.resp");
static DOCS: &[u8] = include_bytes!("redis70_docs.resp");

/// Where a key spec's search begins (Redis's `begin_search`).
#[derive(Clone, Debug, PartialEq)]
pub enum BeginSearch {
    /// The key spec starts at this argument.
    Index(i64),
    /// After the first `keyword` found from `startfrom` (negative: from the end,
    /// searching backwards).
    Keyword { keyword: Vec<u8>, startfrom: i64 },
    /// Not expressible (SORT's STORE): keys come from the command's own rule.
    Unknown,
}

/// How keys are found once the search began (Redis's `find_keys`).
#[derive(Clone, Debug, PartialEq)]
pub enum FindKeys {
    Range {
        lastkey: i64,
        keystep: i64,
        limit: i64,
    },
    Keynum {
        keynumidx: i64,
        firstkey: i64,
        keystep: i64,
    },
    Unknown,
}

/// One Redis 7 key spec.
#[derive(Clone, Debug)]
pub struct RedisKeySpec {
    /// `RW`, `access`, `not_key`, ... in Redis's order.
    pub flags: Vec<String>,
    pub begin: BeginSearch,
    pub find: FindKeys,
}

impl RedisKeySpec {
    pub fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
}

/// What Redis 7.0 says about one command or subcommand.
pub struct Meta {
    /// Lower-case full name: `get`, `config|get`.
    pub name: String,
    /// Its COMMAND INFO entry (ten elements).
    pub info: Frame,
    /// Its COMMAND DOCS map.
    pub docs: Option<Frame>,
    /// ACL categories, without '@'.
    pub categories: Vec<String>,
    /// Flags as COMMAND INFO prints them.
    pub flags: Vec<String>,
    pub key_specs: Vec<RedisKeySpec>,
    /// Full names (`config|get`) of its subcommands, in Redis's order.
    pub subcommands: Vec<String>,
}

/// Reads one RESP3 frame at `*pos` (line ends `\r\n` or `\n`).
fn parse(buf: &[u8], pos: &mut usize) -> Option<Frame> {
    let line_end = buf[*pos..].iter().position(|&b| b == b'\n')? + *pos;
    let mut line = &buf[*pos..line_end];
    if line.last() == Some(&b'\r') {
        line = &line[..line.len() - 1];
    }
    *pos = line_end + 1;
    let (kind, rest) = line.split_first()?;
    let text = std::str::from_utf8(rest).ok()?;
    let n = || text.parse::<i64>().ok();
    Some(match kind {
        b'+' => Frame::Simple(text.to_string()),
        b'-' => Frame::Error(text.to_string()),
        b':' => Frame::Integer(n()?),
        b'_' => Frame::Null,
        b'$' => {
            let len = usize::try_from(n()?).ok()?;
            let data = buf.get(*pos..*pos + len)?.to_vec();
            *pos += len;
            if buf.get(*pos) == Some(&b'\r') {
                *pos += 1;
            }
            if buf.get(*pos) == Some(&b'\n') {
                *pos += 1;
            }
            Frame::Bulk(data)
        }
        b'*' | b'~' => {
            let len = usize::try_from(n()?).ok()?;
            let items = (0..len)
                .map(|_| parse(buf, pos))
                .collect::<Option<Vec<_>>>()?;
            if *kind == b'*' {
                Frame::Array(items)
            } else {
                Frame::Set(items)
            }
        }
        b'%' => {
            let len = usize::try_from(n()?).ok()?;
            let pairs = (0..len)
                .map(|_| Some((parse(buf, pos)?, parse(buf, pos)?)))
                .collect::<Option<Vec<_>>>()?;
            Frame::Map(pairs)
        }
        _ => return None,
    })
}

/// The value under `key` in a map frame.
pub fn map_get<'a>(map: &'a Frame, key: &str) -> Option<&'a Frame> {
    match map {
        Frame::Map(pairs) => pairs
            .iter()
            .find(|(k, _)| matches!(k, Frame::Bulk(b) if b == key.as_bytes()))
            .map(|(_, v)| v),
        _ => None,
    }
}

fn text(f: &Frame) -> String {
    match f {
        Frame::Bulk(b) => String::from_utf8_lossy(b).into_owned(),
        Frame::Simple(s) => s.clone(),
        _ => String::new(),
    }
}

fn int(f: Option<&Frame>) -> i64 {
    match f {
        Some(Frame::Integer(n)) => *n,
        _ => 0,
    }
}

fn items(f: Option<&Frame>) -> &[Frame] {
    match f {
        Some(Frame::Array(v)) | Some(Frame::Set(v)) => v,
        _ => &[],
    }
}

fn key_spec(f: &Frame) -> RedisKeySpec {
    let flags = items(map_get(f, "flags")).iter().map(text).collect();
    let bs = map_get(f, "begin_search");
    let bs_spec = bs.and_then(|b| map_get(b, "spec"));
    let begin = match bs.and_then(|b| map_get(b, "type")).map(text).as_deref() {
        Some("index") => BeginSearch::Index(int(bs_spec.and_then(|s| map_get(s, "index")))),
        Some("keyword") => BeginSearch::Keyword {
            keyword: bs_spec
                .and_then(|s| map_get(s, "keyword"))
                .map(text)
                .unwrap_or_default()
                .into_bytes(),
            startfrom: int(bs_spec.and_then(|s| map_get(s, "startfrom"))),
        },
        _ => BeginSearch::Unknown,
    };
    let fk = map_get(f, "find_keys");
    let fk_spec = fk.and_then(|b| map_get(b, "spec"));
    let get = |k: &str| int(fk_spec.and_then(|s| map_get(s, k)));
    let find = match fk.and_then(|b| map_get(b, "type")).map(text).as_deref() {
        Some("range") => FindKeys::Range {
            lastkey: get("lastkey"),
            keystep: get("keystep"),
            limit: get("limit"),
        },
        Some("keynum") => FindKeys::Keynum {
            keynumidx: get("keynumidx"),
            firstkey: get("firstkey"),
            keystep: get("keystep"),
        },
        _ => FindKeys::Unknown,
    };
    RedisKeySpec { flags, begin, find }
}

fn add(out: &mut HashMap<String, Meta>, entry: &Frame, docs: Option<&Frame>) {
    let Frame::Array(e) = entry else { return };
    if e.len() < 10 {
        return;
    }
    let name = text(&e[0]);
    let mut subcommands = Vec::new();
    for sub in items(Some(&e[9])) {
        let Frame::Array(s) = sub else { continue };
        let sub_name = s.first().map(text).unwrap_or_default();
        let sub_docs = docs
            .and_then(|d| map_get(d, "subcommands"))
            .and_then(|m| map_get(m, &sub_name));
        add(out, sub, sub_docs);
        subcommands.push(sub_name);
    }
    let meta = Meta {
        name: name.clone(),
        info: entry.clone(),
        docs: docs.cloned(),
        categories: items(Some(&e[6]))
            .iter()
            .map(|c| text(c).trim_start_matches('@').to_string())
            .collect(),
        flags: items(Some(&e[2])).iter().map(text).collect(),
        key_specs: items(Some(&e[8])).iter().map(key_spec).collect(),
        subcommands,
    };
    out.insert(name, meta);
}

fn all() -> &'static HashMap<String, Meta> {
    static ALL: OnceLock<HashMap<String, Meta>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut out = HashMap::new();
        let (mut p, mut q) = (0, 0);
        let info = parse(INFO, &mut p).unwrap_or(Frame::Array(vec![]));
        let docs = parse(DOCS, &mut q).unwrap_or(Frame::Map(vec![]));
        for entry in items(Some(&info)) {
            let name = match entry {
                Frame::Array(e) if !e.is_empty() => text(&e[0]),
                _ => continue,
            };
            add(&mut out, entry, map_get(&docs, &name));
        }
        out
    })
}

/// Redis 7.0's metadata of a command (`get`) or subcommand (`config|get`), by its
/// lower-case full name.
pub fn meta(name: &str) -> Option<&'static Meta> {
    all().get(name)
}

/// Whether Redis 7.0 has this command or subcommand (lower-case full name).
pub fn is_redis_command(name: &str) -> bool {
    all().contains_key(name)
}

/// A key found by the key specs: its argument position and its spec's flags.
pub type FoundKey = (usize, &'static [String]);

/// Redis's key-spec walk (getKeysUsingKeySpecs): the keys of `argv` with their flags,
/// `not_key` specs left out. `None` where a spec cannot say (an `unknown` spec, a bad
/// key count, a key past the end): the caller falls back to the command's own rule.
pub fn keys_from_specs(specs: &'static [RedisKeySpec], argv: &[Vec<u8>]) -> Option<Vec<FoundKey>> {
    let argc = argv.len() as i64;
    let mut out = Vec::new();
    for spec in specs {
        if spec.has("not_key") {
            continue;
        }
        let first = match &spec.begin {
            BeginSearch::Index(i) => *i,
            BeginSearch::Keyword { keyword, startfrom } => {
                let start = if *startfrom >= 0 {
                    *startfrom
                } else {
                    argc + startfrom
                };
                let end = if *startfrom >= 0 { argc - 1 } else { 0 };
                let mut found = 0;
                let mut i = start;
                while i != end {
                    if i >= argc || i < 1 {
                        break;
                    }
                    if argv[i as usize].eq_ignore_ascii_case(keyword) {
                        found = i + 1;
                        break;
                    }
                    i += if start <= end { 1 } else { -1 };
                }
                if found == 0 {
                    continue;
                }
                found
            }
            BeginSearch::Unknown => return None,
        };
        let (first, last, step) = match spec.find {
            FindKeys::Range {
                lastkey,
                keystep,
                limit,
            } => {
                let last = if lastkey >= 0 {
                    first + lastkey
                } else if limit == 0 {
                    argc + lastkey
                } else {
                    first + ((argc - first) / limit + lastkey)
                };
                (first, last, keystep)
            }
            FindKeys::Keynum {
                keynumidx,
                firstkey,
                keystep,
            } => {
                let at = first + keynumidx;
                if at >= argc || at < 0 {
                    return None;
                }
                let n = std::str::from_utf8(&argv[at as usize])
                    .ok()
                    .and_then(|s| s.parse::<i64>().ok())
                    .filter(|n| *n >= 0)?;
                let first = first + firstkey;
                (first, first + n - 1, keystep)
            }
            FindKeys::Unknown => return None,
        };
        if last >= argc || last < first || first >= argc {
            return None;
        }
        let step = step.max(1);
        let mut i = first;
        while i <= last {
            out.push((i as usize, spec.flags.as_slice()));
            i += step;
        }
        if spec.has("incomplete") {
            return None;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<Vec<u8>> {
        s.split(' ').map(|a| a.as_bytes().to_vec()).collect()
    }

    fn keys(cmd: &str) -> Option<Vec<(usize, String)>> {
        let a = argv(cmd);
        let m = meta(&String::from_utf8_lossy(&a[0]).to_ascii_lowercase())?;
        keys_from_specs(&m.key_specs, &a)
            .map(|v| v.into_iter().map(|(i, f)| (i, f.join(" "))).collect())
    }

    #[test]
    fn the_data_parses_with_subcommands_and_docs() {
        assert!(all().len() > 300, "{}", all().len());
        let lmove = meta("lmove").unwrap();
        assert_eq!(lmove.key_specs.len(), 2);
        assert_eq!(lmove.key_specs[0].flags, ["RW", "access", "delete"]);
        assert!(meta("config|get").is_some());
        assert!(meta("config")
            .unwrap()
            .subcommands
            .contains(&"config|set".to_string()));
        assert!(meta("config|get").unwrap().docs.is_some());
        assert!(map_get(meta("get").unwrap().docs.as_ref().unwrap(), "summary").is_some());
    }

    #[test]
    fn key_specs_find_keys_as_redis_does() {
        let s = |v: &[(usize, &str)]| Some(v.iter().map(|(i, f)| (*i, f.to_string())).collect());
        assert_eq!(
            keys("lmove a b left right"),
            s(&[(1, "RW access delete"), (2, "RW insert")])
        );
        assert_eq!(keys("mset a 1 b"), s(&[(1, "OW update"), (3, "OW update")]));
        assert_eq!(
            keys("xread count 2 streams a b 0 0"),
            s(&[(4, "RO access"), (5, "RO access")])
        );
        assert_eq!(
            keys("zunionstore d 2 a b"),
            s(&[(1, "OW update"), (3, "RO access"), (4, "RO access")])
        );
        assert_eq!(keys("zunionstore d -1 a"), None);
        assert_eq!(keys("eval x 0"), None);
        assert_eq!(keys("eval x 1 k"), s(&[(3, "RW access update")]));
        assert_eq!(keys("sort k store d"), None);
        assert_eq!(keys("publish ch m"), s(&[]));
    }
}
