//! The regular expressions of JSONPath's `=~` filter operator.
//!
//! RedisJSON matches with Rust's `regex` crate (`Regex::new(pattern).is_match(s)`: an
//! unanchored search, an invalid pattern matching nothing). The engine crate has no
//! regex dependency, so this is a small implementation of that syntax: a Thompson NFA
//! simulated Pike-VM style, linear in the subject's length (no backtracking), which is
//! all `is_match` needs (greedy and lazy repetitions accept the same strings).
//!
//! Supported: literals and escapes (`\.`, `\n`, `\t`, `\x41`, `\x{263A}`, `\u{...}`),
//! `.`, classes `[a-z]`, `[^...]`, `[[:alpha:]]`, `\d \w \s \D \W \S`, anchors `^ $ \A
//! \z \b \B`, groups `(...)`, `(?:...)`, `(?P<n>...)`, `(?<n>...)`, alternation,
//! `* + ? {n} {n,} {n,m}` (and their lazy forms), flags `i m s U x` as `(?flags)` or
//! `(?flags:...)`. Patterns the `regex` crate rejects (backreferences, look-around,
//! unbalanced groups, ...) are [`RegexError::Invalid`]. Valid syntax this engine does
//! not implement (Unicode classes `\p{..}`, class set operations `&&`/`--`/`~~`,
//! `\b{start}`, `(?-u)`, `(?R)`) is [`RegexError::Unsupported`], reported to the user as
//! an error rather than silently mismatching.
//!
//! Differences that remain: `\d`/`\w` on non-ASCII text use Rust's `char::is_numeric`
//! / `char::is_alphanumeric` (close to, not exactly, the Unicode `Nd`/word tables), and
//! case-insensitive matching uses simple one-to-one case mappings.

/// Largest compiled program (instructions): large counted repetitions fail like the
/// `regex` crate's size limit does, as an invalid pattern.
const MAX_PROGRAM: usize = 20_000;
/// How deeply groups may nest.
const MAX_NESTING: usize = 64;
/// How tall the syntax tree may grow (groups, repetitions, concatenations and
/// alternations, as the `regex` crate's default nest limit counts them): a taller
/// pattern (`a` followed by thousands of `*`) is invalid, like there, so compiling and
/// dropping the tree stays shallow.
const NEST_LIMIT: usize = 250;

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RegexError {
    Invalid,
    Unsupported(String),
}

type Res<T> = Result<T, RegexError>;

fn unsupported<T>(what: &str) -> Res<T> {
    Err(RegexError::Unsupported(what.to_string()))
}

#[derive(Debug, Clone, Copy)]
enum Perl {
    Digit,
    Word,
    Space,
}

#[derive(Debug, Clone)]
enum ClassItem {
    Range(char, char),
    Perl(Perl, bool),
    Posix(&'static str, bool),
}

#[derive(Debug, Clone)]
struct Class {
    items: Vec<ClassItem>,
    negated: bool,
    ci: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Look {
    StartText,
    EndText,
    StartLine,
    EndLine,
    WordB,
    NotWordB,
}

#[derive(Debug, Clone)]
enum Node {
    Empty,
    Char(char, bool),
    Any(bool),
    Class(Box<Class>),
    Look(Look),
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    Repeat(Box<Node>, u32, Option<u32>),
}

#[derive(Debug, Clone)]
enum Inst {
    Char(char, bool),
    Any(bool),
    Class(Box<Class>),
    Look(Look),
    Split(usize, usize),
    Jmp(usize),
    Match,
}

#[derive(Debug)]
pub(crate) struct Regex {
    prog: Vec<Inst>,
}

#[derive(Clone, Copy)]
struct Flags {
    i: bool,
    m: bool,
    s: bool,
    x: bool,
}

struct Parser {
    c: Vec<char>,
    pos: usize,
    depth: usize,
}

/// What the parser knows about a parsed piece: the height of its tree and whether it
/// can only match the empty string.
#[derive(Clone, Copy)]
struct Info {
    height: usize,
    empty: bool,
}

impl Info {
    const LEAF: Info = Info {
        height: 1,
        empty: false,
    };
    const ZERO_WIDTH: Info = Info {
        height: 1,
        empty: true,
    };

