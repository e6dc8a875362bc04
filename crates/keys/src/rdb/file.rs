//! The pieces of an RDB *file* that a client-side tool needs around the values
//! [`super::decode`] reads: finding where an object ends without decoding it
//! ([`Cursor::skip_object`]), reading the strings between objects (key names, AUX fields,
//! function code), and writing lengths and strings.
//!
//! A [`Cursor`] works on the bytes it is given and says [`Walk::Incomplete`] when they end
//! before the thing being read does, so a reader can fetch more of the file and try
//! again from the same place (the way the `resp` parser returns "need more bytes"). It
//! never allocates by a declared length: a string is copied only once all its bytes are
//! there, and an LZF string's output grows with what its input really produces.

use super::lzf;

/// Object types of RDB version 11 (Redis 7.2), walked so a caller can name them, but
/// neither [`super::decode`] nor Redis 7.0 loads them.
pub const TYPE_SET_LISTPACK: u8 = 20;
pub const TYPE_STREAM_LISTPACKS_3: u8 = 21;

// Module value opcodes (rdbLoadCheckModuleValue).
const MODULE_EOF: u64 = 0;
const MODULE_SINT: u64 = 1;
const MODULE_UINT: u64 = 2;
const MODULE_FLOAT: u64 = 3;
const MODULE_DOUBLE: u64 = 4;
const MODULE_STRING: u64 = 5;

/// Why a walk stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Walk {
    /// The bytes ended first: give more and start again.
    Incomplete,
    /// Not a valid encoding, found at byte `at` of the cursor's slice.
    Bad { at: usize, what: &'static str },
}

