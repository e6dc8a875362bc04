//! Redis's listpack (and, for reading old payloads, ziplist, intset and zipmap) blobs:
//! a strict reader that validates every length against the blob, and a writer that
//! encodes elements exactly as `listpack.c` does (integer-looking strings become
//! integers, the smallest encoding wins, each element followed by its back-length).

/// One element of a listpack or ziplist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl Item<'_> {
    /// The element as Redis hands it out: integers in decimal.
    pub fn to_bytes(self) -> Vec<u8> {
        match self {
            Item::Int(v) => v.to_string().into_bytes(),
            Item::Str(s) => s.to_vec(),
        }
    }
}

/// Redis's `string2ll`: the integer a string is the canonical decimal form of (no
/// sign but `-`, no leading zeros, no spaces, at most 20 characters).
pub fn string_to_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    if digits.is_empty() || !(b'1'..=b'9').contains(&digits[0]) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

// ---- listpack: writing ------------------------------------------------------------------

const LP_HEADER: usize = 6;
const LP_EOF: u8 = 0xff;

/// A listpack being built.
pub struct Writer {
    buf: Vec<u8>,
    count: u64,
}

impl Default for Writer {
    fn default() -> Self {
        Writer::new()
    }
}

fn backlen(l: usize, out: &mut Vec<u8>) {
    let l = l as u64;
    if l <= 127 {
        out.push(l as u8);
    } else if l < 16383 {
        out.push((l >> 7) as u8);
        out.push((l & 127) as u8 | 128);
    } else if l < 2_097_151 {
        out.push((l >> 14) as u8);
        out.push(((l >> 7) & 127) as u8 | 128);
        out.push((l & 127) as u8 | 128);
    } else if l < 268_435_455 {
        out.push((l >> 21) as u8);
        out.push(((l >> 14) & 127) as u8 | 128);
        out.push(((l >> 7) & 127) as u8 | 128);
        out.push((l & 127) as u8 | 128);
    } else {
        out.push((l >> 28) as u8);
        out.push(((l >> 21) & 127) as u8 | 128);
        out.push(((l >> 14) & 127) as u8 | 128);
        out.push(((l >> 7) & 127) as u8 | 128);
        out.push((l & 127) as u8 | 128);
    }
}

/// Bytes a listpack element holding `s` takes (encoding, data and back-length).
pub fn element_len(s: &[u8]) -> usize {
    let mut tmp = Vec::new();
    encode_str(s, &mut tmp);
    tmp.len()
}

fn encode_int(v: i64, out: &mut Vec<u8>) {
    let start = out.len();
    if (0..=127).contains(&v) {
        out.push(v as u8);
    } else if (-4096..=4095).contains(&v) {
        let u = if v < 0 { (1i64 << 13) + v } else { v } as u16;
        out.push((u >> 8) as u8 | 0xc0);
        out.push((u & 0xff) as u8);
    } else if (-32768..=32767).contains(&v) {
        out.push(0xf1);
        out.extend_from_slice(&(v as i16).to_le_bytes());
    } else if (-8_388_608..=8_388_607).contains(&v) {
        out.push(0xf2);
        out.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
    } else if (i32::MIN as i64..=i32::MAX as i64).contains(&v) {
        out.push(0xf3);
        out.extend_from_slice(&(v as i32).to_le_bytes());
    } else {
        out.push(0xf4);
        out.extend_from_slice(&v.to_le_bytes());
    }
    let l = out.len() - start;
    backlen(l, out);
}

fn encode_str(s: &[u8], out: &mut Vec<u8>) {
    if let Some(v) = string_to_i64(s) {
        return encode_int(v, out);
    }
    let start = out.len();
    let n = s.len();
    if n < 64 {
        out.push(0x80 | n as u8);
    } else if n < 4096 {
        out.push(0xe0 | (n >> 8) as u8);
        out.push((n & 0xff) as u8);
    } else {
        out.push(0xf0);
        out.extend_from_slice(&(n as u32).to_le_bytes());
    }
    out.extend_from_slice(s);
    let l = out.len() - start;
    backlen(l, out);
}

