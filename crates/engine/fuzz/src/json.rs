//! JSON targets: the JSONPath parser and evaluator (`json_path`) and the stored-document
//! decoder (`json_doc`), called directly through `engine::fuzzing` and then through the
//! JSON.* commands on the same document.

use crate::Harness;
use engine::fuzzing::{self, JsonStep, JSON_MAX_DEPTH};
use engine::{Frame, MemStore};
use serde_json::Value;

/// Documents for `json_path` when the input does not bring its own: nested objects and
/// arrays, every scalar kind, empty and odd keys, a deep chain and a wide array (so
/// `..` and filters hit the evaluation budget).
fn fixed_doc(i: u8) -> &'static Value {
    static DOCS: std::sync::OnceLock<Vec<Value>> = std::sync::OnceLock::new();
    let docs = DOCS.get_or_init(|| {
        let mut deep = Value::from(1);
        for i in 0..48 {
            deep = if i % 2 == 0 {
                serde_json::json!({ "a": deep, "b": i })
            } else {
                serde_json::json!([i, deep])
            };
        }
        let wide: Vec<Value> = (0..300)
            .map(|i| serde_json::json!({ "i": i, "s": i.to_string(), "t": [i, {"u": i % 7}] }))
            .collect();
        let texts = [
            r#"{"a":1,"b":[1,2,3,{"c":"x","d":[true,false,null]}],"e":{"f":{"g":1.5,"h":"str","a":[]}},"":0,"k k":[[]],"n":-7,"u":18446744073709551615}"#,
            r#"[1,"a",[2,[3,[4]]],{"x":{"x":{"x":1}}},null,true,2.5e10,-0.0,"\u0000\u00e9"]"#,
            r#"{"store":{"book":[{"category":"reference","author":"Nigel Rees","title":"Sayings","price":8.95},{"category":"fiction","author":"Evelyn Waugh","title":"Sword","price":12.99,"isbn":"0-553-21311-3"}],"bicycle":{"color":"red","price":19.95}},"expensive":10}"#,
            r#""scalar""#,
        ];
        let mut docs: Vec<Value> = texts
            .iter()
            .map(|t| serde_json::from_str(t).expect("fixed document"))
            .collect();
        docs.push(deep);
        docs.push(Value::Array(wide));
        docs
    });
    &docs[i as usize % docs.len()]
}

/// A harness whose key `j` holds `doc` (set with JSON.SET; None if that fails). The
/// stores of the fixed documents are made once and cloned.
fn stored(fixed: Option<u8>, doc: &Value) -> Option<Harness> {
    thread_local! {
        static FIXED: std::cell::RefCell<Vec<Option<MemStore>>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let set = |h: &mut Harness| {
        let text = serde_json::to_vec(doc).expect("a document serialises");
        h.exec(&[b"json.set".to_vec(), b"j".to_vec(), b"$".to_vec(), text]) == Frame::ok()
    };
    let Some(i) = fixed else {
        let mut h = Harness::new(false, None);
        return set(&mut h).then_some(h);
    };
    let store = FIXED.with(|f| {
        let mut f = f.borrow_mut();
        if f.len() <= i as usize {
            f.resize(i as usize + 1, None);
        }
        f[i as usize]
            .get_or_insert_with(|| {
                let mut h = Harness::new(false, None);
                assert!(set(&mut h), "a fixed document stores");
                h.store
            })
            .clone()
    });
    let mut h = Harness::new(false, None);
    h.store = store;
    h.index = 10;
    Some(h)
}

/// The value at `steps` from `doc`, walking as a location says.
fn walk<'v>(doc: &'v Value, steps: &[JsonStep]) -> Option<&'v Value> {
    let mut v = doc;
    for s in steps {
        v = match (s, v) {
            (JsonStep::Key(k), Value::Object(o)) => o.get(k)?,
            (JsonStep::Index(i), Value::Array(a)) => a.get(*i)?,
            _ => return None,
        };
    }
    Some(v)
}

