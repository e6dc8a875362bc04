//! RedisJSON's path language: parsing and evaluation.
//!
//! The parser is a hand translation of RedisJSON 2.8's pest grammar (`json_path/src/
//! grammar.pest`), PEG ordered choice included: implicit whitespace (only `' '`) between
//! the tokens of non-atomic rules, atomic `literal`/`number`/`string_value`/... tokens,
//! and pest's error tracking (the furthest position any rule failed at and the rules
//! that failed there, sorted in grammar order), so a bad path gets RedisJSON's
//! `Error occurred on position N, "... ---->>>> ...", expected one of the following: ...`
//! message.
//!
//! ```text
//! query         = "$" root? EOI
//! root          = (element | first_element) element*
//! element       = "." literal | ".." (literal | "*" | "[" bracket "]") | "." "*"
//!               | "."? "[" bracket "]"
//! first_element = literal | "*"
//! bracket       = numbers_range | numbers_list | string_list | "*" | "?" filter
//! filter        = inner_filter (("&&" | "||") inner_filter)*
//! inner_filter  = term op term | term | "(" filter ")"
//! term          = "@" root? | "$" root? | decimal | string | true | false | null
//! ```
//!
//! Evaluation follows RedisJSON (2.8.19's json_path): results come in document order
//! (`..` is a pre-order walk that includes the node itself); an index out of range
//! selects nothing except that a negative index below `-len` clamps to 0; slices
//! `[start:end:step]` clamp both ends; a filter iterates an array's elements or an
//! object's values; `@.x` with several results compares true if any result does
//! (RFC 9535); a term alone is true when it resolves to something. Comparisons are
//! numeric across integers and floats, byte-wise for strings, and only between values
//! of the same kind otherwise. `=~` matches a string against a regular expression
//! (see [`super::regex`]); an invalid pattern matches nothing.
//!
//! Evaluation is iterative over the path's segments (a path of any length costs no
//! stack) and bounded by a work budget, so a pathological path (`$..*..*..*` on a
//! large document) fails with an error instead of stalling every replica.

use super::regex::{Regex, RegexError};
use crate::error::CmdError;
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::rc::Rc;

/// One step of a concrete location in a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PathElem {
    Key(String),
    Index(usize),
}

/// A compiled path: the segments after `$`.
#[derive(Debug, Clone)]
pub(crate) struct Query {
    pub(crate) segs: Vec<Seg>,
}

#[derive(Debug, Clone)]
pub(crate) enum Seg {
    /// `.name` (a `literal`).
    Key(String),
    /// `['a']`, `["a","b"]`.
    Keys(Vec<String>),
    /// `*`, `[*]`.
    All,
    /// `[0]`, `[-1]`, `[0,2]`.
    Indexes(Vec<i64>),
    /// `[start:end:step]`.
    Range(Range),
    /// `[?(...)]`.
    Filter(Box<Filter>),
    /// `..`: the next segment applies to the node and every descendant.
    Descend,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Range {
    /// `[:end]`, `[:end:step]`
    To { end: i64, step: usize },
    /// `[:]`, `[::step]`
    Whole { step: usize },
    /// `[start:]`
    From { start: i64, step: usize },
    /// `[start:end]`
    Between { start: i64, end: i64, step: usize },
}

/// A filter expression: an OR of AND groups (`&&` binds tighter than `||`).
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    groups: Vec<Vec<Operand>>,
}

#[derive(Debug, Clone)]
enum Operand {
    Single(Term, Option<(Op, Term)>),
    Nested(Filter),
}

#[derive(Debug, Clone)]
enum Term {
    Current(Option<Vec<Seg>>),
    Root(Option<Vec<Seg>>),
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Ge,
    Gt,
    Le,
    Lt,
    Eq,
    Ne,
    Re,
}

impl Query {
    /// A static path selects at most one location: only keys and single indexes.
    pub(crate) fn is_static(&self) -> bool {
        self.segs.iter().all(|s| match s {
            Seg::Key(_) => true,
            Seg::Keys(k) => k.len() == 1,
            Seg::Indexes(i) => i.len() == 1,
            _ => false,
        })
    }

    /// Splits off the last segment of a static path: `Ok(key)` when it names an object
    /// key, `Err(())` when it is an array index.
    pub(crate) fn pop_last(&mut self) -> Option<Result<String, ()>> {
        match self.segs.pop()? {
            Seg::Key(k) => Some(Ok(k)),
            Seg::Keys(mut k) => Some(Ok(k.swap_remove(0))),
            Seg::Indexes(_) => Some(Err(())),
            _ => None,
        }
    }
}

// ---- parsing ----------------------------------------------------------------------------

/// The grammar's non-silent rules, in declaration order (pest sorts the rules of an
/// error message by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum R {
    Eoi,
    Literal,
    StringValue,
    StringValueEscape1,
    StringValueEscape2,
    StringList,
    PosNumber,
    Number,
    Decimal,
    NumbersList,
    NumbersRange,
    RightRange,
    AllRange,
    LeftRange,
    FullRange,
    FromCurrent,
    FromRoot,
    Ge,
    Gt,
    Le,
    Lt,
    Eq,
    Ne,
    Re,
    BooleanTrue,
    BooleanFalse,
    Null,
    SingleFilter,
    And,
    Or,
    Filter,
    All,
    FullScan,
    Root,
}