impl Writer {
    pub fn new() -> Writer {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0; LP_HEADER]);
        Writer { buf, count: 0 }
    }

    /// lpAppend: a string (stored as an integer when it is one).
    pub fn push_str(&mut self, s: &[u8]) {
        encode_str(s, &mut self.buf);
        self.count += 1;
    }

    /// lpAppendInteger.
    pub fn push_int(&mut self, v: i64) {
        encode_int(v, &mut self.buf);
        self.count += 1;
    }

    /// The listpack's size once finished.
    pub fn bytes(&self) -> usize {
        self.buf.len() + 1
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(LP_EOF);
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        let n = if self.count < 65535 {
            self.count as u16
        } else {
            65535
        };
        self.buf[4..6].copy_from_slice(&n.to_le_bytes());
        self.buf
    }
}

// ---- listpack: reading ------------------------------------------------------------------

/// Every element of listpack `lp`, validating the whole blob (header, each element's
/// encoding and back-length, the element count, the end byte). None if invalid.
pub fn read(lp: &[u8]) -> Option<Vec<Item<'_>>> {
    if lp.len() < LP_HEADER + 1 {
        return None;
    }
    let total = u32::from_le_bytes(lp[0..4].try_into().ok()?) as usize;
    let declared = u16::from_le_bytes(lp[4..6].try_into().ok()?);
    if total != lp.len() || lp[lp.len() - 1] != LP_EOF {
        return None;
    }
    let end = lp.len() - 1;
    let mut p = LP_HEADER;
    let mut out = Vec::new();
    while p < end {
        let start = p;
        let b = lp[p];
        let item = if b & 0x80 == 0 {
            p += 1;
            Item::Int(b as i64)
        } else if b & 0xc0 == 0x80 {
            let n = (b & 0x3f) as usize;
            let s = lp.get(p + 1..p + 1 + n)?;
            p += 1 + n;
            Item::Str(s)
        } else if b & 0xe0 == 0xc0 {
            let lo = *lp.get(p + 1)? as i64;
            let u = (((b & 0x1f) as i64) << 8) | lo;
            p += 2;
            Item::Int(if u >= 1 << 12 { u - (1 << 13) } else { u })
        } else if b & 0xf0 == 0xe0 {
            let n = (((b & 0x0f) as usize) << 8) | *lp.get(p + 1)? as usize;
            let s = lp.get(p + 2..p.checked_add(2 + n)?)?;
            p += 2 + n;
            Item::Str(s)
        } else {
            match b {
                0xf0 => {
                    let n = u32::from_le_bytes(lp.get(p + 1..p + 5)?.try_into().ok()?) as usize;
                    let s = lp.get(p + 5..(p + 5).checked_add(n)?)?;
                    p += 5 + n;
                    Item::Str(s)
                }
                0xf1 => {
                    let v = i16::from_le_bytes(lp.get(p + 1..p + 3)?.try_into().ok()?);
                    p += 3;
                    Item::Int(v as i64)
                }
                0xf2 => {
                    let r = lp.get(p + 1..p + 4)?;
                    let v =
                        ((r[0] as i32) | ((r[1] as i32) << 8) | ((r[2] as i32) << 16)) << 8 >> 8;
                    p += 4;
                    Item::Int(v as i64)
                }
                0xf3 => {
                    let v = i32::from_le_bytes(lp.get(p + 1..p + 5)?.try_into().ok()?);
                    p += 5;
                    Item::Int(v as i64)
                }
                0xf4 => {
                    let v = i64::from_le_bytes(lp.get(p + 1..p + 9)?.try_into().ok()?);
                    p += 9;
                    Item::Int(v)
                }
                _ => return None,
            }
        };
        // The back-length must encode this element's size.
        let mut bl = Vec::with_capacity(5);
        backlen(p - start, &mut bl);
        if lp.get(p..p + bl.len())? != bl.as_slice() {
            return None;
        }
        p += bl.len();
        if p > end {
            return None;
        }
        out.push(item);
    }
    if p != end {
        return None;
    }
    if declared != 65535 && declared as usize != out.len() {
        return None;
    }
    Some(out)
}