/// Compiles `path` and evaluates it on `doc`, checking what the JSON.* commands rely on:
/// tracked and untracked evaluation select the same values, every tracked location
/// leads to the value it was reported with, and a static path selects at most one.
/// Returns the selected values (None when the path does not compile or evaluation
/// stopped on its budget).
pub fn check_path<'v>(path: &str, doc: &'v Value) -> Option<Vec<&'v Value>> {
    let q = match fuzzing::json_path_compile(path) {
        Ok(q) => q,
        Err(e) => {
            assert!(!e.0.is_empty(), "empty compile error for {path:?}");
            // The same path fails the same way (error texts are deterministic).
            let again = fuzzing::json_path_compile(path).err().map(|e| e.0);
            assert_eq!(again.as_deref(), Some(e.0.as_str()));
            return None;
        }
    };
    let tracked = q.select(doc, true);
    let plain = q.select(doc, false);
    let (tracked, plain) = match (tracked, plain) {
        (Ok(t), Ok(p)) => (t, p),
        (Err(a), Err(b)) => {
            assert_eq!(
                a, b,
                "tracked and plain evaluation fail differently: {path:?}"
            );
            return None;
        }
        (t, p) => panic!(
            "tracked and plain evaluation disagree on {path:?}: {:?} vs {:?}",
            t.map(|v| v.len()),
            p.map(|v| v.len())
        ),
    };
    assert_eq!(tracked.len(), plain.len(), "match count differs: {path:?}");
    for ((steps, tv), (_, pv)) in tracked.iter().zip(&plain) {
        assert!(
            std::ptr::eq(*tv, *pv),
            "tracked and plain order differ: {path:?}"
        );
        let at = walk(doc, steps)
            .unwrap_or_else(|| panic!("{path:?}: location {steps:?} does not exist"));
        assert!(
            std::ptr::eq(at, *tv),
            "{path:?}: location {steps:?} holds another value"
        );
    }
    if q.is_static() {
        assert!(
            plain.len() <= 1,
            "static path {path:?} selected {}",
            plain.len()
        );
    }
    Some(plain.into_iter().map(|(_, v)| v).collect())
}

