//! `lua_decoders`: the decoders of the Lua libraries Meridian implements itself
//! (`cmd/script/cjson.rs`, `cmsgpack.rs`, `structlib.rs`, `bit.rs`; none comes from a
//! crate). They make Lua values and read the run's configuration, so they are called
//! the way a script calls them: one EVAL per input, whose fixed script hands the fuzzed
//! bytes (ARGV) straight to the decoder and then checks the round trips in Lua. A failed
//! check replies an error starting with `FUZZORACLE`, which the target turns into a
//! panic; a decoder's own error (bad input) is an ordinary outcome.

use crate::{Harness, T0};
use engine::{Frame, Txn};

/// `script-max-instructions` for this target: the checks walk the decoded values in Lua
/// (a few hundred thousand instructions for a 4 KB input).
const INSTRUCTIONS: &str = "20000000";

/// Helpers every script starts with. `eq` compares Lua values structurally (NaN equal
/// to NaN; `approx` allows cjson's 14 significant digits); a table used as a key is only
/// counted, since it cannot be looked up in another table, and keys near 0 are skipped
/// (see `near0`).
const PRELUDE: &str = r#"
local function fail(msg) return redis.error_reply('FUZZORACLE ' .. msg) end
local function pack_n(...) return select('#', ...), {...} end
-- A number key below f64::EPSILON reaches Rust through mlua as the integer 0, so it
-- packs as 0 (a known deviation from Redis): such keys, and 0, are left out.
local function near0(k)
  return type(k) == 'number' and math.abs(k) < 2.220446049250313e-16
end
local function eq(a, b, approx)
  if type(a) ~= type(b) then return false end
  if type(a) == 'number' then
    if a ~= a then return b ~= b end
    if a == b then return true end
    return approx and math.abs(a - b) <= math.abs(a) * 1e-13
  end
  if type(a) ~= 'table' then return a == b end
  local n = 0
  for k, v in pairs(a) do
    if not near0(k) then
      n = n + 1
      if type(k) ~= 'table' and not eq(v, rawget(b, k), approx) then return false end
    end
  end
  for k in pairs(b) do
    if not near0(k) then n = n - 1 end
  end
  return n == 0
end
-- Whether a table holds a nonzero key below f64::EPSILON anywhere: Rust cannot iterate
-- it (mlua hands the key over as 0, and `next` then fails with "invalid key to 'next'"),
-- so cmsgpack.pack fails on it where Redis packs it (a known deviation).
local function tiny_key(v)
  if type(v) ~= 'table' then return false end
  for k, x in pairs(v) do
    if (near0(k) and k ~= 0) or tiny_key(k) or tiny_key(x) then return true end
  end
  return false
end
local function depth(v)
  if type(v) ~= 'table' then return 0 end
  local d = 0
  for k, x in pairs(v) do d = math.max(d, depth(k), depth(x)) end
  return d + 1
end
"#;

/// cjson.decode(ARGV[1]) under the configuration in ARGV[2] (decode depth, whether
/// invalid numbers decode). What decodes and encodes must decode again to the same
/// value (up to the 14 digits cjson prints), and the second round trip is exact.
const CJSON: &str = r#"
local s, cfg = ARGV[1], string.byte(ARGV[2])
if cfg % 4 == 1 then cjson.decode_max_depth(1 + math.floor(cfg / 4) % 8) end
if cfg % 4 == 2 then cjson.decode_invalid_numbers(false) end
if cfg % 4 == 3 then cjson.encode_invalid_numbers(true) end
local ok, v = pcall(cjson.decode, s)
if not ok then return 0 end
local ok2, e1 = pcall(cjson.encode, v)
if not ok2 then return 1 end
local ok3, v2 = pcall(cjson.decode, e1)
if not ok3 then return fail('cjson.decode rejects cjson.encode output ' .. e1 .. ': ' .. tostring(v2)) end
if cfg % 4 ~= 3 and not eq(v, v2, true) then return fail('cjson round trip changed the value: ' .. e1) end
local e2 = cjson.encode(v2)
local v3 = cjson.decode(e2)
if not eq(v2, v3, false) then return fail('second cjson round trip is not exact: ' .. e2) end
return 2
"#;