impl R {
    /// RedisJSON's `Display for Rule`.
    fn name(self) -> &'static str {
        match self {
            R::Eoi => "EOI",
            R::Literal => "<string>",
            R::StringValue => "string_value",
            R::StringValueEscape1 => "string_value_escape_1",
            R::StringValueEscape2 => "string_value_escape_2",
            R::StringList => "'<string>[,<string>,...]'",
            R::PosNumber => "pos_number",
            R::Number => "'<number>'",
            R::Decimal => "decimal",
            R::NumbersList => "'<number>[,<number>,...]'",
            R::NumbersRange => "['start:end:steps']",
            R::RightRange => "right_range",
            R::AllRange => "all_range",
            R::LeftRange => "left_range",
            R::FullRange => "full_range",
            R::FromCurrent => "from_current",
            R::FromRoot => "from_root",
            R::Ge => "ge",
            R::Gt => "gt",
            R::Le => "le",
            R::Lt => "lt",
            R::Eq => "eq",
            R::Ne => "ne",
            R::Re => "re",
            R::BooleanTrue => "boolean_true",
            R::BooleanFalse => "boolean_false",
            R::Null => "null",
            R::SingleFilter => "single_filter",
            R::And => "and",
            R::Or => "or",
            R::Filter => "'[?(filter_expression)]'",
            R::All => "'*'",
            R::FullScan => "'..'",
            R::Root => "root",
        }
    }
}

/// How deeply filters and nested paths may nest (a recursive-descent parser must not
/// be driven into a stack overflow by `((((...`).
const MAX_NESTING: usize = 64;

struct Parser<'s> {
    src: &'s str,
    b: &'s [u8],
    pos: usize,
    atomic: bool,
    attempt_pos: usize,
    attempts: Vec<R>,
    nesting: usize,
    too_deep: bool,
}

/// Compiles a JSONPath (`$...`). Legacy paths are converted by the caller first.
pub(crate) fn compile(path: &str) -> Result<Query, CmdError> {
    let mut p = Parser {
        src: path,
        b: path.as_bytes(),
        pos: 0,
        atomic: false,
        attempt_pos: 0,
        attempts: Vec::new(),
        nesting: 0,
        too_deep: false,
    };
    match p.query() {
        Some(segs) => Ok(Query { segs }),
        None if p.too_deep => Err(CmdError::new(format!(
            "ERR JSONPath nesting exceeds the maximum of {MAX_NESTING} levels"
        ))),
        None => Err(p.error()),
    }
}

impl<'s> Parser<'s> {
    fn error(&mut self) -> CmdError {
        let pos = self.attempt_pos;
        self.attempts.sort();
        self.attempts.dedup();
        let msg = if self.attempts.is_empty() {
            "parsing error".to_string()
        } else {
            let names: Vec<&str> = self.attempts.iter().map(|r| r.name()).collect();
            format!("expected one of the following: {}", names.join(", "))
        };
        let pos = (0..=pos.min(self.src.len()))
            .rev()
            .find(|&i| self.src.is_char_boundary(i))
            .unwrap_or(0);
        let shown = if pos >= self.src.len() {
            format!("\"{} <<<<----\", {msg}.", self.src)
        } else {
            format!(
                "\"{} ---->>>> {}\", {msg}.",
                &self.src[..pos],
                &self.src[pos..]
            )
        };
        CmdError::new(format!("Error occurred on position {pos}, {shown}"))
    }

    fn attempts_at(&self, pos: usize) -> usize {
        if self.attempt_pos == pos {
            self.attempts.len()
        } else {
            0
        }
    }

    /// pest's `ParserState::track` for a failed rule.
    fn track(&mut self, r: R, pos: usize, index: usize, prev: usize) {
        if self.atomic {
            return;
        }
        let curr = self.attempts_at(pos);
        if curr > prev && curr - prev == 1 {
            return;
        }
        if pos == self.attempt_pos {
            self.attempts.truncate(index);
        }
        if pos > self.attempt_pos {
            self.attempts.clear();
            self.attempt_pos = pos;
        }
        if pos == self.attempt_pos {
            self.attempts.push(r);
        }
    }

    /// A non-silent rule: restores the position and records the attempt on failure.
    fn rule<T>(&mut self, r: R, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        let start = self.pos;
        let index = if start == self.attempt_pos {
            self.attempts.len()
        } else {
            0
        };
        let prev = self.attempts_at(start);
        let res = f(self);
        if res.is_none() {
            self.pos = start;
            self.track(r, start, index, prev);
        }
        res
    }

