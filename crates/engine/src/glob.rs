//! Redis's glob matching (stringmatchlen): `*`, `?`, `[...]` with `^` and ranges, `\` escapes.
//!
//! Every pattern element other than `*` matches exactly one byte, so a match never needs
//! more than one backtracking point: when the element after the last `*` fails, that `*`
//! takes one more byte and the rest is tried again from there. Earlier stars never need
//! to be revisited (a later star can absorb whatever a longer earlier match would have
//! shifted). That makes a match O(pattern × subject) in the worst case, whatever the number
//! of stars — the recursive matcher this replaces was exponential in the stars, and one
//! `KEYS a*a*a*...b` could hold a core for minutes.

pub fn glob_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    // Position in the pattern and the subject; where to resume after the last star.
    let (mut p, mut i) = (0usize, 0usize);
    let mut resume: Option<(usize, usize)> = None;
    loop {
        if p < pattern.len() {
            if pattern[p] == b'*' {
                while p < pattern.len() && pattern[p] == b'*' {
                    p += 1;
                }
                if p == pattern.len() {
                    return true;
                }
                resume = Some((p, i));
                continue;
            }
            if i < s.len() {
                if let Some(next) = one(pattern, p, s[i], nocase) {
                    p = next;
                    i += 1;
                    continue;
                }
            }
        } else if i == s.len() {
            return true;
        }
        // Mismatch (or pattern exhausted early): the last star takes one more byte.
        match resume {
            Some((rp, ri)) if ri < s.len() => {
                resume = Some((rp, ri + 1));
                p = rp;
                i = ri + 1;
            }
            _ => return false,
        }
    }
}

