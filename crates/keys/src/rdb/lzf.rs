//! LZF decompression (the format of Redis's `lzf_d.c`), for LZF-compressed strings in
//! RDB payloads. Never reads or writes out of bounds: a malformed input is `None`.

/// Decompresses `input` into exactly `expected` bytes; `None` if the input is not a
/// valid LZF stream of that length. The output grows with what the input really
/// produces (no allocation is sized by the declared length beyond a small multiple
/// of the input).
pub fn decompress(input: &[u8], expected: usize) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::with_capacity(expected.min(input.len().saturating_mul(4) + 64));
    let mut i = 0;
    while i < input.len() {
        let ctrl = input[i] as usize;
        i += 1;
        if ctrl < 32 {
            // A literal run of ctrl + 1 bytes.
            let n = ctrl + 1;
            let lit = input.get(i..i + n)?;
            if out.len() + n > expected {
                return None;
            }
            out.extend_from_slice(lit);
            i += n;
        } else {
            // A back reference.
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(i)? as usize;
                i += 1;
            }
            let off = ((ctrl & 0x1f) << 8) + *input.get(i)? as usize + 1;
            i += 1;
            let len = len + 2;
            if off > out.len() || out.len() + len > expected {
                return None;
            }
            let start = out.len() - off;
            // Overlapping copies repeat the pattern, byte by byte.
            for k in 0..len {
                let b = out[start + k];
                out.push(b);
            }
        }
    }
    (out.len() == expected).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::decompress;

    #[test]
    fn literal_and_backref() {
        // "abcabcabc": literal "abc" then a back reference of 6 at offset 3.
        let input = [2, b'a', b'b', b'c', (4 << 5), 2];
        assert_eq!(decompress(&input, 9).unwrap(), b"abcabcabc");
        assert!(decompress(&input, 8).is_none());
        assert!(decompress(&input, 10).is_none());
        assert!(decompress(&[0x20, 5], 3).is_none()); // reference before the start
        assert!(decompress(&[5, b'a'], 6).is_none()); // truncated literal
    }
}