    /// An atomic rule (`@{...}`): no implicit whitespace and no tracking inside.
    fn atomic_rule<T>(&mut self, r: R, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        self.rule(r, |p| {
            let saved = p.atomic;
            p.atomic = true;
            let res = f(p);
            p.atomic = saved;
            res
        })
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn lit(&mut self, s: &str) -> bool {
        if self.b[self.pos..].starts_with(s.as_bytes()) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    /// Implicit whitespace between the tokens of a non-atomic rule.
    fn skip(&mut self) {
        if !self.atomic {
            while self.peek() == Some(b' ') {
                self.pos += 1;
            }
        }
    }

    fn enter(&mut self) -> bool {
        if self.nesting >= MAX_NESTING {
            self.too_deep = true;
            return false;
        }
        self.nesting += 1;
        true
    }

    // query = _{ SOI ~ "$" ~ root? ~ EOI }
    fn query(&mut self) -> Option<Vec<Seg>> {
        self.skip();
        if !self.lit("$") {
            return None;
        }
        self.skip();
        let segs = self.root().unwrap_or_default();
        if self.too_deep {
            return None;
        }
        self.skip();
        self.rule(R::Eoi, |p| (p.pos == p.b.len()).then_some(()))?;
        Some(segs)
    }

    // root = { (element | first_element) ~ element* }
    fn root(&mut self) -> Option<Vec<Seg>> {
        if !self.enter() {
            return None;
        }
        let res = self.rule(R::Root, |p| {
            let mut segs = Vec::new();
            if !p.element(&mut segs) && !p.first_element(&mut segs) {
                return None;
            }
            p.skip();
            if p.element(&mut segs) {
                loop {
                    let save = p.pos;
                    p.skip();
                    if !p.element(&mut segs) {
                        p.pos = save;
                        break;
                    }
                }
            }
            Some(segs)
        });
        self.nesting -= 1;
        res
    }

    // element = _{ "." ~ literal | full_scan ~ (literal | all | "[" ~ bracket ~ "]")
    //             | "." ~ all | ("."? ~ "[" ~ bracket ~ "]") }
    fn element(&mut self, segs: &mut Vec<Seg>) -> bool {
        let start = self.pos;
        if self.lit(".") {
            self.skip();
            if let Some(l) = self.literal() {
                segs.push(Seg::Key(l));
                return true;
            }
        }
        self.pos = start;
        if self.full_scan() {
            self.skip();
            if let Some(l) = self.literal() {
                segs.push(Seg::Descend);
                segs.push(Seg::Key(l));
                return true;
            }
            if self.all() {
                segs.push(Seg::Descend);
                segs.push(Seg::All);
                return true;
            }
            if let Some(b) = self.bracketed() {
                segs.push(Seg::Descend);
                segs.push(b);
                return true;
            }
        }
        self.pos = start;
        if self.lit(".") {
            self.skip();
            if self.all() {
                segs.push(Seg::All);
                return true;
            }
        }
        self.pos = start;
        self.lit(".");
        self.skip();
        if let Some(b) = self.bracketed() {
            segs.push(b);
            return true;
        }
        self.pos = start;
        false
    }

    // "[" ~ bracket ~ "]"
    fn bracketed(&mut self) -> Option<Seg> {
        let start = self.pos;
        if self.lit("[") {
            self.skip();
            if let Some(b) = self.bracket() {
                self.skip();
                if self.lit("]") {
                    return Some(b);
                }
            }
        }
        self.pos = start;
        None
    }

    // first_element = _{ literal | all }
    fn first_element(&mut self, segs: &mut Vec<Seg>) -> bool {
        if let Some(l) = self.literal() {
            segs.push(Seg::Key(l));
            return true;
        }
        if self.all() {
            segs.push(Seg::All);
            return true;
        }
        false
    }

    // literal = @{ ('a'..'z' | 'A'..'Z' | '0'..'9' | "-" | "_" | "`" | "~" | "+" | "#"
    //              | "%" | "$" | "^" | "/" | ":")+ }
    fn literal(&mut self) -> Option<String> {
        self.atomic_rule(R::Literal, |p| {
            let start = p.pos;
            while let Some(c) = p.peek() {
                if c.is_ascii_alphanumeric() || b"-_`~+#%$^/:".contains(&c) {
                    p.pos += 1;
                } else {
                    break;
                }
            }
            (p.pos > start).then(|| p.src[start..p.pos].to_string())
        })
    }

    fn all(&mut self) -> bool {
        self.rule(R::All, |p| p.lit("*").then_some(())).is_some()
    }

    fn full_scan(&mut self) -> bool {
        self.rule(R::FullScan, |p| p.lit("..").then_some(()))
            .is_some()
    }

    // bracket = _{ numbers_range | numbers_list | string_list | all | "?" ~ filter }
    fn bracket(&mut self) -> Option<Seg> {
        if let Some(r) = self.numbers_range() {
            return Some(Seg::Range(r));
        }
        if let Some(l) = self.numbers_list() {
            return Some(Seg::Indexes(l));
        }
        if let Some(l) = self.string_list() {
            return Some(Seg::Keys(l));
        }
        if self.all() {
            return Some(Seg::All);
        }
        let start = self.pos;
        if self.lit("?") {
            self.skip();
            if let Some(f) = self.filter() {
                return Some(Seg::Filter(Box::new(f)));
            }
        }
        self.pos = start;
        None
    }

    // number = @{ "-"? ~ ASCII_NONZERO_DIGIT ~ ASCII_DIGIT* | "-"? ~ ASCII_DIGIT }
    fn number(&mut self) -> Option<i64> {
        self.atomic_rule(R::Number, |p| {
            let start = p.pos;
            p.lit("-");
            if matches!(p.peek(), Some(b'1'..=b'9')) {
                while matches!(p.peek(), Some(b'0'..=b'9')) {
                    p.pos += 1;
                }
            } else {
                p.pos = start;
                p.lit("-");
                if !matches!(p.peek(), Some(b'0'..=b'9')) {
                    return None;
                }
                p.pos += 1;
            }
            Some(parse_int_saturating(&p.src[start..p.pos]))
        })
    }

    // pos_number = @{ ASCII_NONZERO_DIGIT ~ ASCII_DIGIT* }
    fn pos_number(&mut self) -> Option<usize> {
        self.atomic_rule(R::PosNumber, |p| {
            let start = p.pos;
            if !matches!(p.peek(), Some(b'1'..=b'9')) {
                return None;
            }
            while matches!(p.peek(), Some(b'0'..=b'9')) {
                p.pos += 1;
            }
            Some(p.src[start..p.pos].parse::<usize>().unwrap_or(usize::MAX))
        })
    }

    // ((":" ~ pos_number) | ":")?, preceded by the sequence's implicit whitespace
    fn range_step(&mut self) -> usize {
        self.skip();
        let start = self.pos;
        if self.lit(":") {
            self.skip();
            if let Some(n) = self.pos_number() {
                return n;
            }
        }
        self.pos = start;
        self.lit(":");
        1
    }

    // numbers_range = { full_range | right_range | all_range | left_range }
    fn numbers_range(&mut self) -> Option<Range> {
        self.rule(R::NumbersRange, |p| {
            if let Some(r) = p.rule(R::FullRange, |p| {
                let start = p.number()?;
                p.skip();
                p.lit(":").then_some(())?;
                p.skip();
                let end = p.number()?;
                let step = p.range_step();
                Some(Range::Between { start, end, step })
            }) {
                return Some(r);
            }
            if let Some(r) = p.rule(R::RightRange, |p| {
                p.lit(":").then_some(())?;
                p.skip();
                let end = p.number()?;
                let step = p.range_step();
                Some(Range::To { end, step })
            }) {
                return Some(r);
            }
            if let Some(r) = p.rule(R::AllRange, |p| {
                p.lit(":").then_some(())?;
                let step = p.range_step();
                Some(Range::Whole { step })
            }) {
                return Some(r);
            }
            p.rule(R::LeftRange, |p| {
                let start = p.number()?;
                p.skip();
                p.lit(":").then_some(())?;
                let step = p.range_step();
                Some(Range::From { start, step })
            })
        })
    }

    /// `first ~ ("," ~ item)*` with pest's implicit whitespace.
    fn list<T>(&mut self, item: fn(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        let mut out = vec![item(self)?];
        self.skip();
        let comma_item = |p: &mut Self, out: &mut Vec<T>| -> bool {
            let start = p.pos;
            if p.lit(",") {
                p.skip();
                if let Some(v) = item(p) {
                    out.push(v);
                    return true;
                }
            }
            p.pos = start;
            false
        };
        if comma_item(self, &mut out) {
            loop {
                let save = self.pos;
                self.skip();
                if !comma_item(self, &mut out) {
                    self.pos = save;
                    break;
                }
            }
        }
        Some(out)
    }

    fn numbers_list(&mut self) -> Option<Vec<i64>> {
        self.rule(R::NumbersList, |p| p.list(Self::number))
    }

    fn string_list(&mut self) -> Option<Vec<String>> {
        self.rule(R::StringList, |p| p.list(Self::string))
    }

    // string = _{ ("'" ~ string_value ~ "'") | ("\"" ~ string_value ~ "\"")
    //           | ("\"" ~ string_value_escape_1 ~ "\"") | ("'" ~ string_value_escape_2 ~ "'") }
    fn string(&mut self) -> Option<String> {
        let start = self.pos;
        for (quote, plain) in [("'", true), ("\"", true), ("\"", false), ("'", false)] {
            self.pos = start;
            if !self.lit(quote) {
                continue;
            }
            self.skip();
            let v = if plain {
                self.string_value()
            } else {
                self.string_escaped(quote.as_bytes()[0])
            };
            if let Some(v) = v {
                self.skip();
                if self.lit(quote) {
                    return Some(v);
                }
            }
        }
        self.pos = start;
        None
    }

    // string_value = @{ ((!("\""|"\\"|"'") ~ ANY)+)* }
    fn string_value(&mut self) -> Option<String> {
        self.atomic_rule(R::StringValue, |p| {
            let start = p.pos;
            while let Some(c) = p.peek() {
                if c == b'"' || c == b'\\' || c == b'\'' {
                    break;
                }
                p.pos += 1;
            }
            Some(p.src[start..p.pos].to_string())
        })
    }

    // string_value_escape_1 = @{ ((!("\""|"\\") ~ ANY)+ | "\\" ~ ("\"" | "\\"))* }
    // (and _2 with "'"): the only escapes are of the quote and of the backslash.
    fn string_escaped(&mut self, quote: u8) -> Option<String> {
        let r = if quote == b'"' {
            R::StringValueEscape1
        } else {
            R::StringValueEscape2
        };
        self.atomic_rule(r, |p| {
            let mut out = String::new();
            let mut run = p.pos;
            loop {
                match p.peek() {
                    Some(b'\\') if matches!(p.b.get(p.pos + 1), Some(&c) if c == quote || c == b'\\') =>
                    {
                        out.push_str(&p.src[run..p.pos]);
                        out.push(p.b[p.pos + 1] as char);
                        p.pos += 2;
                        run = p.pos;
                    }
                    Some(c) if c != quote && c != b'\\' => p.pos += 1,
                    _ => break,
                }
            }
            out.push_str(&p.src[run..p.pos]);
            Some(out)
        })
    }

    // filter = { inner_filter ~ (filter_relation ~ inner_filter)* }
    fn filter(&mut self) -> Option<Filter> {
        if !self.enter() {
            return None;
        }
        let res = self.rule(R::Filter, |p| {
            let first = p.inner_filter()?;
            let mut groups = vec![vec![first]];
            p.skip();
            let rel_inner = |p: &mut Self, groups: &mut Vec<Vec<Operand>>| -> bool {
                let start = p.pos;
                let or = if p.rule(R::And, |p| p.lit("&&").then_some(())).is_some() {
                    false
                } else if p.rule(R::Or, |p| p.lit("||").then_some(())).is_some() {
                    true
                } else {
                    return false;
                };
                p.skip();
                match p.inner_filter() {
                    Some(op) => {
                        if or {
                            groups.push(vec![op]);
                        } else {
                            groups.last_mut().expect("a group").push(op);
                        }
                        true
                    }
                    None => {
                        p.pos = start;
                        false
                    }
                }
            };
            if rel_inner(p, &mut groups) {
                loop {
                    let save = p.pos;
                    p.skip();
                    if !rel_inner(p, &mut groups) {
                        p.pos = save;
                        break;
                    }
                }
            }
            Some(Filter { groups })
        });
        self.nesting -= 1;
        res
    }

    // inner_filter = _{ single_filter | "(" ~ filter ~ ")" }
    fn inner_filter(&mut self) -> Option<Operand> {
        if let Some(op) = self.single_filter() {
            return Some(op);
        }
        if self.too_deep {
            return None;
        }
        let start = self.pos;
        if self.lit("(") {
            self.skip();
            if let Some(f) = self.filter() {
                self.skip();
                if self.lit(")") {
                    return Some(Operand::Nested(f));
                }
            }
        }
        self.pos = start;
        None
    }

    // single_filter = { term ~ op ~ term | term }
    fn single_filter(&mut self) -> Option<Operand> {
        self.rule(R::SingleFilter, |p| {
            let start = p.pos;
            if let Some(t1) = p.term() {
                p.skip();
                if let Some(op) = p.op() {
                    p.skip();
                    if let Some(t2) = p.term() {
                        return Some(Operand::Single(t1, Some((op, t2))));
                    }
                }
            }
            p.pos = start;
            let t = p.term()?;
            Some(Operand::Single(t, None))
        })
    }

    // term = _{ from_current | from_root | decimal | string | boolean | null }
    fn term(&mut self) -> Option<Term> {
        if self.too_deep {
            return None;
        }
        if let Some(t) = self.rule(R::FromCurrent, |p| {
            p.lit("@").then_some(())?;
            p.skip();
            Some(Term::Current(p.root()))
        }) {
            return Some(t);
        }
        if let Some(t) = self.rule(R::FromRoot, |p| {
            p.lit("$").then_some(())?;
            p.skip();
            Some(Term::Root(p.root()))
        }) {
            return Some(t);
        }
        if let Some(t) = self.decimal() {
            return Some(t);
        }
        if let Some(s) = self.string() {
            return Some(Term::Str(s));
        }
        if self
            .atomic_rule(R::BooleanTrue, |p| p.lit("true").then_some(()))
            .is_some()
        {
            return Some(Term::Bool(true));
        }
        if self
            .atomic_rule(R::BooleanFalse, |p| p.lit("false").then_some(()))
            .is_some()
        {
            return Some(Term::Bool(false));
        }
        self.atomic_rule(R::Null, |p| p.lit("null").then_some(Term::Null))
    }

    // decimal = @{ number ~ ("." ~ ASCII_DIGIT+)? }
    fn decimal(&mut self) -> Option<Term> {
        self.atomic_rule(R::Decimal, |p| {
            let start = p.pos;
            p.number()?;
            let int_end = p.pos;
            if p.lit(".") && matches!(p.peek(), Some(b'0'..=b'9')) {
                while matches!(p.peek(), Some(b'0'..=b'9')) {
                    p.pos += 1;
                }
            } else {
                p.pos = int_end;
            }
            let text = &p.src[start..p.pos];
            Some(match text.parse::<i64>() {
                Ok(i) => Term::Int(i),
                Err(_) => Term::Float(text.parse::<f64>().unwrap_or(f64::INFINITY)),
            })
        })
    }

    // op = _{ ge | gt | le | lt | eq | ne | re }
    fn op(&mut self) -> Option<Op> {
        for (r, text, op) in [
            (R::Ge, ">=", Op::Ge),
            (R::Gt, ">", Op::Gt),
            (R::Le, "<=", Op::Le),
            (R::Lt, "<", Op::Lt),
            (R::Eq, "==", Op::Eq),
            (R::Ne, "!=", Op::Ne),
            (R::Re, "=~", Op::Re),
        ] {
            if self.atomic_rule(r, |p| p.lit(text).then_some(())).is_some() {
                return Some(op);
            }
        }
        None
    }
}

/// pest accepts any number of digits; RedisJSON would panic on overflow. Out-of-range
/// indexes saturate (and so select nothing, or clamp to the first element when
/// negative, like any index below `-len`).
fn parse_int_saturating(s: &str) -> i64 {
    s.parse::<i64>().unwrap_or(if s.starts_with('-') {
        i64::MIN
    } else {
        i64::MAX
    })
}

// ---- evaluation -------------------------------------------------------------------------

/// The work one evaluation may do, in units of one node produced, one path step
/// materialised, one regex character step or one pattern character compiled. It bounds
/// time and memory (about 200 MB at worst) of queries such as `$..*..*..*` on a deep
/// document, which would otherwise stall every replica applying them. A plain `$..*`
/// over a document of up to about four million values fits.
const BUDGET: u64 = 1 << 22;

fn budget_error() -> CmdError {
    CmdError::new("ERR JSONPath evaluation exceeds the work limit")
}

/// A selected location: its path from the document root and the value there.
pub(crate) struct Match<'v> {
    pub(crate) path: Vec<PathElem>,
    pub(crate) value: &'v Value,
}

/// Evaluates `q` on `doc`. With `track`, every match carries its path.
pub(crate) fn select<'v>(
    q: &Query,
    doc: &'v Value,
    track: bool,
) -> Result<Vec<Match<'v>>, CmdError> {
    let mut ev = Eval {
        root: doc,
        budget: BUDGET,
        regexes: HashMap::new(),
        arena: Vec::new(),
    };
    let found = ev.run(&q.segs, doc, track)?;
    let mut out = Vec::with_capacity(found.len());
    for c in found {
        let path = if track { ev.path_of(c.at)? } else { Vec::new() };
        out.push(Match {
            path,
            value: c.value,
        });
    }
    Ok(out)
}