/// cmsgpack.unpack(ARGV[1]): the values must be what unpack_one (or unpack_limit with
/// the limit in ARGV[2]) yields step by step, and pack → unpack must be stable (tables
/// nested past 16 levels pack as nil, so the first round trip is exact only below that).
const CMSGPACK: &str = r#"
local s, limit = ARGV[1], string.byte(ARGV[2]) % 4
local n, r = pack_n(pcall(cmsgpack.unpack, s))
if not r[1] then return 0 end
local count = n - 1
if #s > 0 then
  local off, i = 0, 0
  while true do
    local m, step
    if limit == 0 then
      m, step = pack_n(cmsgpack.unpack_one(s, off))
    else
      m, step = pack_n(cmsgpack.unpack_limit(s, limit, off))
    end
    for j = 2, m do
      i = i + 1
      if not eq(step[j], r[i + 1], false) then return fail('unpack_one/limit value ' .. i .. ' differs') end
    end
    if step[1] == -1 then break end
    if step[1] <= off then return fail('unpack offset did not advance') end
    off = step[1]
  end
  if i ~= count then return fail('unpack_one/limit found ' .. i .. ' values, unpack ' .. count) end
end
if count == 0 then return 1 end
for j = 2, n do
  if tiny_key(r[j]) then return 3 end
end
local shallow = true
for j = 2, n do
  if depth(r[j]) > 15 then shallow = false end
end
local p = cmsgpack.pack(unpack(r, 2, n))
local n2, r2 = pack_n(pcall(cmsgpack.unpack, p))
-- Deeper tables pack as nil, also as map keys, which then do not unpack (as in Redis).
if not r2[1] and not shallow then return 4 end
if not r2[1] then return fail('cmsgpack.unpack rejects cmsgpack.pack output: ' .. tostring(r2[2])) end
if n2 ~= n then return fail('pack/unpack changed the value count') end
for j = 2, n do
  if shallow and not eq(r[j], r2[j], false) then return fail('pack/unpack changed value ' .. (j - 1)) end
end
local n3, r3 = pack_n(cmsgpack.unpack(cmsgpack.pack(unpack(r2, 2, n2))))
if n3 ~= count then return fail('second pack/unpack changed the value count') end
for j = 2, n2 do
  if not eq(r2[j], r3[j - 1], false) then return fail('second pack/unpack changed value ' .. (j - 1)) end
end
return 2
"#;