    /// A node over `children` (at least one).
    fn over(children: &[Info]) -> Res<Info> {
        let height = children.iter().map(|i| i.height).max().unwrap_or(0) + 1;
        if height > NEST_LIMIT {
            return Err(RegexError::Invalid);
        }
        Ok(Info {
            height,
            empty: children.iter().all(|i| i.empty),
        })
    }
}

impl Regex {
    pub(crate) fn new(pattern: &str) -> Res<Regex> {
        let mut p = Parser {
            c: pattern.chars().collect(),
            pos: 0,
            depth: 0,
        };
        let mut flags = Flags {
            i: false,
            m: false,
            s: false,
            x: false,
        };
        let (node, _) = p.alternation(&mut flags)?;
        if p.pos != p.c.len() {
            // Only an unmatched ')' stops the top level early.
            return Err(RegexError::Invalid);
        }
        let mut prog = Vec::new();
        compile(&node, &mut prog)?;
        prog.push(Inst::Match);
        Ok(Regex { prog })
    }

    /// Whether the pattern matches anywhere in `s`. `budget` is decremented by the
    /// work done; None once it runs out.
    pub(crate) fn is_match(&self, s: &str, budget: &mut u64) -> Option<bool> {
        let chars: Vec<char> = s.chars().collect();
        let n = self.prog.len();
        let mut clist = Threads::new(n);
        let mut nlist = Threads::new(n);
        let mut stack = Vec::new();
        for i in 0..=chars.len() {
            let prev = if i == 0 { None } else { Some(chars[i - 1]) };
            let next = chars.get(i).copied();
            // Unanchored: a new thread starts at every position.
            self.add(&mut clist, 0, prev, next, &mut stack);
            let cost = clist.len() as u64 + 1;
            if *budget < cost {
                return None;
            }
            *budget -= cost;
            let after = chars.get(i + 1).copied();
            for k in 0..clist.len() {
                let pc = clist.dense[k];
                let step = match &self.prog[pc] {
                    Inst::Match => return Some(true),
                    Inst::Char(c, ci) => next.is_some_and(|x| char_eq(*c, x, *ci)),
                    Inst::Any(dotall) => next.is_some_and(|x| *dotall || x != '\n'),
                    Inst::Class(cl) => next.is_some_and(|x| class_matches(cl, x)),
                    _ => false,
                };
                if step {
                    // The thread consumed `next`: it continues between `next` and `after`.
                    self.add(&mut nlist, pc + 1, next, after, &mut stack);
                }
            }
            std::mem::swap(&mut clist, &mut nlist);
            nlist.clear();
        }
        Some(false)
    }