// ---- ziplist (read only) ------------------------------------------------------------------

/// Every element of ziplist `zl` (the encoding of RDB types before Redis 7), validating
/// the header (total bytes, tail offset, count), each entry's previous-length and
/// encoding, and the end byte. None if invalid.
pub fn read_ziplist(zl: &[u8]) -> Option<Vec<Item<'_>>> {
    const HEADER: usize = 10;
    if zl.len() < HEADER + 1 {
        return None;
    }
    let total = u32::from_le_bytes(zl[0..4].try_into().ok()?) as usize;
    let tail = u32::from_le_bytes(zl[4..8].try_into().ok()?) as usize;
    let declared = u16::from_le_bytes(zl[8..10].try_into().ok()?);
    if total != zl.len() || zl[zl.len() - 1] != 0xff {
        return None;
    }
    let end = zl.len() - 1;
    let mut p = HEADER;
    let mut prev_len = 0usize;
    let mut last_start = HEADER;
    let mut out = Vec::new();
    while p < end {
        let start = p;
        // prevlen
        let pl = if zl[p] < 254 {
            p += 1;
            zl[p - 1] as usize
        } else if zl[p] == 254 {
            let v = u32::from_le_bytes(zl.get(p + 1..p + 5)?.try_into().ok()?) as usize;
            p += 5;
            v
        } else {
            return None;
        };
        if pl != prev_len {
            return None;
        }
        let b = *zl.get(p)?;
        let item = match b >> 6 {
            0 => {
                let n = (b & 0x3f) as usize;
                let s = zl.get(p + 1..p + 1 + n)?;
                p += 1 + n;
                Item::Str(s)
            }
            1 => {
                let n = (((b & 0x3f) as usize) << 8) | *zl.get(p + 1)? as usize;
                let s = zl.get(p + 2..(p + 2).checked_add(n)?)?;
                p += 2 + n;
                Item::Str(s)
            }
            2 => {
                if b != 0x80 {
                    return None;
                }
                let n = u32::from_be_bytes(zl.get(p + 1..p + 5)?.try_into().ok()?) as usize;
                let s = zl.get(p + 5..(p + 5).checked_add(n)?)?;
                p += 5 + n;
                Item::Str(s)
            }
            _ => match b {
                0xc0 => {
                    let v = i16::from_le_bytes(zl.get(p + 1..p + 3)?.try_into().ok()?);
                    p += 3;
                    Item::Int(v as i64)
                }
                0xd0 => {
                    let v = i32::from_le_bytes(zl.get(p + 1..p + 5)?.try_into().ok()?);
                    p += 5;
                    Item::Int(v as i64)
                }
                0xe0 => {
                    let v = i64::from_le_bytes(zl.get(p + 1..p + 9)?.try_into().ok()?);
                    p += 9;
                    Item::Int(v)
                }
                0xf0 => {
                    let r = zl.get(p + 1..p + 4)?;
                    let v =
                        ((r[0] as i32) | ((r[1] as i32) << 8) | ((r[2] as i32) << 16)) << 8 >> 8;
                    p += 4;
                    Item::Int(v as i64)
                }
                0xfe => {
                    let v = *zl.get(p + 1)? as i8;
                    p += 2;
                    Item::Int(v as i64)
                }
                0xf1..=0xfd => {
                    p += 1;
                    Item::Int((b & 0x0f) as i64 - 1)
                }
                _ => return None,
            },
        };
        if p > end {
            return None;
        }
        prev_len = p - start;
        last_start = start;
        out.push(item);
    }
    if p != end || tail != last_start {
        return None;
    }
    if declared != 65535 && declared as usize != out.len() {
        return None;
    }
    Some(out)
}

// ---- intset and zipmap (read only) -----------------------------------------------------