/// A read position over a slice of an RDB file.
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Cursor<'a> {
        Cursor { buf, pos: 0 }
    }

    /// Bytes read so far.
    pub fn pos(&self) -> usize {
        self.pos
    }

    fn bad(&self, at: usize, what: &'static str) -> Walk {
        Walk::Bad { at, what }
    }

    pub fn take(&mut self, n: u64) -> Result<&'a [u8], Walk> {
        let left = (self.buf.len() - self.pos) as u64;
        if n > left {
            return Err(Walk::Incomplete);
        }
        let s = &self.buf[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    pub fn byte(&mut self) -> Result<u8, Walk> {
        Ok(self.take(1)?[0])
    }

    /// An 8-byte little-endian millisecond time (EXPIRETIME_MS, stream PEL times).
    pub fn u64_le(&mut self) -> Result<u64, Walk> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// A 4-byte little-endian value (the old EXPIRETIME opcode's seconds).
    pub fn u32_le(&mut self) -> Result<u32, Walk> {
        let b = self.take(4)?;
        let mut a = [0u8; 4];
        a.copy_from_slice(b);
        Ok(u32::from_le_bytes(a))
    }

    /// rdbLoadLenByRef: `(length, false)`, or `(encoding, true)` for a string's special
    /// encodings (0 int8, 1 int16, 2 int32, 3 LZF).
    fn len_or_enc(&mut self) -> Result<(u64, bool), Walk> {
        let at = self.pos;
        let b = self.byte()?;
        Ok(match b >> 6 {
            0 => ((b & 0x3f) as u64, false),
            1 => ((((b & 0x3f) as u64) << 8) | self.byte()? as u64, false),
            2 => match b {
                0x80 => {
                    let s = self.take(4)?;
                    (u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as u64, false)
                }
                0x81 => {
                    let s = self.take(8)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(s);
                    (u64::from_be_bytes(a), false)
                }
                _ => return Err(self.bad(at, "length")),
            },
            _ => ((b & 0x3f) as u64, true),
        })
    }

    /// rdbLoadLen: a plain length.
    pub fn len(&mut self) -> Result<u64, Walk> {
        let at = self.pos;
        match self.len_or_enc()? {
            (n, false) => Ok(n),
            (_, true) => Err(self.bad(at, "length (found a string encoding)")),
        }
    }

    /// Steps over one string, returning where its bytes are and how they are stored.
    fn string_raw(&mut self) -> Result<StringRef<'a>, Walk> {
        let at = self.pos;
        match self.len_or_enc()? {
            (n, false) => Ok(StringRef::Plain(self.take(n)?)),
            (0, true) => Ok(StringRef::Int(self.byte()? as i8 as i64)),
            (1, true) => {
                let s = self.take(2)?;
                Ok(StringRef::Int(i16::from_le_bytes([s[0], s[1]]) as i64))
            }
            (2, true) => {
                let s = self.take(4)?;
                Ok(StringRef::Int(
                    i32::from_le_bytes([s[0], s[1], s[2], s[3]]) as i64
                ))
            }
            (3, true) => {
                let clen = self.len()?;
                let len = self.len()?;
                let comp = self.take(clen)?;
                if len == 0 {
                    return Err(self.bad(at, "LZF string of length 0"));
                }
                Ok(StringRef::Lzf { comp, len, at })
            }
            _ => Err(self.bad(at, "string encoding")),
        }
    }

    /// Steps over one string of any encoding.
    pub fn skip_string(&mut self) -> Result<(), Walk> {
        self.string_raw().map(|_| ())
    }

    /// Reads one string of any encoding (integers as their decimal text, LZF expanded).
    pub fn string(&mut self) -> Result<Vec<u8>, Walk> {
        match self.string_raw()? {
            StringRef::Plain(s) => Ok(s.to_vec()),
            StringRef::Int(v) => Ok(v.to_string().into_bytes()),
            StringRef::Lzf { comp, len, at } => usize::try_from(len)
                .ok()
                .and_then(|len| lzf::decompress(comp, len))
                .ok_or(Walk::Bad {
                    at,
                    what: "LZF string",
                }),
        }
    }

    /// Steps over the object of type `ty` (the byte before it, already read), as
    /// redis-server reads it, without decoding it. Listpack, ziplist and intset blobs
    /// are taken as the strings they are stored in; what is inside them is for the
    /// loader to check.
    pub fn skip_object(&mut self, ty: u8) -> Result<(), Walk> {
        use super::*;
        let at = self.pos.saturating_sub(1);
        match ty {
            TYPE_STRING => self.skip_string(),
            TYPE_LIST | TYPE_SET | TYPE_LIST_QUICKLIST => {
                for _ in 0..self.len()? {
                    self.skip_string()?;
                }
                Ok(())
            }
            TYPE_ZSET => {
                for _ in 0..self.len()? {
                    self.skip_string()?;
                    // rdbLoadDoubleValue: a length byte, 253..255 for nan/inf/-inf.
                    let n = self.byte()?;
                    if n < 253 {
                        self.take(n as u64)?;
                    }
                }
                Ok(())
            }
            TYPE_ZSET_2 => {
                for _ in 0..self.len()? {
                    self.skip_string()?;
                    self.take(8)?;
                }
                Ok(())
            }
            TYPE_HASH => {
                for _ in 0..self.len()? {
                    self.skip_string()?;
                    self.skip_string()?;
                }
                Ok(())
            }
            TYPE_HASH_ZIPMAP | TYPE_LIST_ZIPLIST | TYPE_SET_INTSET | TYPE_ZSET_ZIPLIST
            | TYPE_HASH_ZIPLIST | TYPE_HASH_LISTPACK | TYPE_ZSET_LISTPACK | TYPE_SET_LISTPACK => {
                self.skip_string()
            }
            TYPE_LIST_QUICKLIST_2 => {
                for _ in 0..self.len()? {
                    let c = self.pos;
                    let container = self.len()?;
                    if container != 1 && container != 2 {
                        return Err(self.bad(c, "quicklist node container"));
                    }
                    self.skip_string()?;
                }
                Ok(())
            }
            TYPE_STREAM_LISTPACKS | TYPE_STREAM_LISTPACKS_2 | TYPE_STREAM_LISTPACKS_3 => {
                self.skip_stream(ty)
            }
            TYPE_MODULE_2 => {
                self.len()?; // module id
                self.skip_module_value()
            }
            _ => Err(self.bad(at, "object type")),
        }
    }

    /// The opcodes of a module value, up to its EOF opcode.
    pub fn skip_module_value(&mut self) -> Result<(), Walk> {
        loop {
            let at = self.pos;
            match self.len()? {
                MODULE_EOF => return Ok(()),
                MODULE_SINT | MODULE_UINT => {
                    self.len()?;
                }
                MODULE_FLOAT => {
                    self.take(4)?;
                }
                MODULE_DOUBLE => {
                    self.take(8)?;
                }
                MODULE_STRING => self.skip_string()?,
                _ => return Err(self.bad(at, "module value opcode")),
            }
        }
    }

    fn skip_stream(&mut self, ty: u8) -> Result<(), Walk> {
        use super::TYPE_STREAM_LISTPACKS;
        let v2 = ty != TYPE_STREAM_LISTPACKS;
        let v3 = ty == TYPE_STREAM_LISTPACKS_3;
        for _ in 0..self.len()? {
            self.skip_string()?; // master id
            self.skip_string()?; // listpack
        }
        // length, last id
        for _ in 0..3 {
            self.len()?;
        }
        if v2 {
            // first id, max deleted id, entries added
            for _ in 0..5 {
                self.len()?;
            }
        }
        for _ in 0..self.len()? {
            self.skip_string()?; // group name
            self.len()?;
            self.len()?; // last delivered id
            if v2 {
                self.len()?; // entries read
            }
            for _ in 0..self.len()? {
                self.take(16)?; // id
                self.take(8)?; // delivery time
                self.len()?; // delivery count
            }
            for _ in 0..self.len()? {
                self.skip_string()?; // consumer name
                self.take(8)?; // seen time
                if v3 {
                    self.take(8)?; // active time
                }
                for _ in 0..self.len()? {
                    self.take(16)?;
                }
            }
        }
        Ok(())
    }
}