/// struct.unpack(ARGV[1] format, ARGV[2] data, ARGV[3] position): the next position it
/// returns lies within the data unless nothing was read (as in C, a position past the
/// data is returned as given when the format reads nothing); from position 1, a format without strings consumes
/// struct.size bytes; and what struct.pack makes of the values unpacks to them again.
const STRUCT: &str = r#"
local fmt, data, pos = ARGV[1], ARGV[2], tonumber(ARGV[3])
local n, r = pack_n(pcall(struct.unpack, fmt, data, pos))
if not r[1] then return 0 end
local nxt = r[n]
-- The position moves only past data it read, and never backwards.
if type(nxt) ~= 'number' or nxt < pos or (nxt > pos and nxt > #data + 1) then
  return fail('struct.unpack next position ' .. tostring(nxt) .. ' outside ' .. pos .. '..' .. (#data + 1))
end
if pos == 1 and not fmt:find('[sc]') then
  local ok, size = pcall(struct.size, fmt)
  if ok and size ~= nxt - 1 then return fail('struct.size ' .. size .. ' but unpack consumed ' .. (nxt - 1)) end
end
local ok2, p = pcall(struct.pack, fmt, unpack(r, 2, n - 1))
if not ok2 then return 1 end
local m, r2 = pack_n(pcall(struct.unpack, fmt, p))
if not r2[1] then return fail('struct.unpack rejects struct.pack output: ' .. tostring(r2[2])) end
if pos == 1 then
  if m ~= n then return fail('struct pack/unpack changed the value count') end
  for j = 2, n - 1 do
    if not eq(r[j], r2[j], false) then return fail('struct pack/unpack changed value ' .. (j - 1)) end
  end
end
return 2
"#;

/// The bit library on numbers made from the input (ARGV[1..4] as `%.17g` text):
/// identities of 32-bit two's complement arithmetic.
const BIT: &str = r#"
local a, b, k, w = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local ok, ta = pcall(bit.tobit, a)
if not ok then return 0 end
local tb = bit.tobit(b)
if ta ~= math.floor(ta) or ta < -2147483648 or ta > 2147483647 then return fail('tobit out of range') end
if bit.tobit(ta) ~= ta then return fail('tobit not idempotent') end
if bit.bnot(bit.bnot(a)) ~= ta then return fail('bnot twice') end
if bit.bxor(bit.bxor(a, b), b) ~= ta then return fail('bxor twice') end
if bit.band(a, b) ~= bit.bnot(bit.bor(bit.bnot(a), bit.bnot(b))) then return fail('de Morgan') end
if bit.bswap(bit.bswap(a)) ~= ta then return fail('bswap twice') end
if bit.ror(bit.rol(a, k), k) ~= ta then return fail('rol/ror') end
if bit.arshift(a, 0) ~= ta or bit.lshift(a, 32) ~= ta then return fail('shift by 0/32') end
local h = bit.tohex(a, w)
local hw = bit.tohex(a)
if #hw ~= 8 or tonumber(hw, 16) == nil then return fail('tohex default ' .. hw) end
if bit.tobit(tonumber(hw, 16)) ~= ta then return fail('tohex does not read back: ' .. hw) end
return #h
"#;

/// The shared state: a store with the instruction budget raised for the checks.
fn harness() -> Harness {
    let mut h = Harness::new(false, None);
    let mut t = Txn::new(&h.store, 2, T0, 42);
    let pairs = vec![(
        "script-max-instructions".to_string(),
        INSTRUCTIONS.as_bytes().to_vec(),
    )];
    engine::settings::apply_config_set(&mut t, &pairs).expect("valid budget");
    let effects = t.into_effects();
    h.store.apply(&effects);
    h.index = 2;
    h
}

/// A double from up to 8 input bytes: small integers, boundaries and raw bit patterns.
fn number(b: &[u8]) -> Vec<u8> {
    let mut w = [0u8; 8];
    w[..b.len().min(8)].copy_from_slice(&b[..b.len().min(8)]);
    let x = match w[0] % 4 {
        0 => f64::from(i32::from_le_bytes([w[1], w[2], w[3], w[4]])),
        1 => i64::from_le_bytes(w) as f64,
        2 => f64::from_bits(u64::from_le_bytes(w)),
        _ => f64::from(w[1] as i8) * 2f64.powi(i32::from(w[2] % 80)),
    };
    // Rust's shortest round-tripping form; Lua's tonumber (strtod) reads it, inf and NaN too.
    format!("{x:e}").into_bytes()
}

/// Input: a selector byte (0 cjson, 1 cmsgpack, 2 struct, 3 bit), a parameter byte, then
/// the data (for struct: format, `\n`, data).
pub fn run_lua_decoders(data: &[u8]) {
    thread_local! {
        static H: std::cell::RefCell<Option<Harness>> = const { std::cell::RefCell::new(None) };
    }
    let [sel, param, rest @ ..] = data else {
        return;
    };
    let (body, args): (&str, Vec<Vec<u8>>) = match sel % 4 {
        0 => (CJSON, vec![rest.to_vec(), vec![*param]]),
        1 => (CMSGPACK, vec![rest.to_vec(), vec![*param]]),
        2 => {
            let (fmt, bytes) = match rest.iter().position(|&b| b == b'\n') {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &[][..]),
            };
            let pos = (*param as i8).to_string().into_bytes();
            (STRUCT, vec![fmt.to_vec(), bytes.to_vec(), pos])
        }
        _ => {
            let mut args: Vec<Vec<u8>> = rest.chunks(8).take(4).map(number).collect();
            args.resize(4, b"0".to_vec());
            (BIT, args)
        }
    };
    let script = format!("{PRELUDE}{body}");
    let mut argv = vec![b"eval".to_vec(), script.into_bytes(), b"0".to_vec()];
    argv.extend(args);
    let reply = H.with(|h| {
        let mut h = h.borrow_mut();
        let h = h.get_or_insert_with(harness);
        // One write-path run; its effects (the script cache entry) are not kept.
        let mut t = Txn::new(&h.store, h.index + 1, h.now, h.seed);
        t.run(0, &argv)
    });
    if crate::trace() {
        eprintln!("< {reply:?}");
    }
    match &reply {
        Frame::Integer(_) => {}
        Frame::Error(e) => {
            // The checks run their own steps unprotected: those must not fail either.
            // Only the run's budgets may stop a script.
            let budget = e.contains("script-max-instructions")
                || e.contains("script-max-memory")
                || e.contains("not enough memory");
            assert!(budget, "{e}");
        }
        other => panic!("the script replied {other:?}"),
    }
}