/// One step of a tracked location, borrowing the key from the document.
#[derive(Clone, Copy)]
enum Step<'v> {
    Key(&'v str),
    Index(usize),
}

/// A node reached during evaluation; `at` is its location in the arena (`NO_PATH` for
/// the start node, or when locations are not tracked).
#[derive(Clone, Copy)]
struct Cursor<'v> {
    value: &'v Value,
    at: u32,
}

const NO_PATH: u32 = u32::MAX;

struct Eval<'v> {
    root: &'v Value,
    budget: u64,
    regexes: HashMap<String, Option<Rc<Regex>>>,
    /// Tracked locations as (parent, step): paths share their prefixes, as in
    /// RedisJSON's PathTracker, so tracking costs O(1) per node produced.
    arena: Vec<(u32, Step<'v>)>,
}

enum TermVal<'v, 't> {
    Int(i64),
    Float(f64),
    Str(&'t str),
    Value(&'v Value),
    Bool(bool),
    Null,
    NodeList(Vec<&'v Value>),
    Invalid,
}

/// RedisJSON's calc_abs_index: clamps into `0..=n`.
fn abs_index(i: i64, n: usize) -> usize {
    if i >= 0 {
        (i as u64).min(n as u64) as usize
    } else {
        i.saturating_add(n as i64).max(0) as usize
    }
}

impl<'v> Eval<'v> {
    fn spend(&mut self, n: u64) -> Result<(), CmdError> {
        if self.budget < n {
            return Err(budget_error());
        }
        self.budget -= n;
        Ok(())
    }

    /// A child of `parent` reached by `step`.
    fn child(&mut self, track: bool, parent: u32, step: Step<'v>, value: &'v Value) -> Cursor<'v> {
        let at = if track {
            self.arena.push((parent, step));
            (self.arena.len() - 1) as u32
        } else {
            NO_PATH
        };
        Cursor { value, at }
    }

    fn key(&mut self, track: bool, parent: u32, k: &'v str, v: &'v Value) -> Cursor<'v> {
        self.child(track, parent, Step::Key(k), v)
    }

    fn index(&mut self, track: bool, parent: u32, i: usize, v: &'v Value) -> Cursor<'v> {
        self.child(track, parent, Step::Index(i), v)
    }

    fn path_of(&mut self, mut at: u32) -> Result<Vec<PathElem>, CmdError> {
        let mut steps = Vec::new();
        while at != NO_PATH {
            let (parent, step) = self.arena[at as usize];
            steps.push(step);
            at = parent;
        }
        self.spend(steps.len() as u64)?;
        Ok(steps
            .into_iter()
            .rev()
            .map(|s| match s {
                Step::Key(k) => PathElem::Key(k.to_string()),
                Step::Index(i) => PathElem::Index(i),
            })
            .collect())
    }

    fn run(
        &mut self,
        segs: &[Seg],
        start: &'v Value,
        track: bool,
    ) -> Result<Vec<Cursor<'v>>, CmdError> {
        let mut cur = vec![Cursor {
            value: start,
            at: NO_PATH,
        }];
        for seg in segs {
            let mut next = Vec::new();
            for c in cur {
                match seg {
                    Seg::Descend => self.preorder(c, track, &mut next)?,
                    _ => self.apply(seg, c, track, &mut next)?,
                }
            }
            cur = next;
            if cur.is_empty() {
                break;
            }
        }
        Ok(cur)
    }

    /// The node and all its descendants, in pre-order.
    fn preorder(
        &mut self,
        c: Cursor<'v>,
        track: bool,
        out: &mut Vec<Cursor<'v>>,
    ) -> Result<(), CmdError> {
        let mut stack = vec![c];
        while let Some(c) = stack.pop() {
            self.spend(1)?;
            let first = stack.len();
            match c.value {
                Value::Array(a) => {
                    for (i, v) in a.iter().enumerate() {
                        let n = self.index(track, c.at, i, v);
                        stack.push(n);
                    }
                }
                Value::Object(o) => {
                    for (k, v) in o {
                        let n = self.key(track, c.at, k, v);
                        stack.push(n);
                    }
                }
                _ => {}
            }
            stack[first..].reverse();
            out.push(c);
        }
        Ok(())
    }

    fn apply(
        &mut self,
        seg: &Seg,
        c: Cursor<'v>,
        track: bool,
        out: &mut Vec<Cursor<'v>>,
    ) -> Result<(), CmdError> {
        let before = out.len();
        let at = c.at;
        match (seg, c.value) {
            (Seg::Key(k), Value::Object(o)) => {
                if let Some((k, v)) = o.get_key_value(k.as_str()) {
                    out.push(self.key(track, at, k, v));
                }
            }
            (Seg::Keys(ks), Value::Object(o)) => {
                for k in ks {
                    if let Some((k, v)) = o.get_key_value(k.as_str()) {
                        out.push(self.key(track, at, k, v));
                    }
                }
            }
            (Seg::All, Value::Object(o)) => {
                for (k, v) in o {
                    out.push(self.key(track, at, k, v));
                }
            }
            (Seg::All, Value::Array(a)) => {
                for (i, v) in a.iter().enumerate() {
                    out.push(self.index(track, at, i, v));
                }
            }
            (Seg::Indexes(ix), Value::Array(a)) => {
                for &i in ix {
                    let i = abs_index(i, a.len());
                    if let Some(v) = a.get(i) {
                        out.push(self.index(track, at, i, v));
                    }
                }
            }
            (Seg::Range(r), Value::Array(a)) => {
                let n = a.len();
                let (start, end, step) = match *r {
                    Range::To { end, step } => (0, abs_index(end, n), step),
                    Range::Whole { step } => (0, n, step),
                    Range::From { start, step } => (abs_index(start, n), n, step),
                    Range::Between { start, end, step } => {
                        (abs_index(start, n), abs_index(end, n), step)
                    }
                };
                let mut i = start;
                while i < end {
                    out.push(self.index(track, at, i, &a[i]));
                    i = match i.checked_add(step) {
                        Some(i) => i,
                        None => break,
                    };
                }
            }
            (Seg::Filter(f), Value::Array(a)) => {
                for (i, v) in a.iter().enumerate() {
                    self.spend(1)?;
                    if self.filter(f, v)? {
                        out.push(self.index(track, at, i, v));
                    }
                }
            }
            (Seg::Filter(f), Value::Object(o)) => {
                for (k, v) in o {
                    self.spend(1)?;
                    if self.filter(f, v)? {
                        out.push(self.key(track, at, k, v));
                    }
                }
            }
            _ => {}
        }
        self.spend((out.len() - before) as u64 + 1)
    }

    fn filter(&mut self, f: &Filter, cur: &'v Value) -> Result<bool, CmdError> {
        for group in &f.groups {
            let mut all = true;
            for op in group {
                if !self.operand(op, cur)? {
                    all = false;
                    break;
                }
            }
            if all {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn operand(&mut self, op: &Operand, cur: &'v Value) -> Result<bool, CmdError> {
        match op {
            Operand::Nested(f) => self.filter(f, cur),
            Operand::Single(t, None) => Ok(!matches!(self.term(t, cur)?, TermVal::Invalid)),
            Operand::Single(t1, Some((op, t2))) => {
                let a = self.term(t1, cur)?;
                let b = self.term(t2, cur)?;
                match op {
                    Op::Gt => Ok(ord_matches(&a, &b, Ordering::is_gt)),
                    Op::Ge => Ok(ord_matches(&a, &b, Ordering::is_ge)),
                    Op::Lt => Ok(ord_matches(&a, &b, Ordering::is_lt)),
                    Op::Le => Ok(ord_matches(&a, &b, Ordering::is_le)),
                    Op::Eq => Ok(eq(&a, &b)),
                    Op::Ne => Ok(!eq(&a, &b)),
                    Op::Re => self.re(&a, &b),
                }
            }
        }
    }

    fn term<'t>(&mut self, t: &'t Term, cur: &'v Value) -> Result<TermVal<'v, 't>, CmdError> {
        Ok(match t {
            Term::Int(i) => TermVal::Int(*i),
            Term::Float(f) => TermVal::Float(*f),
            Term::Str(s) => TermVal::Str(s),
            Term::Bool(b) => TermVal::Bool(*b),
            Term::Null => TermVal::Null,
            Term::Current(None) => TermVal::Value(cur),
            Term::Root(None) => TermVal::Value(self.root),
            Term::Current(Some(segs)) => self.nodes(segs, cur)?,
            Term::Root(Some(segs)) => self.nodes(segs, self.root)?,
        })
    }

    fn nodes<'t>(&mut self, segs: &[Seg], from: &'v Value) -> Result<TermVal<'v, 't>, CmdError> {
        let mut res = self.run(segs, from, false)?;
        Ok(match res.len() {
            0 => TermVal::Invalid,
            1 => TermVal::Value(res.pop().expect("one").value),
            _ => TermVal::NodeList(res.into_iter().map(|m| m.value).collect()),
        })
    }

    fn re(&mut self, a: &TermVal<'v, '_>, b: &TermVal<'v, '_>) -> Result<bool, CmdError> {
        match (a, b) {
            (TermVal::NodeList(l), _) => {
                for v in l {
                    if self.re(&TermVal::Value(v), b)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            (_, TermVal::NodeList(l)) => {
                for v in l {
                    if self.re(a, &TermVal::Value(v))? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            (TermVal::Value(Value::String(s)), TermVal::Str(pat)) => self.is_match(pat, s),
            (TermVal::Value(Value::String(s)), TermVal::Value(Value::String(pat))) => {
                self.is_match(pat, s)
            }
            _ => Ok(false),
        }
    }

    fn is_match(&mut self, pattern: &str, s: &str) -> Result<bool, CmdError> {
        let re = match self.regexes.get(pattern) {
            Some(r) => r.clone(),
            None => {
                self.spend(pattern.len() as u64 + 1)?;
                let r = match Regex::new(pattern) {
                    Ok(r) => Some(Rc::new(r)),
                    Err(RegexError::Invalid) => None,
                    Err(RegexError::Unsupported(what)) => {
                        return Err(CmdError::new(format!(
                            "ERR regular expression feature not supported: {what}"
                        )))
                    }
                };
                self.regexes.insert(pattern.to_string(), r.clone());
                r
            }
        };
        match re {
            None => Ok(false),
            Some(re) => re.is_match(s, &mut self.budget).ok_or_else(budget_error),
        }
    }
}

/// A term's scalar view for comparisons; None for arrays, objects and non-values.
fn scalar<'a>(t: &'a TermVal<'_, '_>) -> Option<TermVal<'a, 'a>> {
    Some(match t {
        TermVal::Int(i) => TermVal::Int(*i),
        TermVal::Float(f) => TermVal::Float(*f),
        TermVal::Str(s) => TermVal::Str(s),
        TermVal::Bool(b) => TermVal::Bool(*b),
        TermVal::Null => TermVal::Null,
        TermVal::Value(v) => match v {
            Value::Number(n) => match n.as_i64() {
                Some(i) => TermVal::Int(i),
                None => TermVal::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => TermVal::Str(s),
            Value::Bool(b) => TermVal::Bool(*b),
            Value::Null => TermVal::Null,
            _ => return None,
        },
        _ => return None,
    })
}

fn float_cmp(a: f64, b: f64) -> Ordering {
    if a > b {
        Ordering::Greater
    } else if a < b {
        Ordering::Less
    } else {
        Ordering::Equal
    }
}

/// RedisJSON's TermEvaluationResult::cmp; None = not comparable.
fn cmp(a: &TermVal<'_, '_>, b: &TermVal<'_, '_>) -> Option<Ordering> {
    let (a, b) = (scalar(a)?, scalar(b)?);
    Some(match (a, b) {
        (TermVal::Int(x), TermVal::Int(y)) => x.cmp(&y),
        (TermVal::Int(x), TermVal::Float(y)) => float_cmp(x as f64, y),
        (TermVal::Float(x), TermVal::Int(y)) => float_cmp(x, y as f64),
        (TermVal::Float(x), TermVal::Float(y)) => float_cmp(x, y),
        (TermVal::Str(x), TermVal::Str(y)) => x.cmp(y),
        (TermVal::Bool(x), TermVal::Bool(y)) => x.cmp(&y),
        (TermVal::Null, TermVal::Null) => Ordering::Equal,
        _ => return None,
    })
}

fn ord_matches(a: &TermVal<'_, '_>, b: &TermVal<'_, '_>, pred: fn(Ordering) -> bool) -> bool {
    match (a, b) {
        (TermVal::NodeList(l), _) => l.iter().any(|v| ord_matches(&TermVal::Value(v), b, pred)),
        (_, TermVal::NodeList(l)) => l.iter().any(|v| ord_matches(a, &TermVal::Value(v), pred)),
        _ => cmp(a, b).is_some_and(pred),
    }
}

fn eq(a: &TermVal<'_, '_>, b: &TermVal<'_, '_>) -> bool {
    match (a, b) {
        (TermVal::NodeList(l), _) => l.iter().any(|v| eq(&TermVal::Value(v), b)),
        (_, TermVal::NodeList(l)) => l.iter().any(|v| eq(a, &TermVal::Value(v))),
        (TermVal::Value(x), TermVal::Value(y)) => loose_eq(x, y),
        _ => cmp(a, b) == Some(Ordering::Equal),
    }
}

/// Value equality as RedisJSON's in-memory values compare: numbers by value (`1 == 1.0`),
/// objects regardless of key order.
fn loose_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(i), Some(j)) => i == j,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(i), Some(j)) => i == j,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| loose_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| loose_eq(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn get(path: &str, doc: &Value) -> Vec<Value> {
        let q = compile(path).unwrap();
        select(&q, doc, false)
            .unwrap()
            .into_iter()
            .map(|m| m.value.clone())
            .collect()
    }

    /// Recursive descent in RedisJSON's order. RedisJSON's json_path crate
    /// (RedisJSON/RedisJSON json_path/src/json_path.rs, `calc_internal` on a full scan
    /// then `calc_full_scan`) applies the rest of the path to the node itself first,
    /// then, for each child in order (object keys in insertion order, array elements by
    /// index), to the child and, recursively, to the child's descendants: the matches
    /// come in pre-order of the node they hang from. Pinned here with hand-computed
    /// expectations, as no RedisJSON server is at hand.
    #[test]
    fn descent_order_is_redisjson() {
        let doc = json!({
            "a": 1,
            "b": {"a": 2, "x": {"a": 3}},
            "c": [{"a": 4}, {"b": {"a": 5}}],
            "d": {"a": {"a": 6}}
        });
        // d.a is found at d (an object holding a) before the a inside it.
        assert_eq!(
            get("$..a", &doc),
            vec![
                json!(1),
                json!(2),
                json!(3),
                json!(4),
                json!(5),
                json!({"a": 6}),
                json!(6)
            ]
        );
        assert_eq!(
            get("$..b", &doc),
            vec![json!({"a": 2, "x": {"a": 3}}), json!({"a": 5})]
        );
        // The node's own children first, then each child's subtree in turn.
        let doc = json!({"a": {"b": 1}, "c": 2});
        assert_eq!(get("$..*", &doc), vec![json!({"b": 1}), json!(2), json!(1)]);
        // Insertion order, not key order.
        let doc = json!({"z": {"k": 1}, "a": {"k": 2}});
        assert_eq!(get("$..k", &doc), vec![json!(1), json!(2)]);
        // A path after the descent runs per node, in that order.
        let doc = json!({"a": [{"a": [7]}, 8]});
        assert_eq!(get("$..a[0]", &doc), vec![json!({"a": [7]}), json!(7)]);
    }

    #[test]
    fn basics() {
        let doc = json!({"a": 1, "b": [1, 2, 3], "c": {"a": 4, "d": [{"a": 5}]}});
        assert_eq!(get("$.a", &doc), vec![json!(1)]);
        assert_eq!(get("$..a", &doc), vec![json!(1), json!(4), json!(5)]);
        assert_eq!(get("$.b[-1]", &doc), vec![json!(3)]);
        assert_eq!(get("$.b[-10]", &doc), vec![json!(1)]);
        assert_eq!(get("$.b[10]", &doc), Vec::<Value>::new());
        assert_eq!(get("$.b[0:2]", &doc), vec![json!(1), json!(2)]);
        assert_eq!(get("$.b[::2]", &doc), vec![json!(1), json!(3)]);
        assert_eq!(get("$.b[1:]", &doc), vec![json!(2), json!(3)]);
        assert_eq!(get("$.b[:-1]", &doc), vec![json!(1), json!(2)]);
        assert_eq!(get("$.b[2,0]", &doc), vec![json!(3), json!(1)]);
        assert_eq!(get("$['a','c'].a", &doc), vec![json!(4)]);
        assert_eq!(get("$.b[?(@>1)]", &doc), vec![json!(2), json!(3)]);
        assert_eq!(get("$..[?(@.a>4)].a", &doc), vec![json!(5)]);
        assert_eq!(get("$ . a", &doc), vec![json!(1)]);
        assert_eq!(get("$[ 'a' ]", &doc), vec![json!(1)]);
    }

    #[test]
    fn paths_are_tracked() {
        let doc = json!({"a": [{"b": 1}]});
        let q = compile("$..b").unwrap();
        let m = select(&q, &doc, true).unwrap();
        assert_eq!(
            m[0].path,
            vec![
                PathElem::Key("a".into()),
                PathElem::Index(0),
                PathElem::Key("b".into())
            ]
        );
    }

    #[test]
    fn errors_look_like_pest() {
        let e = compile("$.a[").unwrap_err().0;
        assert_eq!(
            e,
            "Error occurred on position 4, \"$.a[ <<<<----\", expected one of the following: \
             '<string>[,<string>,...]', '<number>', ['start:end:steps'], '*'."
        );
        let e = compile("$.a]").unwrap_err().0;
        assert_eq!(
            e,
            "Error occurred on position 3, \"$.a ---->>>> ]\", expected one of the following: EOI, '..'."
        );
        assert!(compile(&format!("$[?{}@{}]", "(".repeat(100), ")".repeat(100))).is_err());
    }
}