    /// Adds `pc` and everything reachable from it without consuming input.
    fn add(
        &self,
        list: &mut Threads,
        pc: usize,
        prev: Option<char>,
        next: Option<char>,
        stack: &mut Vec<usize>,
    ) {
        stack.push(pc);
        while let Some(pc) = stack.pop() {
            if list.contains(pc) {
                continue;
            }
            list.insert(pc);
            match &self.prog[pc] {
                Inst::Jmp(t) => stack.push(*t),
                Inst::Split(a, b) => {
                    stack.push(*b);
                    stack.push(*a);
                }
                Inst::Look(l) if look_holds(*l, prev, next) => stack.push(pc + 1),
                _ => {}
            }
        }
    }
}

struct Threads {
    dense: Vec<usize>,
    sparse: Vec<usize>,
}

impl Threads {
    fn new(n: usize) -> Threads {
        Threads {
            dense: Vec::with_capacity(n),
            sparse: vec![0; n],
        }
    }
    fn len(&self) -> usize {
        self.dense.len()
    }
    fn contains(&self, pc: usize) -> bool {
        let i = self.sparse[pc];
        i < self.dense.len() && self.dense[i] == pc
    }
    fn insert(&mut self, pc: usize) {
        self.sparse[pc] = self.dense.len();
        self.dense.push(pc);
    }
    fn clear(&mut self) {
        self.dense.clear();
    }
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn look_holds(l: Look, prev: Option<char>, next: Option<char>) -> bool {
    match l {
        Look::StartText => prev.is_none(),
        Look::EndText => next.is_none(),
        Look::StartLine => prev.is_none() || prev == Some('\n'),
        Look::EndLine => next.is_none() || next == Some('\n'),
        Look::WordB | Look::NotWordB => {
            let b = prev.is_some_and(is_word) != next.is_some_and(is_word);
            b == (l == Look::WordB)
        }
    }
}

fn simple_fold(c: char) -> char {
    let mut l = c.to_lowercase();
    match (l.next(), l.next()) {
        (Some(x), None) => x,
        _ => c,
    }
}

fn simple_upper(c: char) -> char {
    let mut u = c.to_uppercase();
    match (u.next(), u.next()) {
        (Some(x), None) => x,
        _ => c,
    }
}

fn char_eq(pat: char, x: char, ci: bool) -> bool {
    pat == x || (ci && simple_fold(pat) == simple_fold(x))
}

fn perl_matches(p: Perl, c: char) -> bool {
    match p {
        Perl::Digit => c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric()),
        Perl::Word => is_word(c),
        Perl::Space => c.is_whitespace(),
    }
}

fn posix_matches(name: &str, c: char) -> bool {
    match name {
        "alnum" => c.is_ascii_alphanumeric(),
        "alpha" => c.is_ascii_alphabetic(),
        "ascii" => c.is_ascii(),
        "blank" => c == ' ' || c == '\t',
        "cntrl" => c.is_ascii_control(),
        "digit" => c.is_ascii_digit(),
        "graph" => c.is_ascii_graphic(),
        "lower" => c.is_ascii_lowercase(),
        "print" => c.is_ascii_graphic() || c == ' ',
        "punct" => c.is_ascii_punctuation(),
        "space" => matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c'),
        "upper" => c.is_ascii_uppercase(),
        "word" => c.is_ascii_alphanumeric() || c == '_',
        "xdigit" => c.is_ascii_hexdigit(),
        _ => false,
    }
}

fn class_matches(cl: &Class, c: char) -> bool {
    let test = |x: char| {
        cl.items.iter().any(|it| match *it {
            ClassItem::Range(lo, hi) => lo <= x && x <= hi,
            ClassItem::Perl(p, neg) => perl_matches(p, x) != neg,
            ClassItem::Posix(name, neg) => posix_matches(name, x) != neg,
        })
    };
    let hit = test(c) || (cl.ci && (test(simple_fold(c)) || test(simple_upper(c))));
    hit != cl.negated
}

fn compile(node: &Node, prog: &mut Vec<Inst>) -> Res<()> {
    if prog.len() > MAX_PROGRAM {
        return Err(RegexError::Invalid);
    }
    match node {
        Node::Empty => {}
        Node::Char(c, ci) => prog.push(Inst::Char(*c, *ci)),
        Node::Any(s) => prog.push(Inst::Any(*s)),
        Node::Class(c) => prog.push(Inst::Class(c.clone())),
        Node::Look(l) => prog.push(Inst::Look(*l)),
        Node::Concat(v) => {
            for n in v {
                compile(n, prog)?;
            }
        }
        Node::Alt(v) => {
            // split L1, next; L1: a; jmp end; next: split L2, next2; ...
            let mut jumps = Vec::new();
            for (k, n) in v.iter().enumerate() {
                if k + 1 < v.len() {
                    let split = prog.len();
                    prog.push(Inst::Split(split + 1, 0));
                    compile(n, prog)?;
                    jumps.push(prog.len());
                    prog.push(Inst::Jmp(0));
                    let next = prog.len();
                    prog[split] = Inst::Split(split + 1, next);
                } else {
                    compile(n, prog)?;
                }
            }
            let end = prog.len();
            for j in jumps {
                prog[j] = Inst::Jmp(end);
            }
        }
        Node::Repeat(n, min, max) => {
            for _ in 0..*min {
                compile(n, prog)?;
                if prog.len() > MAX_PROGRAM {
                    return Err(RegexError::Invalid);
                }
            }
            match max {
                None => {
                    // L: split body, end; body; jmp L
                    let split = prog.len();
                    prog.push(Inst::Split(split + 1, 0));
                    compile(n, prog)?;
                    prog.push(Inst::Jmp(split));
                    let end = prog.len();
                    prog[split] = Inst::Split(split + 1, end);
                }
                Some(max) => {
                    let mut splits = Vec::new();
                    for _ in *min..*max {
                        splits.push(prog.len());
                        prog.push(Inst::Split(0, 0));
                        compile(n, prog)?;
                        if prog.len() > MAX_PROGRAM {
                            return Err(RegexError::Invalid);
                        }
                    }
                    let end = prog.len();
                    for s in splits {
                        prog[s] = Inst::Split(s + 1, end);
                    }
                }
            }
        }
    }
    if prog.len() > MAX_PROGRAM {
        return Err(RegexError::Invalid);
    }
    Ok(())
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.c.get(self.pos).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// In `x` mode, whitespace and `#` comments between tokens are ignored.
    fn skip_ws(&mut self, f: &Flags) {
        if !f.x {
            return;
        }
        loop {
            match self.peek() {
                Some(c) if c.is_whitespace() => self.pos += 1,
                Some('#') => {
                    while let Some(c) = self.peek() {
                        self.pos += 1;
                        if c == '\n' {
                            break;
                        }
                    }
                }
                _ => return,
            }
        }
    }

    fn alternation(&mut self, flags: &mut Flags) -> Res<(Node, Info)> {
        let mut alts = vec![self.concat(flags)?];
        while self.eat('|') {
            alts.push(self.concat(flags)?);
        }
        if alts.len() == 1 {
            return Ok(alts.pop().expect("one"));
        }
        let infos: Vec<Info> = alts.iter().map(|(_, i)| *i).collect();
        let info = Info::over(&infos)?;
        Ok((Node::Alt(alts.into_iter().map(|(n, _)| n).collect()), info))
    }

    fn concat(&mut self, flags: &mut Flags) -> Res<(Node, Info)> {
        let mut items = Vec::new();
        let mut infos = Vec::new();
        loop {
            self.skip_ws(flags);
            match self.peek() {
                None | Some('|') | Some(')') => break,
                _ => {}
            }
            let atom = match self.atom(flags)? {
                Some(a) => a,
                None => continue, // a flag group changed the flags
            };
            let (atom, info) = self.repetitions(atom, flags)?;
            items.push(atom);
            infos.push(info);
        }
        Ok(match items.len() {
            0 => (Node::Empty, Info::ZERO_WIDTH),
            1 => (items.pop().expect("one"), infos[0]),
            _ => (Node::Concat(items), Info::over(&infos)?),
        })
    }

    fn repetitions(
        &mut self,
        (mut atom, mut info): (Node, Info),
        flags: &Flags,
    ) -> Res<(Node, Info)> {
        loop {
            self.skip_ws(flags);
            let (min, max) = match self.peek() {
                Some('*') => {
                    self.pos += 1;
                    (0, None)
                }
                Some('+') => {
                    self.pos += 1;
                    (1, None)
                }
                Some('?') => {
                    self.pos += 1;
                    (0, Some(1))
                }
                Some('{') => {
                    self.pos += 1;
                    self.counted()?
                }
                _ => return Ok((atom, info)),
            };
            self.eat('?'); // lazy: same language
            let (min, max) = if info.empty {
                // Like regex-syntax: repeating what only matches the empty string more
                // than once changes nothing (and `(?:){1000}{1000}{1000}` must not
                // compile a billion empty steps).
                (min.min(1), Some(max.map_or(1, |m| m.min(1))))
            } else {
                (min, max)
            };
            info = Info::over(&[info])?;
            info.empty |= max == Some(0);
            atom = Node::Repeat(Box::new(atom), min, max);
        }
    }

    fn number(&mut self) -> Option<u32> {
        let start = self.pos;
        while matches!(self.peek(), Some('0'..='9')) {
            self.pos += 1;
        }
        if self.pos == start {
            return None;
        }
        self.c[start..self.pos]
            .iter()
            .collect::<String>()
            .parse::<u32>()
            .ok()
    }

    fn counted(&mut self) -> Res<(u32, Option<u32>)> {
        let min = self.number().ok_or(RegexError::Invalid)?;
        let max = if self.eat(',') {
            if self.peek() == Some('}') {
                None
            } else {
                Some(self.number().ok_or(RegexError::Invalid)?)
            }
        } else {
            Some(min)
        };
        if !self.eat('}') {
            return Err(RegexError::Invalid);
        }
        if max.is_some_and(|m| m < min) {
            return Err(RegexError::Invalid);
        }
        if min > 1000 || max.is_some_and(|m| m > 1000) {
            // Far beyond any practical size limit once compiled.
            return Err(RegexError::Invalid);
        }
        Ok((min, max))
    }

    /// One atom; None when it was a bare flag group `(?i)`.
    fn atom(&mut self, flags: &mut Flags) -> Res<Option<(Node, Info)>> {
        let c = self.peek().ok_or(RegexError::Invalid)?;
        self.pos += 1;
        let node = match c {
            '(' => return self.group(flags),
            '[' => Node::Class(Box::new(self.class(flags)?)),
            '.' => Node::Any(flags.s),
            '^' => Node::Look(if flags.m {
                Look::StartLine
            } else {
                Look::StartText
            }),
            '$' => Node::Look(if flags.m {
                Look::EndLine
            } else {
                Look::EndText
            }),
            '\\' => self.escape(flags, false)?.into_node(flags),
            '*' | '+' | '?' | '{' => return Err(RegexError::Invalid),
            c => Node::Char(c, flags.i),
        };
        let info = match node {
            Node::Look(_) => Info::ZERO_WIDTH,
            _ => Info::LEAF,
        };
        Ok(Some((node, info)))
    }

    fn group(&mut self, flags: &mut Flags) -> Res<Option<(Node, Info)>> {
        if self.depth >= MAX_NESTING {
            return unsupported("groups nested too deeply");
        }
        let mut inner = *flags;
        if self.eat('?') {
            match self.peek() {
                Some(':') => {
                    self.pos += 1;
                }
                Some('P') | Some('<') => {
                    if self.peek() == Some('P') {
                        self.pos += 1;
                        if !self.eat('<') {
                            // (?P=name) backreferences and the like.
                            return Err(RegexError::Invalid);
                        }
                    } else {
                        self.pos += 1;
                        if matches!(self.peek(), Some('=') | Some('!')) {
                            return Err(RegexError::Invalid); // look-behind
                        }
                    }
                    let start = self.pos;
                    while matches!(self.peek(), Some(c) if c.is_alphanumeric() || c == '_' || c == '.' || c == '[' || c == ']')
                    {
                        self.pos += 1;
                    }
                    if self.pos == start || !self.eat('>') {
                        return Err(RegexError::Invalid);
                    }
                }
                Some('=') | Some('!') => return Err(RegexError::Invalid), // look-ahead
                _ => {
                    // Flags: (?flags) or (?flags:...)
                    let mut on = true;
                    let mut any = false;
                    loop {
                        match self.peek() {
                            Some('-') if on => {
                                on = false;
                                self.pos += 1;
                            }
                            Some('i') => {
                                inner.i = on;
                                self.pos += 1;
                            }
                            Some('m') => {
                                inner.m = on;
                                self.pos += 1;
                            }
                            Some('s') => {
                                inner.s = on;
                                self.pos += 1;
                            }
                            Some('x') => {
                                inner.x = on;
                                self.pos += 1;
                            }
                            Some('U') => {
                                // Swaps greediness: the same language for is_match.
                                self.pos += 1;
                            }
                            Some('u') => {
                                if on {
                                    self.pos += 1;
                                } else {
                                    return unsupported("(?-u)");
                                }
                            }
                            Some('R') => return unsupported("CRLF mode (?R)"),
                            Some(')') => {
                                self.pos += 1;
                                if !any && on {
                                    return Err(RegexError::Invalid);
                                }
                                *flags = inner;
                                return Ok(None);
                            }
                            Some(':') => {
                                self.pos += 1;
                                break;
                            }
                            _ => return Err(RegexError::Invalid),
                        }
                        any = true;
                    }
                }
            }
        }
        self.depth += 1;
        let (node, info) = self.alternation(&mut inner)?;
        self.depth -= 1;
        if !self.eat(')') {
            return Err(RegexError::Invalid);
        }
        Ok(Some((node, Info::over(&[info])?)))
    }

    fn hex(&mut self, digits: Option<usize>) -> Res<char> {
        let mut s = String::new();
        if digits.is_none() || self.peek() == Some('{') {
            if !self.eat('{') {
                return Err(RegexError::Invalid);
            }
            while let Some(c) = self.peek() {
                self.pos += 1;
                if c == '}' {
                    return u32::from_str_radix(&s, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or(RegexError::Invalid);
                }
                s.push(c);
            }
            return Err(RegexError::Invalid);
        }
        for _ in 0..digits.unwrap_or(0) {
            match self.peek() {
                Some(c) if c.is_ascii_hexdigit() => {
                    s.push(c);
                    self.pos += 1;
                }
                _ => return Err(RegexError::Invalid),
            }
        }
        u32::from_str_radix(&s, 16)
            .ok()
            .and_then(char::from_u32)
            .ok_or(RegexError::Invalid)
    }

    /// After a backslash.
    fn escape(&mut self, _flags: &Flags, in_class: bool) -> Res<Escape> {
        let c = self.peek().ok_or(RegexError::Invalid)?;
        self.pos += 1;
        Ok(match c {
            'd' => Escape::Perl(Perl::Digit, false),
            'D' => Escape::Perl(Perl::Digit, true),
            'w' => Escape::Perl(Perl::Word, false),
            'W' => Escape::Perl(Perl::Word, true),
            's' => Escape::Perl(Perl::Space, false),
            'S' => Escape::Perl(Perl::Space, true),
            'n' => Escape::Char('\n'),
            't' => Escape::Char('\t'),
            'r' => Escape::Char('\r'),
            'f' => Escape::Char('\x0c'),
            'v' => Escape::Char('\x0b'),
            'a' => Escape::Char('\x07'),
            'x' => Escape::Char(self.hex(Some(2))?),
            'u' => Escape::Char(self.hex(Some(4))?),
            'U' => Escape::Char(self.hex(Some(8))?),
            'p' | 'P' => return unsupported("Unicode classes (\\p, \\P)"),
            'A' if !in_class => Escape::Look(Look::StartText),
            'z' if !in_class => Escape::Look(Look::EndText),
            'b' if !in_class => {
                if self.peek() == Some('{') {
                    return unsupported("\\b{...} word boundary assertions");
                }
                Escape::Look(Look::WordB)
            }
            'B' if !in_class => Escape::Look(Look::NotWordB),
            '<' | '>' if !in_class => return unsupported("\\< and \\> word boundaries"),
            c if c.is_ascii() && !c.is_ascii_alphanumeric() && c != '<' && c != '>' => {
                Escape::Char(c)
            }
            c if !c.is_ascii() => return Err(RegexError::Invalid),
            _ => return Err(RegexError::Invalid), // backreferences, unknown letters
        })
    }

    fn class(&mut self, flags: &Flags) -> Res<Class> {
        let mut cl = Class {
            items: Vec::new(),
            negated: false,
            ci: flags.i,
        };
        if self.eat('^') {
            cl.negated = true;
        }
        let mut first = true;
        loop {
            let c = self.peek().ok_or(RegexError::Invalid)?;
            if c == ']' && !first {
                self.pos += 1;
                break;
            }
            first = false;
            if c == '[' {
                if self.c.get(self.pos + 1) == Some(&':') {
                    // Only as far as the longest class name (`[:^xdigit:]`) reaches:
                    // copying the whole rest of the pattern at every `[[:` would be
                    // quadratic in the pattern's length.
                    let to = (self.pos + 2 + 9).min(self.c.len());
                    let rest: String = self.c[self.pos + 2..to].iter().collect();
                    if let Some(end) = rest.find(":]") {
                        let mut name = &rest[..end];
                        let neg = name.starts_with('^');
                        if neg {
                            name = &name[1..];
                        }
                        let known = [
                            "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower",
                            "print", "punct", "space", "upper", "word", "xdigit",
                        ];
                        match known.iter().find(|k| **k == name) {
                            Some(k) => {
                                cl.items.push(ClassItem::Posix(k, neg));
                                self.pos += 2 + end + 2;
                                continue;
                            }
                            None => return Err(RegexError::Invalid),
                        }
                    }
                }
                return unsupported("nested character classes");
            }
            if (c == '&' || c == '-' || c == '~') && self.c.get(self.pos + 1) == Some(&c) {
                return unsupported("character class set operations");
            }
            self.pos += 1;
            let lo = if c == '\\' {
                match self.escape(flags, true)? {
                    Escape::Char(ch) => ch,
                    Escape::Perl(p, neg) => {
                        cl.items.push(ClassItem::Perl(p, neg));
                        continue;
                    }
                    Escape::Look(_) => return Err(RegexError::Invalid),
                }
            } else {
                c
            };
            // A range?
            if self.peek() == Some('-') && self.c.get(self.pos + 1).is_some_and(|&n| n != ']') {
                self.pos += 1;
                let h = self.peek().ok_or(RegexError::Invalid)?;
                self.pos += 1;
                let hi = if h == '\\' {
                    match self.escape(flags, true)? {
                        Escape::Char(ch) => ch,
                        _ => return Err(RegexError::Invalid),
                    }
                } else if h == '[' {
                    return unsupported("nested character classes");
                } else {
                    h
                };
                if hi < lo {
                    return Err(RegexError::Invalid);
                }
                cl.items.push(ClassItem::Range(lo, hi));
            } else {
                cl.items.push(ClassItem::Range(lo, lo));
            }
        }
        Ok(cl)
    }
}

enum Escape {
    Char(char),
    Perl(Perl, bool),
    Look(Look),
}

impl Escape {
    fn into_node(self, flags: &Flags) -> Node {
        match self {
            Escape::Char(c) => Node::Char(c, flags.i),
            Escape::Perl(p, neg) => Node::Class(Box::new(Class {
                items: vec![ClassItem::Perl(p, neg)],
                negated: false,
                ci: false,
            })),
            Escape::Look(l) => Node::Look(l),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        Regex::new(p)
            .unwrap()
            .is_match(s, &mut u64::MAX.clone())
            .unwrap()
    }

    #[test]
    fn matches_like_the_regex_crate() {
        assert!(m("foo", "barefoots"));
        assert!(!m("^foo$", "barefoots"));
        assert!(m("(?i)usb", "USB-C"));
        assert!(!m("usb", "USB-C"));
        assert!(m("^a(b|c)*d$", "abcbcd"));
        assert!(!m("^a(b|c)*d$", "abxd"));
        assert!(m("^\\d{3}-\\d{2,}$", "123-4567"));
        assert!(!m("^\\d{3}-\\d{2,}$", "123-4"));
        assert!(m("[^a-c]", "abcd"));
        assert!(!m("^[a-c]+$", "abcd"));
        assert!(m("\\bcat\\b", "a cat!"));
        assert!(!m("\\bcat\\b", "concat"));
        assert!(m("(?m)^b$", "a\nb\nc"));
        assert!(!m("^b$", "a\nb\nc"));
        assert!(m("a.c", "abc"));
        assert!(!m("a.c", "a\nc"));
        assert!(m("(?s)a.c", "a\nc"));
        assert!(m("[[:digit:]]+x", "12x"));
        assert!(m("(?x) a b # comment", "ab"));
        assert!(m("", "anything"));
        assert!(m("x*", ""));
        assert!(m("\\x41\\u{263A}", "A☺"));
        assert!(m("^(?:a|ab)(?:c|bcd)(?:d*)$", "abcd"));
    }

    #[test]
    fn invalid_and_unsupported() {
        for p in [
            "(", ")", "a{2,1}", "*a", "(?=a)", "\\1", "[a", "a{", "(?P=x)",
        ] {
            assert_eq!(Regex::new(p).unwrap_err(), RegexError::Invalid, "{p}");
        }
        for p in ["\\p{L}", "[a&&b]", "\\b{start}", "(?-u)a"] {
            assert!(
                matches!(Regex::new(p), Err(RegexError::Unsupported(_))),
                "{p}"
            );
        }
    }

    #[test]
    fn linear_time() {
        let re = Regex::new("(a*)*b").unwrap();
        let s = "a".repeat(10_000);
        let mut budget = u64::MAX;
        assert_eq!(re.is_match(&s, &mut budget), Some(false));
        let mut small = 1000;
        assert_eq!(re.is_match(&s, &mut small), None);
    }
}