fn eq(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

/// Matches the single-byte element at `pattern[p]` (anything but `*`) against `c`:
/// the position after the element if it matches.
fn one(pattern: &[u8], p: usize, c: u8, nocase: bool) -> Option<usize> {
    match pattern[p] {
        b'?' => Some(p + 1),
        b'[' => class(pattern, p + 1, c, nocase),
        b'\\' if p + 1 < pattern.len() => eq(pattern[p + 1], c, nocase).then_some(p + 2),
        lit => eq(lit, c, nocase).then_some(p + 1),
    }
}

/// A `[...]` class starting after its `[`. As in Redis, an unterminated class ends at the
/// end of the pattern (so nothing can follow it), `\` escapes inside it, and a range may
/// be written backwards (`[z-a]`).
fn class(pattern: &[u8], mut p: usize, c: u8, nocase: bool) -> Option<usize> {
    let not = pattern.get(p) == Some(&b'^');
    if not {
        p += 1;
    }
    let mut matched = false;
    while p < pattern.len() {
        if pattern[p] == b'\\' && p + 1 < pattern.len() {
            p += 1;
            matched |= eq(pattern[p], c, nocase);
        } else if pattern[p] == b']' {
            break;
        } else if p + 2 < pattern.len() && pattern[p + 1] == b'-' {
            let (mut lo, mut hi) = (pattern[p], pattern[p + 2]);
            if lo > hi {
                std::mem::swap(&mut lo, &mut hi);
            }
            matched |= if nocase {
                let cl = c.to_ascii_lowercase();
                cl >= lo.to_ascii_lowercase() && cl <= hi.to_ascii_lowercase()
            } else {
                c >= lo && c <= hi
            };
            p += 2;
        } else {
            matched |= eq(pattern[p], c, nocase);
        }
        p += 1;
    }
    // `p` is at the closing `]` (skip it) or at the end of the pattern.
    (matched != not).then_some((p + 1).min(pattern.len()))
}

#[cfg(test)]
mod tests {
    use super::glob_match;
    use proptest::prelude::*;

    #[test]
    fn redis_glob_cases() {
        let m = |p: &str, s: &str| glob_match(p.as_bytes(), s.as_bytes(), false);
        assert!(m("*", "anything"));
        assert!(m("*", ""));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(!m("h[a-b]llo", "hcllo"));
        assert!(m("h[b-a]llo", "hallo"));
        assert!(m("h\\*llo", "h*llo"));
        assert!(!m("h\\*llo", "hello"));
        assert!(m("user:*:name", "user:42:name"));
        assert!(!m("user:*:name", "user:42:age"));
        assert!(glob_match(b"HELLO", b"hello", true));
        assert!(glob_match(b"[A-C]x", b"bx", true));
        assert!(!m("a", ""));
        assert!(m("", ""));
        assert!(!m("", "a"));
        // Unterminated classes run to the end of the pattern; a trailing backslash is
        // a literal backslash.
        assert!(m("a[bc", "ab"));
        assert!(!m("a[bc", "abx"));
        assert!(m("a\\", "a\\"));
        assert!(m("*a*b*c", "xxaxxbxxc"));
        assert!(!m("*a*b*c", "xxaxxcxxb"));
    }

    #[test]
    fn many_stars_answer_at_once() {
        // The recursive matcher took > 20 s on 12 stars; this must be instant even for
        // 20 stars over a long subject (asserted by the test finishing, not by a timer).
        let pattern = format!("{}b", "a*".repeat(20));
        let subject = "a".repeat(4000);
        assert!(!glob_match(pattern.as_bytes(), subject.as_bytes(), false));
        let subject = format!("{}b", "a".repeat(4000));
        assert!(glob_match(pattern.as_bytes(), subject.as_bytes(), false));
        let pattern = "*?".repeat(200);
        assert!(!glob_match(pattern.as_bytes(), &[b'x'; 199], false));
        assert!(glob_match(pattern.as_bytes(), &[b'x'; 200], false));
    }

    /// Redis's stringmatchlen, written the obvious recursive way (exponential, fine for
    /// the short inputs below): the reference the fast matcher must agree with.
    fn reference(p: &[u8], s: &[u8], nocase: bool) -> bool {
        let eq = |a: u8, b: u8| {
            if nocase {
                a.eq_ignore_ascii_case(&b)
            } else {
                a == b
            }
        };
        if p.is_empty() {
            return s.is_empty();
        }
        match p[0] {
            b'*' => (0..=s.len()).any(|k| reference(&p[1..], &s[k..], nocase)),
            _ if s.is_empty() => false,
            b'?' => reference(&p[1..], &s[1..], nocase),
            b'\\' if p.len() >= 2 => eq(p[1], s[0]) && reference(&p[2..], &s[1..], nocase),
            b'[' => {
                let mut q = 1;
                let not = p.get(q) == Some(&b'^');
                if not {
                    q += 1;
                }
                let mut hit = false;
                let mut closed = false;
                while q < p.len() {
                    if p[q] == b'\\' && q + 1 < p.len() {
                        hit |= eq(p[q + 1], s[0]);
                        q += 2;
                    } else if p[q] == b']' {
                        closed = true;
                        break;
                    } else if q + 2 < p.len() && p[q + 1] == b'-' {
                        let (lo, hi) = (p[q].min(p[q + 2]), p[q].max(p[q + 2]));
                        let c = s[0];
                        hit |= if nocase {
                            let cl = c.to_ascii_lowercase();
                            cl >= lo.to_ascii_lowercase() && cl <= hi.to_ascii_lowercase()
                        } else {
                            c >= lo && c <= hi
                        };
                        q += 3;
                    } else {
                        hit |= eq(p[q], s[0]);
                        q += 1;
                    }
                }
                if hit == not {
                    return false;
                }
                let rest = if closed { &p[q + 1..] } else { &p[p.len()..] };
                reference(rest, &s[1..], nocase)
            }
            c => eq(c, s[0]) && reference(&p[1..], &s[1..], nocase),
        }
    }

    fn pattern_strategy() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop::sample::select(vec![
                b'*', b'*', b'?', b'[', b']', b'^', b'-', b'\\', b'a', b'b', b'A', b'c',
            ]),
            0..10,
        )
    }

    fn subject_strategy() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            prop::sample::select(vec![b'a', b'b', b'B', b'c', b'-', b'*', b'\\', b']']),
            0..10,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        #[test]
        fn agrees_with_the_reference(p in pattern_strategy(), s in subject_strategy(), nocase in any::<bool>()) {
            prop_assert_eq!(glob_match(&p, &s, nocase), reference(&p, &s, nocase),
                "pattern {:?} subject {:?}", String::from_utf8_lossy(&p), String::from_utf8_lossy(&s));
        }
    }
}