/// The members of intset `is` (strictly ascending, as Redis requires). None if invalid.
pub fn read_intset(is: &[u8]) -> Option<Vec<i64>> {
    if is.len() < 8 {
        return None;
    }
    let enc = u32::from_le_bytes(is[0..4].try_into().ok()?) as usize;
    let n = u32::from_le_bytes(is[4..8].try_into().ok()?) as usize;
    if !matches!(enc, 2 | 4 | 8) || (is.len() - 8) != n.checked_mul(enc)? {
        return None;
    }
    let mut out: Vec<i64> = Vec::with_capacity(n);
    for c in is[8..].chunks_exact(enc) {
        let v = match enc {
            2 => i16::from_le_bytes(c.try_into().ok()?) as i64,
            4 => i32::from_le_bytes(c.try_into().ok()?) as i64,
            _ => i64::from_le_bytes(c.try_into().ok()?),
        };
        if out.last().is_some_and(|&l| l >= v) {
            return None;
        }
        out.push(v);
    }
    Some(out)
}

/// The (field, value) pairs of zipmap `zm` (the hash encoding of RDB files from Redis
/// before 2.6). None if invalid.
pub fn read_zipmap(zm: &[u8]) -> Option<Vec<(&[u8], &[u8])>> {
    let mut p = 1; // zmlen
    let mut out = Vec::new();
    let len_at = |p: &mut usize| -> Option<usize> {
        let b = *zm.get(*p)?;
        if b < 254 {
            *p += 1;
            Some(b as usize)
        } else if b == 254 {
            let v = u32::from_le_bytes(zm.get(*p + 1..*p + 5)?.try_into().ok()?) as usize;
            *p += 5;
            Some(v)
        } else {
            None
        }
    };
    if zm.is_empty() {
        return None;
    }
    loop {
        if *zm.get(p)? == 0xff {
            p += 1;
            break;
        }
        let klen = len_at(&mut p)?;
        let k = zm.get(p..p.checked_add(klen)?)?;
        p += klen;
        let vlen = len_at(&mut p)?;
        let free = *zm.get(p)? as usize;
        p += 1;
        let v = zm.get(p..p.checked_add(vlen)?)?;
        p += vlen;
        zm.get(p..p.checked_add(free)?)?;
        p += free;
        out.push((k, v));
    }
    (p == zm.len()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_round_trip() {
        let vals: Vec<&[u8]> = vec![
            b"0",
            b"127",
            b"128",
            b"-1",
            b"-4096",
            b"4095",
            b"4096",
            b"-32768",
            b"40000",
            b"-8388608",
            b"8388608",
            b"2147483647",
            b"2147483648",
            b"-9223372036854775808",
            b"",
            b"abc",
            b"007",
            b"-0",
            b"+1",
            &[b'x'; 63],
            &[b'y'; 64],
            &[b'z'; 4095],
            &[b'w'; 4096],
            &[b'v'; 20000],
        ];
        let mut w = Writer::new();
        for v in &vals {
            w.push_str(v);
        }
        let lp = w.finish();
        let items = read(&lp).unwrap();
        assert_eq!(items.len(), vals.len());
        for (it, v) in items.iter().zip(&vals) {
            assert_eq!(it.to_bytes(), v.to_vec());
        }
        assert!(matches!(items[0], Item::Int(0)));
        assert!(matches!(items[17], Item::Str(b"-0")));
        // Known bytes: lpNew + "a" + 1.
        let mut w = Writer::new();
        w.push_str(b"a");
        w.push_int(1);
        assert_eq!(
            w.finish(),
            vec![12, 0, 0, 0, 2, 0, 0x81, b'a', 2, 1, 1, 0xff]
        );
    }

    #[test]
    fn listpack_rejects_damage() {
        let mut w = Writer::new();
        w.push_str(b"hello");
        w.push_str(b"world");
        let lp = w.finish();
        for i in 0..lp.len() {
            let mut bad = lp.clone();
            bad[i] ^= 0x55;
            let _ = read(&bad); // never panics
        }
        assert!(read(&lp[..lp.len() - 1]).is_none());
    }
}