/// The JSON.* command the options byte picks, on key `j` with the fuzzed path.
fn command(pick: u8, path: &[u8]) -> Vec<Vec<u8>> {
    let p = path.to_vec();
    let v = |s: &str| s.as_bytes().to_vec();
    let mut argv: Vec<Vec<u8>> = match pick % 20 {
        0 => vec![v("json.get"), v("j"), p, v("$")],
        1 => vec![v("json.type"), v("j"), p],
        2 => vec![v("json.del"), v("j"), p],
        3 => vec![v("json.set"), v("j"), p, v(r#""v""#)],
        4 => vec![
            v("json.set"),
            v("j"),
            p,
            v(r#"{"z":[1,{"y":null}]}"#),
            v("NX"),
        ],
        5 => vec![v("json.set"), v("j"), p, v("[]"), v("XX")],
        6 => vec![v("json.arrappend"), v("j"), p, v("1"), v(r#""s""#)],
        7 => vec![v("json.arrinsert"), v("j"), p, v("-1"), v("null")],
        8 => vec![v("json.arrpop"), v("j"), p, v("0")],
        9 => vec![v("json.arrtrim"), v("j"), p, v("1"), v("-2")],
        10 => vec![v("json.numincrby"), v("j"), p, v("2.5")],
        11 => vec![v("json.nummultby"), v("j"), p, v("-3")],
        12 => vec![v("json.strappend"), v("j"), p, v(r#""s""#)],
        13 => vec![v("json.toggle"), v("j"), p],
        14 => vec![v("json.clear"), v("j"), p],
        15 => vec![v("json.merge"), v("j"), p, v(r#"{"a":null,"m":{"n":1}}"#)],
        16 => vec![v("json.objkeys"), v("j"), p],
        17 => vec![v("json.resp"), v("j"), p],
        18 => vec![v("json.arrindex"), v("j"), p, v("1"), v("0"), v("-1")],
        _ => vec![v("json.debug"), v("memory"), v("j"), p],
    };
    if pick >= 20 && argv.len() == 3 {
        // Also through the two-path forms' argument handling.
        argv.push(path.to_vec());
    }
    argv
}

/// `json_path` input: an options byte (bits 0-2 the document: 0-5 a fixed one, 6-7 the
/// input's own; bits 3-7 the JSON.* command), the path up to the first `\n`, then the
/// document's JSON text.
pub fn run_json_path(data: &[u8]) {
    let Some((&opts, rest)) = data.split_first() else {
        return;
    };
    let (path, text) = match rest.iter().position(|&b| b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let own = if opts & 7 >= 6 {
        std::str::from_utf8(text)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(t).ok())
    } else {
        None
    };
    let doc = own.as_ref().unwrap_or_else(|| fixed_doc(opts & 7));

    // Direct: parse and evaluate.
    let path_str = String::from_utf8_lossy(path);
    let selected = check_path(&path_str, doc);

    // Through the commands: the document stored under `j`, then one command with the path.
    let Some(mut h) = stored(own.is_none().then_some(opts & 7), doc) else {
        // Deeper than serde_json's 128 levels: only the direct checks apply.
        return;
    };
    // (A path that is not UTF-8 is not read as a path: JSON.GET then takes the root.)
    if path.starts_with(b"$") && std::str::from_utf8(path).is_ok() {
        // JSON.GET with one JSONPath replies the selected values as a JSON array.
        let got = h.exec(&[b"json.get".to_vec(), b"j".to_vec(), path.to_vec()]);
        if let (Some(sel), Frame::Bulk(b)) = (&selected, &got) {
            if let Ok(Value::Array(vals)) = serde_json::from_slice::<Value>(b) {
                let want: Vec<&Value> = sel.iter().copied().collect();
                let have: Vec<&Value> = vals.iter().collect();
                assert_eq!(
                    want, have,
                    "JSON.GET {path_str:?} differs from the evaluation"
                );
            }
        }
    }
    h.exec(&command(opts >> 3, path));
    // Whatever the command did, the document (if any) reads back whole.
    h.exec(&[b"json.get".to_vec(), b"j".to_vec(), b"$".to_vec()]);
}

/// `json_doc` input: bytes as a stored document (the binary encoding). A document that
/// decodes must re-encode (within the limits, since the decoder enforces the depth),
/// decode back to the same tree, and have one canonical encoding; then it is stored as
/// a key and read through the JSON.* commands, whose JSON text must parse back to the
/// same tree.
pub fn run_json_doc(data: &[u8]) {
    let Some(doc) = fuzzing::json_doc_decode(data) else {
        return;
    };
    let enc = fuzzing::json_doc_encode(&doc).expect("a decoded document re-encodes");
    let back = fuzzing::json_doc_decode(&enc).expect("an encoded document decodes");
    assert_eq!(back, doc, "decode(encode(doc)) != doc");
    assert!(
        depth(&doc) <= JSON_MAX_DEPTH,
        "decoded a document past the depth limit"
    );
    assert_eq!(
        fuzzing::json_doc_encode(&back).expect("re-encodes"),
        enc,
        "encoding is not canonical"
    );

    let mut h = Harness::new(false, None);
    let mut t = engine::Txn::new(&h.store, 2, h.now, h.seed);
    fuzzing::json_doc_put(&mut t, b"j", data.to_vec()).expect("stores");
    let effects = t.into_effects();
    h.store.apply(&effects);
    h.index = 2;
    let got = h.exec(&[b"json.get".to_vec(), b"j".to_vec()]);
    if depth(&doc) < 127 {
        match &got {
            Frame::Bulk(b) => {
                let parsed: Value = serde_json::from_slice(b).unwrap_or_else(|e| {
                    panic!(
                        "JSON.GET output does not parse: {e}: {:.300}",
                        String::from_utf8_lossy(b)
                    )
                });
                assert_eq!(parsed, doc, "JSON.GET output is another document");
            }
            other => panic!("JSON.GET of a stored document replied {other:?}"),
        }
    }
    for argv in [
        &[
            &b"json.get"[..],
            b"j",
            b"INDENT",
            b"\t",
            b"NEWLINE",
            b"\n",
            b"SPACE",
            b" ",
            b"$",
        ][..],
        &[b"json.resp", b"j", b"$..*"],
        &[b"json.type", b"j", b"$..*"],
        &[b"json.debug", b"memory", b"j"],
        &[b"json.objlen", b"j", b"$..*"],
        &[b"json.strlen", b"j", b"$..*"],
        &[b"json.arrlen", b"j", b"$..*"],
        &[b"json.numincrby", b"j", b"$..*", b"1"],
        &[b"json.strappend", b"j", b"$..*", b"\"x\""],
        &[b"json.arrappend", b"j", b"$..*", b"1"],
        &[b"json.set", b"j", b"$..*", b"1"],
        &[b"json.get", b"j"],
    ] {
        let argv: Vec<Vec<u8>> = argv.iter().map(|a| a.to_vec()).collect();
        h.exec(&argv);
    }
}

/// Nesting depth of a tree (containers on the longest path).
fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}