enum StringRef<'a> {
    Plain(&'a [u8]),
    Int(i64),
    Lzf { comp: &'a [u8], len: u64, at: usize },
}

/// rdbSaveLen.
pub fn write_len(out: &mut Vec<u8>, n: u64) {
    super::put_len(out, n)
}

/// rdbSaveRawString without compression.
pub fn write_string(out: &mut Vec<u8>, s: &[u8]) {
    super::put_string(out, s)
}

/// The 9-character name in a module type id (moduleTypeNameByID) and its encoding
/// version.
pub fn module_name(id: u64) -> (String, u64) {
    const CSET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut name = String::new();
    for j in 0..9 {
        let c = (id >> (10 + (8 - j) * 6)) & 63;
        name.push(CSET[c as usize] as char);
    }
    (name, id & 1023)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rdb::{encode, Value, REJSON_MODULE_ID};

    /// Every object [`encode`] writes is walked to its exact end; every shorter prefix is
    /// incomplete.
    #[test]
    fn walks_what_encode_writes() {
        let big: Vec<Vec<u8>> = (0..3000).map(|i| format!("e{i}").into_bytes()).collect();
        let values = vec![
            Value::String(b"hello".to_vec()),
            Value::String(b"12345".to_vec()),
            Value::String(vec![b'x'; 20_000]),
            Value::List(big.clone()),
            Value::Set(vec![b"1".to_vec(), b"2".to_vec()]),
            Value::Set(big.clone()),
            Value::Hash(vec![(b"f".to_vec(), vec![b'v'; 100])]),
            Value::ZSet(vec![(b"a".to_vec(), 1.5)]),
            Value::ZSet(
                (0..200)
                    .map(|i| (format!("m{i}").into_bytes(), i as f64))
                    .collect(),
            ),
            Value::Json(b"{\"a\":1}".to_vec()),
        ];
        for v in values {
            let p = encode(&v);
            let obj = &p[1..p.len() - 10];
            let mut c = Cursor::new(obj);
            assert_eq!(c.skip_object(p[0]), Ok(()), "{v:?}");
            assert_eq!(c.pos(), obj.len(), "{v:?}");
            for cut in [0, 1, obj.len() / 2, obj.len() - 1] {
                let mut c = Cursor::new(&obj[..cut]);
                assert_eq!(
                    c.skip_object(p[0]),
                    Err(Walk::Incomplete),
                    "{v:?} cut {cut}"
                );
            }
        }
    }

    #[test]
    fn strings_and_lengths() {
        for s in [&b""[..], b"7", b"-300", b"100000", b"abc", &[9u8; 500]] {
            let mut out = Vec::new();
            write_string(&mut out, s);
            let mut c = Cursor::new(&out);
            assert_eq!(c.string().as_deref(), Ok(s));
            assert_eq!(c.pos(), out.len());
        }
        // An LZF string: "aaaaaaaaaa" as a 1-byte literal, then a back reference
        // copying 9 bytes from distance 1.
        let lzf = [0xc3, 5, 10, 0x00, b'a', 0xe0, 0x00, 0x00];
        let mut c = Cursor::new(&lzf);
        assert_eq!(c.string(), Ok(vec![b'a'; 10]));
        assert_eq!(c.pos(), lzf.len());
        let mut c = Cursor::new(&lzf[..6]);
        assert_eq!(c.string(), Err(Walk::Incomplete));
        let mut bad = lzf;
        bad[2] = 11; // expands to 10 bytes, not 11
        assert!(matches!(
            Cursor::new(&bad).string(),
            Err(Walk::Bad { at: 0, .. })
        ));
        let mut c = Cursor::new(&[0x82]);
        assert!(matches!(c.len(), Err(Walk::Bad { at: 0, .. })));
        let mut c = Cursor::new(&[0x80, 0, 0]);
        assert_eq!(c.len(), Err(Walk::Incomplete));
        let mut c = Cursor::new(&[TYPE_SET_LISTPACK]);
        assert!(matches!(c.skip_object(6), Err(Walk::Bad { .. })));
    }

    #[test]
    fn module_names() {
        assert_eq!(module_name(REJSON_MODULE_ID), ("ReJSON-RL".to_string(), 3));
    }
}
