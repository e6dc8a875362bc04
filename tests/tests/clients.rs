//! CLIENT subcommands and client-side caching over real connections: TRACKING (RESP3
//! pushes, RESP2 REDIRECT to `__redis__:invalidate`, BCAST/PREFIX, OPTIN/OPTOUT with
//! CACHING, NOLOOP, flushes, across the nodes of a cluster), REPLY, PAUSE/UNPAUSE, KILL
//! filters, INFO/LIST fields; pub/sub with slow subscribers and PUBSUB SHARD*.

use meridian_tests::cluster::Cluster;
use meridian_tests::{err_text, Server};
use redis::cmd;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A RESP2/RESP3 reply, as text that is easy to assert on: `"x"` bulk, `+x` simple,
/// `-x` error, `:1`, `_` null, `[..]` array, `>[..]` push, `{k: v}` map, `~[..]` set.
fn show(v: &V) -> String {
    match v {
        V::Simple(s) => format!("+{s}"),
        V::Err(s) => format!("-{s}"),
        V::Int(i) => format!(":{i}"),
        V::Bulk(b) => format!("{:?}", String::from_utf8_lossy(b)),
        V::Null => "_".into(),
        V::Arr(k, items) => {
            let inner: Vec<String> = items.iter().map(show).collect();
            let pre = match k {
                b'>' => ">",
                b'~' => "~",
                _ => "",
            };
            format!("{pre}[{}]", inner.join(", "))
        }
        V::Map(items) => {
            let inner: Vec<String> = items
                .iter()
                .map(|(a, b)| format!("{}: {}", show(a), show(b)))
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
    }
}

#[derive(Debug, Clone)]
enum V {
    Simple(String),
    Err(String),
    Int(i64),
    Bulk(Vec<u8>),
    Null,
    Arr(u8, Vec<V>),
    Map(Vec<(V, V)>),
}

/// A raw connection speaking RESP (2 or 3), reading one reply (or push) at a time.
struct Raw {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Raw {
    fn new(port: u16) -> Raw {
        let w = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        w.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Raw {
            r: BufReader::new(w.try_clone().unwrap()),
            w,
        }
    }

    fn resp3(port: u16) -> Raw {
        let mut c = Raw::new(port);
        let hello = c.cmd(&["HELLO", "3"]);
        assert!(show(&hello).starts_with('{'), "{}", show(&hello));
        c
    }

    fn send(&mut self, args: &[&str]) {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
        self.w.write_all(&out).unwrap();
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.r.read_line(&mut l).expect("read a line");
        assert!(!l.is_empty(), "connection closed");
        l.trim_end_matches("\r\n").to_string()
    }

    fn read(&mut self) -> V {
        let l = self.line();
        let (t, rest) = l.split_at(1);
        let n = || rest.parse::<i64>().unwrap();
        match t.as_bytes()[0] {
            b'+' => V::Simple(rest.into()),
            b'-' => V::Err(rest.into()),
            b':' => V::Int(n()),
            b'_' => V::Null,
            b'$' | b'=' if n() < 0 => V::Null,
            k @ (b'$' | b'=') => {
                let mut b = vec![0; n() as usize + 2];
                self.r.read_exact(&mut b).unwrap();
                b.truncate(n() as usize);
                if k == b'=' {
                    // Verbatim string: "txt:" then the text.
                    b.drain(..4.min(b.len()));
                }
                V::Bulk(b)
            }
            b'*' if n() < 0 => V::Null,
            k @ (b'*' | b'>' | b'~') => V::Arr(k, (0..n()).map(|_| self.read()).collect()),
            b'%' => V::Map((0..n()).map(|_| (self.read(), self.read())).collect()),
            other => panic!("unexpected reply type {}", other as char),
        }
    }

    /// One reply as text.
    fn cmd(&mut self, args: &[&str]) -> V {
        self.send(args);
        self.read()
    }

    fn q(&mut self, args: &[&str]) -> String {
        show(&self.cmd(args))
    }

    /// The next frame if one arrives within `wait`.
    fn next_within(&mut self, wait: Duration) -> Option<String> {
        self.w.set_read_timeout(Some(wait)).unwrap();
        let got = match self.r.fill_buf() {
            Ok(b) if !b.is_empty() => true,
            _ => false,
        };
        self.w
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        got.then(|| show(&self.read()))
    }

    fn id(&mut self) -> i64 {
        match self.cmd(&["CLIENT", "ID"]) {
            V::Int(i) => i,
            other => panic!("CLIENT ID: {}", show(&other)),
        }
    }
}

const QUIET: Duration = Duration::from_millis(400);

fn inv(keys: &[&str]) -> String {
    let ks: Vec<String> = keys.iter().map(|k| format!("{k:?}")).collect();
    format!(">[\"invalidate\", [{}]]", ks.join(", "))
}

#[test]
fn tracking_resp3_default_mode_invalidates_read_keys_once_and_on_flush() {
    let srv = Server::start();
    let mut t = Raw::resp3(srv.port);
    let mut w = srv.client();
    assert_eq!(t.q(&["CLIENT", "TRACKING", "ON"]), "+OK");
    assert_eq!(t.q(&["GET", "k1"]), "_");
    assert_eq!(t.q(&["MGET", "k2", "k3"]), "[_, _]");
    // Not a read of k4: nothing tracked for it.
    assert_eq!(t.q(&["SET", "k4", "x"]), "+OK");
    let _: () = cmd("SET").arg("k1").arg("v").query(&mut w).unwrap();
    // The invalidation comes before the reply to the next command, as in Redis.
    t.send(&["PING"]);
    assert_eq!(show(&t.read()), inv(&["k1"]));
    assert_eq!(show(&t.read()), "+PONG");
    // Once sent, the key is no longer tracked until read again.
    let _: () = cmd("SET").arg("k1").arg("w").query(&mut w).unwrap();
    let _: () = cmd("SET").arg("k4").arg("w").query(&mut w).unwrap();
    assert_eq!(t.next_within(QUIET), None);
    let _: () = cmd("MSET")
        .arg("k2")
        .arg("1")
        .arg("k3")
        .arg("2")
        .query(&mut w)
        .unwrap();
    let mut got = vec![t.next_within(QUIET).unwrap(), t.next_within(QUIET).unwrap()];
    got.sort();
    assert_eq!(got, vec![inv(&["k2"]), inv(&["k3"])]);
    // Deletes and expiries invalidate too.
    assert_eq!(t.q(&["GET", "k2"]), "\"1\"");
    let _: i64 = cmd("DEL").arg("k2").query(&mut w).unwrap();
    assert_eq!(t.next_within(Duration::from_secs(5)), Some(inv(&["k2"])));
    let _: () = cmd("SET")
        .arg("e")
        .arg("1")
        .arg("PX")
        .arg("300")
        .query(&mut w)
        .unwrap();
    t.q(&["GET", "e"]);
    assert_eq!(t.next_within(Duration::from_secs(10)), Some(inv(&["e"])));
    // FLUSHALL / FLUSHDB: a null invalidation to every tracking client.
    assert_eq!(t.q(&["GET", "k3"]), "\"2\"");
    let _: () = cmd("FLUSHDB").query(&mut w).unwrap();
    assert_eq!(
        t.next_within(Duration::from_secs(5)).as_deref(),
        Some(">[\"invalidate\", _]")
    );
    let _: () = cmd("FLUSHALL").query(&mut w).unwrap();
    assert_eq!(
        t.next_within(Duration::from_secs(5)).as_deref(),
        Some(">[\"invalidate\", _]")
    );
    // Reads inside MULTI are tracked at EXEC.
    assert_eq!(t.q(&["MULTI"]), "+OK");
    assert_eq!(t.q(&["GET", "m"]), "+QUEUED");
    assert_eq!(t.q(&["EXEC"]), "[_]");
    let _: () = cmd("SET").arg("m").arg("1").query(&mut w).unwrap();
    assert_eq!(t.next_within(Duration::from_secs(5)), Some(inv(&["m"])));
    // OFF: nothing more.
    assert_eq!(t.q(&["GET", "k1"]), "_");
    assert_eq!(t.q(&["CLIENT", "TRACKING", "OFF"]), "+OK");
    let _: () = cmd("SET").arg("k1").arg("z").query(&mut w).unwrap();
    let _: () = cmd("FLUSHALL").query(&mut w).unwrap();
    assert_eq!(t.next_within(QUIET), None);
    assert_eq!(t.q(&["CLIENT", "GETREDIR"]), ":-1");
    // RESET stops tracking too.
    assert_eq!(t.q(&["CLIENT", "TRACKING", "ON"]), "+OK");
    assert_eq!(t.q(&["GET", "k1"]), "_");
    assert_eq!(t.q(&["RESET"]), "+RESET");
    let _: () = cmd("SET").arg("k1").arg("y").query(&mut w).unwrap();
    assert_eq!(t.next_within(QUIET), None);
}

#[test]
fn tracking_redirect_bcast_optin_optout_noloop_and_errors() {
    let srv = Server::start();
    let mut w = srv.client();
    // RESP2: invalidations go to a client subscribed to __redis__:invalidate.
    let mut r = Raw::new(srv.port);
    let rid = r.id();
    assert_eq!(
        r.q(&["SUBSCRIBE", "__redis__:invalidate"]),
        "[\"subscribe\", \"__redis__:invalidate\", :1]"
    );
    let mut t = Raw::new(srv.port);
    let rid_s = rid.to_string();
    assert_eq!(
        t.q(&["CLIENT", "TRACKING", "ON", "REDIRECT", &rid_s]),
        "+OK"
    );
    assert_eq!(t.q(&["CLIENT", "GETREDIR"]), format!(":{rid}"));
    assert_eq!(
        t.q(&["CLIENT", "TRACKINGINFO"]),
        format!("[\"flags\", [\"on\"], \"redirect\", :{rid}, \"prefixes\", []]")
    );
    assert_eq!(t.q(&["GET", "a"]), "_");
    let _: () = cmd("SET").arg("a").arg("1").query(&mut w).unwrap();
    assert_eq!(
        r.next_within(Duration::from_secs(5)).as_deref(),
        Some("[\"message\", \"__redis__:invalidate\", [\"a\"]]")
    );
    assert_eq!(t.q(&["GET", "a"]), "\"1\"");
    let _: () = cmd("FLUSHALL").query(&mut w).unwrap();
    assert_eq!(
        r.next_within(Duration::from_secs(5)).as_deref(),
        Some("[\"message\", \"__redis__:invalidate\", _]")
    );
    // The redirect target goes away: the tracking client is flagged R, and a RESP3
    // one is told.
    let mut t3 = Raw::resp3(srv.port);
    let mut gone = Raw::new(srv.port);
    let gid = gone.id().to_string();
    assert_eq!(t3.q(&["CLIENT", "TRACKING", "ON", "REDIRECT", &gid]), "+OK");
    assert_eq!(t3.q(&["GET", "b"]), "_");
    drop(gone);
    std::thread::sleep(Duration::from_millis(200));
    let _: () = cmd("SET").arg("b").arg("1").query(&mut w).unwrap();
    assert_eq!(
        t3.next_within(Duration::from_secs(5)),
        Some(format!(">[\"tracking-redir-broken\", :{gid}]"))
    );
    assert_eq!(
        t3.q(&["CLIENT", "TRACKINGINFO"]),
        format!(
            "{{\"flags\": ~[\"on\", \"broken_redirect\"], \"redirect\": :{gid}, \"prefixes\": []}}"
        )
    );
    let info = t3.q(&["CLIENT", "INFO"]);
    assert!(
        info.contains(" flags=tR ") && info.contains(&format!(" redir={gid} ")),
        "{info}"
    );

    // BCAST: every key under a prefix, one message per prefix, nothing else.
    let mut b = Raw::resp3(srv.port);
    assert_eq!(
        b.q(&["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "p:", "PREFIX", "q:"]),
        "+OK"
    );
    assert_eq!(
        b.q(&["CLIENT", "TRACKINGINFO"]),
        "{\"flags\": ~[\"on\", \"bcast\"], \"redirect\": :0, \"prefixes\": [\"p:\", \"q:\"]}"
    );
    let _: () = cmd("MSET")
        .arg("p:1")
        .arg("1")
        .arg("q:2")
        .arg("2")
        .arg("z")
        .arg("3")
        .query(&mut w)
        .unwrap();
    let mut got = vec![
        b.next_within(Duration::from_secs(5)).unwrap(),
        b.next_within(Duration::from_secs(5)).unwrap(),
    ];
    got.sort();
    assert_eq!(got, vec![inv(&["p:1"]), inv(&["q:2"])]);
    let _: () = cmd("SET").arg("z").arg("4").query(&mut w).unwrap();
    assert_eq!(b.next_within(QUIET), None);
    // And again, without reading anything.
    let _: () = cmd("SET").arg("p:1").arg("5").query(&mut w).unwrap();
    assert_eq!(b.next_within(Duration::from_secs(5)), Some(inv(&["p:1"])));
    let info = b.q(&["CLIENT", "INFO"]);
    assert!(
        info.contains(" flags=tB ") && info.contains(" redir=0 "),
        "{info}"
    );

    // OPTIN: only reads right after CLIENT CACHING yes.
    let mut o = Raw::resp3(srv.port);
    assert_eq!(o.q(&["CLIENT", "TRACKING", "ON", "OPTIN"]), "+OK");
    assert_eq!(o.q(&["GET", "o1"]), "_");
    assert_eq!(o.q(&["CLIENT", "CACHING", "YES"]), "+OK");
    assert_eq!(o.q(&["GET", "o2"]), "_");
    assert_eq!(o.q(&["GET", "o3"]), "_");
    let _: () = cmd("MSET")
        .arg("o1")
        .arg("1")
        .arg("o2")
        .arg("2")
        .arg("o3")
        .arg("3")
        .query(&mut w)
        .unwrap();
    assert_eq!(o.next_within(Duration::from_secs(5)), Some(inv(&["o2"])));
    assert_eq!(o.next_within(QUIET), None);
    // OPTOUT: every read but those right after CLIENT CACHING no.
    let mut x = Raw::resp3(srv.port);
    assert_eq!(x.q(&["CLIENT", "TRACKING", "ON", "OPTOUT"]), "+OK");
    assert_eq!(x.q(&["CLIENT", "CACHING", "NO"]), "+OK");
    assert_eq!(
        x.q(&["CLIENT", "TRACKINGINFO"]),
        "{\"flags\": ~[\"on\", \"optout\", \"caching-no\"], \"redirect\": :0, \"prefixes\": []}"
    );
    assert_eq!(x.q(&["GET", "x1"]), "_");
    assert_eq!(x.q(&["GET", "x2"]), "_");
    let _: () = cmd("MSET")
        .arg("x1")
        .arg("1")
        .arg("x2")
        .arg("2")
        .query(&mut w)
        .unwrap();
    assert_eq!(x.next_within(Duration::from_secs(5)), Some(inv(&["x2"])));
    assert_eq!(x.next_within(QUIET), None);

    // NOLOOP: the client's own writes are not reported.
    let mut n = Raw::resp3(srv.port);
    assert_eq!(n.q(&["CLIENT", "TRACKING", "ON", "NOLOOP"]), "+OK");
    assert_eq!(n.q(&["MGET", "n1", "n2"]), "[_, _]");
    assert_eq!(n.q(&["SET", "n1", "mine"]), "+OK");
    assert_eq!(n.next_within(QUIET), None);
    let _: () = cmd("SET").arg("n2").arg("theirs").query(&mut w).unwrap();
    assert_eq!(n.next_within(Duration::from_secs(5)), Some(inv(&["n2"])));

    // Errors, in Redis's words.
    let mut e = Raw::new(srv.port);
    for (args, want) in [
        (&["CLIENT", "TRACKING", "ON", "PREFIX", "a"][..], "-ERR PREFIX option requires BCAST mode to be enabled"),
        (&["CLIENT", "TRACKING", "ON", "OPTIN", "OPTOUT"], "-ERR You can't specify both OPTIN mode and OPTOUT mode"),
        (&["CLIENT", "TRACKING", "ON", "BCAST", "OPTIN"], "-ERR OPTIN and OPTOUT are not compatible with BCAST"),
        (&["CLIENT", "TRACKING", "ON", "REDIRECT", "99999"], "-ERR The client ID you want redirect to does not exist"),
        (&["CLIENT", "TRACKING", "ON", "REDIRECT", "x"], "-ERR value is not an integer or out of range"),
        (&["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a", "PREFIX", "ab"], "-ERR Prefix 'a' overlaps with another provided prefix 'ab'. Prefixes for a single client must not overlap."),
        (&["CLIENT", "TRACKING", "MAYBE"], "-ERR syntax error"),
        (&["CLIENT", "CACHING", "YES"], "-ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled"),
        (&["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "ab"], "+OK"),
        (&["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a"], "-ERR Prefix 'a' overlaps with an existing prefix 'ab'. Prefixes for a single client must not overlap."),
        (&["CLIENT", "TRACKING", "ON"], "-ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode."),
        (&["CLIENT", "TRACKING", "OFF"], "+OK"),
        (&["CLIENT", "TRACKING", "ON", "OPTIN"], "+OK"),
        (&["CLIENT", "CACHING", "NO"], "-ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode."),
        (&["CLIENT", "TRACKING", "ON", "OPTOUT"], "-ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode."),
        (&["CLIENT", "GETREDIR", "x"], "-ERR wrong number of arguments for 'client|getredir' command"),
    ] {
        assert_eq!(e.q(args), want, "{args:?}");
    }
}

#[test]
fn client_reply_off_and_skip_drop_replies_but_not_pushes() {
    let srv = Server::start();
    let mut c = Raw::new(srv.port);
    c.send(&["CLIENT", "REPLY", "SKIP"]);
    c.send(&["PING"]);
    c.send(&["ECHO", "x"]);
    assert_eq!(show(&c.read()), "\"x\"");
    c.send(&["CLIENT", "REPLY", "OFF"]);
    c.send(&["SET", "a", "1"]);
    c.send(&["GET", "nosuchcommand", "x", "y"]);
    c.send(&["NOSUCHCOMMAND"]);
    assert_eq!(c.next_within(QUIET), None);
    assert_eq!(c.q(&["CLIENT", "REPLY", "ON"]), "+OK");
    assert_eq!(c.q(&["GET", "a"]), "\"1\"");
    assert_eq!(c.q(&["CLIENT", "REPLY", "MAYBE"]), "-ERR syntax error");
    // A subscriber with replies off still gets its messages.
    let mut s = Raw::resp3(srv.port);
    assert_eq!(s.q(&["SUBSCRIBE", "ch"]), ">[\"subscribe\", \"ch\", :1]");
    s.send(&["CLIENT", "REPLY", "OFF"]);
    s.send(&["PING"]);
    let mut p = srv.client();
    let n: i64 = cmd("PUBLISH").arg("ch").arg("hi").query(&mut p).unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        s.next_within(Duration::from_secs(5)).as_deref(),
        Some(">[\"message\", \"ch\", \"hi\"]")
    );
    assert_eq!(s.next_within(QUIET), None);
    // A RESP2 subscriber too (which must turn replies off before subscribing: a
    // subscribed RESP2 connection takes pub/sub commands only).
    let mut s2 = Raw::new(srv.port);
    s2.send(&["CLIENT", "REPLY", "OFF"]);
    s2.send(&["SUBSCRIBE", "ch"]);
    // Its confirmation still comes, as Redis sends it (a push, not a reply).
    assert_eq!(
        s2.next_within(Duration::from_secs(5)).as_deref(),
        Some("[\"subscribe\", \"ch\", :1]")
    );
    let n: i64 = cmd("PUBLISH").arg("ch").arg("yo").query(&mut p).unwrap();
    assert_eq!(n, 2);
    assert_eq!(
        s2.next_within(Duration::from_secs(5)).as_deref(),
        Some("[\"message\", \"ch\", \"yo\"]")
    );
}

#[test]
fn client_pause_write_and_all_hold_commands_until_timeout_or_unpause() {
    let srv = Server::start();
    let mut admin = srv.client();
    let mut c = srv.client();
    let _: () = cmd("SET").arg("k").arg("0").query(&mut c).unwrap();
    // WRITE: reads go on, writes (and PUBLISH, EVAL) wait for the timeout.
    let _: () = cmd("CLIENT")
        .arg("PAUSE")
        .arg("700")
        .arg("WRITE")
        .query(&mut admin)
        .unwrap();
    let t0 = Instant::now();
    let v: String = cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(v, "0");
    let _: String = cmd("EVAL_RO")
        .arg("return 'x'")
        .arg("0")
        .query(&mut c)
        .unwrap();
    assert!(
        t0.elapsed() < Duration::from_millis(400),
        "{:?}",
        t0.elapsed()
    );
    let _: () = cmd("SET").arg("k").arg("1").query(&mut c).unwrap();
    assert!(
        t0.elapsed() >= Duration::from_millis(550),
        "{:?}",
        t0.elapsed()
    );
    let _: () = cmd("CLIENT")
        .arg("PAUSE")
        .arg("700")
        .arg("WRITE")
        .query(&mut admin)
        .unwrap();
    let t0 = Instant::now();
    let _: i64 = cmd("PUBLISH").arg("c").arg("m").query(&mut c).unwrap();
    assert!(
        t0.elapsed() >= Duration::from_millis(550),
        "{:?}",
        t0.elapsed()
    );

    // A pipeline runs up to its first write, whose reply (and those after) wait.
    let _: () = cmd("CLIENT")
        .arg("PAUSE")
        .arg("800")
        .arg("WRITE")
        .query(&mut admin)
        .unwrap();
    let mut raw = Raw::new(srv.port);
    let t0 = Instant::now();
    raw.send(&["GET", "k"]);
    raw.send(&["INCR", "k"]);
    raw.send(&["GET", "k"]);
    assert_eq!(show(&raw.read()), "\"1\"");
    assert!(
        t0.elapsed() < Duration::from_millis(400),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(show(&raw.read()), ":2");
    assert!(
        t0.elapsed() >= Duration::from_millis(600),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(show(&raw.read()), "\"2\"");
    // MULTI queues a write without waiting; EXEC of it waits.
    let _: () = cmd("CLIENT")
        .arg("PAUSE")
        .arg("700")
        .arg("WRITE")
        .query(&mut admin)
        .unwrap();
    let t0 = Instant::now();
    assert_eq!(raw.q(&["MULTI"]), "+OK");
    assert_eq!(raw.q(&["INCR", "k"]), "+QUEUED");
    assert!(
        t0.elapsed() < Duration::from_millis(400),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(raw.q(&["EXEC"]), "[:3]");
    assert!(
        t0.elapsed() >= Duration::from_millis(550),
        "{:?}",
        t0.elapsed()
    );

    // UNPAUSE releases the waiting clients at once.
    let _: () = cmd("CLIENT")
        .arg("PAUSE")
        .arg("20000")
        .arg("WRITE")
        .query(&mut admin)
        .unwrap();
    let t0 = Instant::now();
    let h = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        let _: () = cmd("CLIENT").arg("UNPAUSE").query(&mut admin).unwrap();
        admin
    });
    let _: () = cmd("SET").arg("k").arg("2").query(&mut c).unwrap();
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(5),
        "{took:?}"
    );
    let mut admin = h.join().unwrap();

    // ALL: every command waits, reads and PING included.
    let _: () = cmd("CLIENT")
        .arg("PAUSE")
        .arg("600")
        .query(&mut admin)
        .unwrap();
    let t0 = Instant::now();
    let _: String = cmd("PING").query(&mut c).unwrap();
    assert!(
        t0.elapsed() >= Duration::from_millis(450),
        "{:?}",
        t0.elapsed()
    );

    // A paused client can still be killed.
    let _: () = cmd("CLIENT")
        .arg("PAUSE")
        .arg("20000")
        .arg("WRITE")
        .query(&mut admin)
        .unwrap();
    let mut victim = Raw::new(srv.port);
    let vid = victim.id();
    victim.send(&["SET", "k", "3"]);
    std::thread::sleep(Duration::from_millis(200));
    let n: i64 = cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(vid)
        .query(&mut c)
        .unwrap();
    assert_eq!(n, 1);
    assert!(meridian_tests::is_closed(&mut victim.w));
    let _: () = cmd("CLIENT").arg("UNPAUSE").query(&mut admin).unwrap();
    let v: String = cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(v, "2", "the killed client's write never ran");

    for (args, want) in [
        (
            &["CLIENT", "PAUSE"][..],
            "ERR wrong number of arguments for 'client|pause' command",
        ),
        (
            &["CLIENT", "PAUSE", "abc"],
            "ERR timeout is not an integer or out of range",
        ),
        (
            &["CLIENT", "PAUSE", "10", "MAYBE"],
            "ERR CLIENT PAUSE mode must be WRITE or ALL",
        ),
        (&["CLIENT", "PAUSE", "-1"], "ERR timeout is negative"),
    ] {
        let mut q = cmd(args[0]);
        for a in &args[1..] {
            q.arg(*a);
        }
        assert_eq!(err_text(q.query::<()>(&mut c).unwrap_err()), want);
    }
}

fn client_list(c: &mut redis::Connection) -> String {
    cmd("CLIENT").arg("LIST").query(c).unwrap()
}

fn line_of(list: &str, id: i64) -> String {
    list.lines()
        .find(|l| l.starts_with(&format!("id={id} ")))
        .unwrap_or_else(|| panic!("no client {id} in:\n{list}"))
        .to_string()
}

#[test]
fn client_kill_with_every_filter() {
    let srv = Server::start();
    let mut me = srv.client();
    let my_id: i64 = cmd("CLIENT").arg("ID").query(&mut me).unwrap();
    let conn = |srv: &Server| {
        let mut r = Raw::new(srv.port);
        let id = r.id();
        (r, id)
    };
    let field = |line: &str, name: &str| -> String {
        line.split(' ')
            .find_map(|f| f.strip_prefix(&format!("{name}=")))
            .unwrap_or_default()
            .to_string()
    };
    // ID
    let (mut a, aid) = conn(&srv);
    let n: i64 = cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(aid)
        .query(&mut me)
        .unwrap();
    assert_eq!(n, 1);
    assert!(meridian_tests::is_closed(&mut a.w));
    // ADDR, and the old form
    let (mut b, bid) = conn(&srv);
    let addr = field(&line_of(&client_list(&mut me), bid), "addr");
    let n: i64 = cmd("CLIENT")
        .arg("KILL")
        .arg("ADDR")
        .arg(&addr)
        .query(&mut me)
        .unwrap();
    assert_eq!(n, 1);
    assert!(meridian_tests::is_closed(&mut b.w));
    let (mut b, bid) = conn(&srv);
    let addr = field(&line_of(&client_list(&mut me), bid), "addr");
    let ok: String = cmd("CLIENT").arg("KILL").arg(&addr).query(&mut me).unwrap();
    assert_eq!(ok, "OK");
    assert!(meridian_tests::is_closed(&mut b.w));
    assert_eq!(
        err_text(
            cmd("CLIENT")
                .arg("KILL")
                .arg(&addr)
                .query::<()>(&mut me)
                .unwrap_err()
        ),
        "ERR No such client"
    );
    // USER (and SKIPME: the caller is the default user too)
    let _: () = cmd("ACL")
        .arg("SETUSER")
        .arg("kim")
        .arg("on")
        .arg(">pw")
        .arg("+@all")
        .arg("~*")
        .query(&mut me)
        .unwrap();
    let (mut u, _) = conn(&srv);
    assert_eq!(u.q(&["AUTH", "kim", "pw"]), "+OK");
    let (mut d, _) = conn(&srv);
    let n: i64 = cmd("CLIENT")
        .arg("KILL")
        .arg("USER")
        .arg("kim")
        .query(&mut me)
        .unwrap();
    assert_eq!(n, 1);
    assert!(meridian_tests::is_closed(&mut u.w));
    assert_eq!(d.q(&["PING"]), "+PONG");
    assert_eq!(
        err_text(
            cmd("CLIENT")
                .arg("KILL")
                .arg("USER")
                .arg("nobody")
                .query::<()>(&mut me)
                .unwrap_err()
        ),
        "ERR No such user 'nobody'"
    );
    // TYPE pubsub / normal
    let (mut s, _) = conn(&srv);
    assert_eq!(s.q(&["SUBSCRIBE", "x"]), "[\"subscribe\", \"x\", :1]");
    let n: i64 = cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query(&mut me)
        .unwrap();
    assert_eq!(n, 1);
    assert!(meridian_tests::is_closed(&mut s.w));
    let n: i64 = cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("master")
        .query(&mut me)
        .unwrap();
    assert_eq!(n, 0);
    // MAXAGE: only connections older than that.
    std::thread::sleep(Duration::from_millis(2100));
    let (mut young, _) = conn(&srv);
    let n: i64 = cmd("CLIENT")
        .arg("KILL")
        .arg("MAXAGE")
        .arg("1")
        .query(&mut me)
        .unwrap();
    assert_eq!(
        n, 1,
        "d is older than 1 s, the caller is skipped, young is not"
    );
    assert!(meridian_tests::is_closed(&mut d.w));
    assert_eq!(young.q(&["PING"]), "+PONG");
    // LADDR + TYPE normal: everyone connected to this port, but the caller.
    let laddr = field(&line_of(&client_list(&mut me), my_id), "laddr");
    let n: i64 = cmd("CLIENT")
        .arg("KILL")
        .arg("LADDR")
        .arg(&laddr)
        .arg("TYPE")
        .arg("normal")
        .query(&mut me)
        .unwrap();
    assert_eq!(n, 1);
    assert!(meridian_tests::is_closed(&mut young.w));
    // SKIPME no: the caller gets its reply, then is closed.
    let mut raw = Raw::new(srv.port);
    let rid = raw.id().to_string();
    assert_eq!(raw.q(&["CLIENT", "KILL", "ID", &rid, "SKIPME", "no"]), ":1");
    assert!(meridian_tests::is_closed(&mut raw.w));
    for (args, want) in [
        (
            &["CLIENT", "KILL", "TYPE", "foo"][..],
            "ERR Unknown client type 'foo'",
        ),
        (
            &["CLIENT", "KILL", "ID", "0"],
            "ERR client-id should be greater than 0",
        ),
        (
            &["CLIENT", "KILL", "ID", "abc"],
            "ERR client-id should be greater than 0",
        ),
        (&["CLIENT", "KILL", "SKIPME", "maybe"], "ERR syntax error"),
        (&["CLIENT", "KILL", "ID", "1", "ID"], "ERR syntax error"),
        (&["CLIENT", "KILL", "FOO", "bar"], "ERR syntax error"),
    ] {
        let mut q = cmd(args[0]);
        for a in &args[1..] {
            q.arg(*a);
        }
        assert_eq!(
            err_text(q.query::<()>(&mut me).unwrap_err()),
            want,
            "{args:?}"
        );
    }
}

#[test]
fn client_list_and_info_show_every_field_and_flag() {
    let srv = Server::start();
    let mut me = srv.client();
    let mut c = Raw::resp3(srv.port);
    let cid = c.id();
    assert_eq!(c.q(&["CLIENT", "SETINFO", "LIB-NAME", "redis-py"]), "+OK");
    assert_eq!(c.q(&["CLIENT", "SETINFO", "LIB-VER", "5.0.1"]), "+OK");
    assert_eq!(c.q(&["CLIENT", "SETNAME", "worker"]), "+OK");
    assert_eq!(c.q(&["CLIENT", "NO-EVICT", "ON"]), "+OK");
    assert_eq!(c.q(&["CLIENT", "NO-TOUCH", "ON"]), "+OK");
    assert_eq!(c.q(&["SELECT", "2"]), "+OK");
    let info = match c.cmd(&["CLIENT", "INFO"]) {
        V::Bulk(b) => String::from_utf8(b).unwrap(),
        other => panic!("{}", show(&other)),
    };
    let names: Vec<&str> = info
        .trim_end()
        .split(' ')
        .map(|f| f.split('=').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "id",
            "addr",
            "laddr",
            "fd",
            "name",
            "age",
            "idle",
            "flags",
            "db",
            "sub",
            "psub",
            "ssub",
            "multi",
            "watch",
            "qbuf",
            "qbuf-free",
            "argv-mem",
            "multi-mem",
            "rbs",
            "rbp",
            "obl",
            "oll",
            "omem",
            "tot-mem",
            "events",
            "cmd",
            "user",
            "redir",
            "resp",
            "lib-name",
            "lib-ver"
        ]
    );
    for want in [
        format!("id={cid} "),
        " name=worker ".into(),
        " flags=eT ".into(),
        " db=2 ".into(),
        " multi=-1 ".into(),
        " cmd=client|info ".into(),
        " user=default ".into(),
        " redir=-1 ".into(),
        " resp=3 ".into(),
        " lib-name=redis-py lib-ver=5.0.1".into(),
    ] {
        assert!(info.contains(&want), "{want:?} not in {info}");
    }
    assert!(!info.contains(" fd=-1 "), "{info}");
    // Flags as other clients see them: MULTI (x, multi=<queued>), WATCH, tracking (t),
    // pub/sub (P), blocked (b), MONITOR (O), nothing (N).
    assert_eq!(c.q(&["CLIENT", "NO-EVICT", "OFF"]), "+OK");
    assert_eq!(c.q(&["CLIENT", "NO-TOUCH", "OFF"]), "+OK");
    assert_eq!(c.q(&["WATCH", "w1", "w2"]), "+OK");
    assert_eq!(c.q(&["MULTI"]), "+OK");
    assert_eq!(c.q(&["GET", "w1"]), "+QUEUED");
    let l = line_of(&client_list(&mut me), cid);
    assert!(
        l.contains(" flags=x ") && l.contains(" multi=1 watch=2 "),
        "{l}"
    );
    assert_eq!(c.q(&["DISCARD"]), "+OK");
    assert_eq!(c.q(&["CLIENT", "TRACKING", "ON"]), "+OK");
    assert_eq!(c.q(&["SUBSCRIBE", "x"]), ">[\"subscribe\", \"x\", :1]");
    let l = line_of(&client_list(&mut me), cid);
    assert!(
        l.contains(" flags=Pt ") && l.contains(" sub=1 ") && l.contains(" redir=0 "),
        "{l}"
    );
    let pubsub: String = cmd("CLIENT")
        .arg("LIST")
        .arg("TYPE")
        .arg("pubsub")
        .query(&mut me)
        .unwrap();
    assert_eq!(pubsub.lines().count(), 1, "{pubsub}");
    assert!(pubsub.starts_with(&format!("id={cid} ")));
    let normal: String = cmd("CLIENT")
        .arg("LIST")
        .arg("TYPE")
        .arg("normal")
        .query(&mut me)
        .unwrap();
    assert!(!normal.contains(&format!("id={cid} ")), "{normal}");
    let mut b = Raw::new(srv.port);
    let bid = b.id();
    b.send(&["BLPOP", "nolist", "0"]);
    std::thread::sleep(Duration::from_millis(300));
    let l = line_of(&client_list(&mut me), bid);
    assert!(l.contains(" flags=b ") && l.contains(" cmd=blpop "), "{l}");
    let mut m = Raw::new(srv.port);
    let mid = m.id();
    assert_eq!(m.q(&["MONITOR"]), "+OK");
    let l = line_of(&client_list(&mut me), mid);
    assert!(l.contains(" flags=O "), "{l}");
    let my_id: i64 = cmd("CLIENT").arg("ID").query(&mut me).unwrap();
    let l = line_of(&client_list(&mut me), my_id);
    assert!(
        l.contains(" flags=N ") && l.contains(" cmd=client|list "),
        "{l}"
    );
}

#[test]
fn a_subscriber_that_stops_reading_stalls_neither_the_publisher_nor_other_subscribers() {
    let srv = Server::start();
    let mut admin = srv.client();
    let _: () = cmd("CONFIG")
        .arg("SET")
        .arg("client-output-buffer-limit")
        .arg("pubsub 4mb 1mb 2")
        .query(&mut admin)
        .unwrap();
    // The stalled subscriber: subscribes, then never reads again.
    let mut stalled = Raw::new(srv.port);
    let stalled_id = stalled.id();
    assert_eq!(
        stalled.q(&["SUBSCRIBE", "feed"]),
        "[\"subscribe\", \"feed\", :1]"
    );
    // The healthy one reads everything on its own thread.
    let mut healthy = Raw::new(srv.port);
    assert_eq!(
        healthy.q(&["SUBSCRIBE", "feed"]),
        "[\"subscribe\", \"feed\", :1]"
    );
    const N: usize = 400;
    let reader = std::thread::spawn(move || {
        let mut n = 0;
        while n < N {
            match healthy.read() {
                V::Arr(_, items) if items.len() == 3 => n += 1,
                other => panic!("{}", show(&other)),
            }
        }
        n
    });
    // 400 messages of 64 KiB: 25 MiB, far more than the stalled client's socket buffers
    // and its 4 MiB output limit.
    let payload = "x".repeat(64 * 1024);
    let mut p = srv.client();
    let t0 = Instant::now();
    let mut slowest = Duration::ZERO;
    for _ in 0..N {
        let t = Instant::now();
        let _: i64 = cmd("PUBLISH")
            .arg("feed")
            .arg(&payload)
            .query(&mut p)
            .unwrap();
        slowest = slowest.max(t.elapsed());
    }
    assert!(
        slowest < Duration::from_secs(2),
        "a PUBLISH took {slowest:?}"
    );
    assert!(t0.elapsed() < Duration::from_secs(60), "{:?}", t0.elapsed());
    assert_eq!(
        reader.join().unwrap(),
        N,
        "the healthy subscriber got every message"
    );
    // Other clients are answered meanwhile, and the stalled one was disconnected.
    let v: String = cmd("PING").query(&mut admin).unwrap();
    assert_eq!(v, "PONG");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list = client_list(&mut admin);
        if !list.contains(&format!("id={stalled_id} ")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "stalled subscriber still connected:\n{list}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(stalled);
}

#[test]
fn pubsub_shard_channels_and_numsub() {
    let srv = Server::start();
    let mut s = Raw::new(srv.port);
    assert_eq!(s.q(&["SSUBSCRIBE", "a:1"]), "[\"ssubscribe\", \"a:1\", :1]");
    assert_eq!(s.q(&["SSUBSCRIBE", "b:1"]), "[\"ssubscribe\", \"b:1\", :2]");
    let mut s2 = Raw::new(srv.port);
    assert_eq!(
        s2.q(&["SSUBSCRIBE", "a:1"]),
        "[\"ssubscribe\", \"a:1\", :1]"
    );
    let mut c = Raw::new(srv.port);
    assert_eq!(c.q(&["PUBSUB", "SHARDCHANNELS"]), "[\"a:1\", \"b:1\"]");
    assert_eq!(c.q(&["PUBSUB", "SHARDCHANNELS", "a*"]), "[\"a:1\"]");
    assert_eq!(
        c.q(&["PUBSUB", "SHARDNUMSUB", "a:1", "b:1", "c:1"]),
        "[\"a:1\", :2, \"b:1\", :1, \"c:1\", :0]"
    );
    assert_eq!(c.q(&["PUBSUB", "SHARDNUMSUB"]), "[]");
    // Shard channels are not plain channels.
    assert_eq!(c.q(&["PUBSUB", "CHANNELS"]), "[]");
    assert_eq!(c.q(&["PUBSUB", "NUMSUB", "a:1"]), "[\"a:1\", :0]");
    assert_eq!(c.q(&["SPUBLISH", "a:1", "m"]), ":2");
    assert_eq!(show(&s.read()), "[\"smessage\", \"a:1\", \"m\"]");
    drop(s2);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(c.q(&["PUBSUB", "SHARDNUMSUB", "a:1"]), "[\"a:1\", :1]");
}

/// A write made through any node invalidates what clients of every node cached.
#[test]
fn tracking_invalidations_reach_clients_of_every_node() {
    let c = Cluster::start(2);
    let (p0, p1) = (c.nodes[0].port, c.nodes[1].port);
    let mut w0 = c.nodes[0].client();
    let mut w1 = c.nodes[1].client();
    let _: () = cmd("SET").arg("k").arg("0").query(&mut w0).unwrap();
    // RESP3 tracking on node 0, the write on node 1.
    let mut t0 = Raw::resp3(p0);
    assert_eq!(t0.q(&["CLIENT", "TRACKING", "ON"]), "+OK");
    let deadline = Instant::now() + Duration::from_secs(10);
    while t0.q(&["GET", "k"]) != "\"0\"" {
        assert!(Instant::now() < deadline, "node 0 never saw k");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _: () = cmd("SET").arg("k").arg("1").query(&mut w1).unwrap();
    assert_eq!(t0.next_within(Duration::from_secs(10)), Some(inv(&["k"])));
    // RESP2 redirect on node 1, the write on node 0.
    let mut r1 = Raw::new(p1);
    let rid = r1.id().to_string();
    assert_eq!(
        r1.q(&["SUBSCRIBE", "__redis__:invalidate"]),
        "[\"subscribe\", \"__redis__:invalidate\", :1]"
    );
    let mut t1 = Raw::new(p1);
    assert_eq!(t1.q(&["CLIENT", "TRACKING", "ON", "REDIRECT", &rid]), "+OK");
    assert_eq!(t1.q(&["MGET", "r1", "r2"]), "[_, _]");
    let _: () = cmd("SET").arg("r2").arg("x").query(&mut w0).unwrap();
    assert_eq!(
        r1.next_within(Duration::from_secs(10)).as_deref(),
        Some("[\"message\", \"__redis__:invalidate\", [\"r2\"]]")
    );
    // BCAST on node 1, writes on node 0.
    let mut b1 = Raw::resp3(p1);
    assert_eq!(
        b1.q(&["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "u:"]),
        "+OK"
    );
    let _: () = cmd("MSET")
        .arg("u:1")
        .arg("a")
        .arg("v:1")
        .arg("b")
        .query(&mut w0)
        .unwrap();
    assert_eq!(b1.next_within(Duration::from_secs(10)), Some(inv(&["u:1"])));
    // NOLOOP on node 1: its own write (applied through the leader) is not reported
    // back; another client's write on node 0 is.
    let mut n1 = Raw::resp3(p1);
    assert_eq!(n1.q(&["CLIENT", "TRACKING", "ON", "NOLOOP"]), "+OK");
    assert_eq!(n1.q(&["MGET", "n1", "n2"]), "[_, _]");
    assert_eq!(n1.q(&["SET", "n1", "mine"]), "+OK");
    assert_eq!(n1.next_within(Duration::from_millis(800)), None);
    let _: () = cmd("SET").arg("n2").arg("theirs").query(&mut w0).unwrap();
    assert_eq!(n1.next_within(Duration::from_secs(10)), Some(inv(&["n2"])));
    // FLUSHALL on node 1 reaches node 0's tracking client.
    assert_eq!(t0.q(&["GET", "k"]), "\"1\"");
    let _: () = cmd("FLUSHALL").query(&mut w1).unwrap();
    assert_eq!(
        t0.next_within(Duration::from_secs(10)).as_deref(),
        Some(">[\"invalidate\", _]")
    );
}

/// `tracking-table-max-keys`: lowering it evicts keys from the table until it fits, each
/// evicted key invalidated for the clients that cached it (as Redis), however far over
/// the limit the table is; reads past the limit keep it within; INFO counts the table.
#[test]
fn tracking_table_max_keys_evicts_with_invalidations_and_info_counts_it() {
    let srv = Server::start();
    let mut t = Raw::resp3(srv.port);
    let mut b = Raw::resp3(srv.port);
    let mut w = srv.client();
    assert_eq!(t.q(&["CLIENT", "TRACKING", "ON"]), "+OK");
    assert_eq!(
        b.q(&["CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "p:"]),
        "+OK"
    );
    let n = 250;
    for i in 0..n {
        let k = format!("key{i}");
        assert_eq!(t.q(&["GET", &k]), "_");
    }
    let info: String = cmd("INFO").query(&mut w).unwrap();
    for line in [
        "tracking_clients:2",
        &format!("tracking_total_keys:{n}"),
        &format!("tracking_total_items:{n}"),
        "tracking_total_prefixes:1",
    ] {
        assert!(info.contains(line), "{line} not in INFO:\n{info}");
    }
    let _: () = cmd("CONFIG")
        .arg("SET")
        .arg("tracking-table-max-keys")
        .arg(1)
        .query(&mut w)
        .unwrap();
    // Exactly n - 1 keys leave the table, each with its own invalidation.
    let mut evicted = std::collections::BTreeSet::new();
    for _ in 0..n - 1 {
        let got = t
            .next_within(Duration::from_secs(5))
            .expect("an invalidation");
        assert!(got.starts_with(">[\"invalidate\", [\"key"), "{got}");
        assert!(evicted.insert(got), "invalidated twice");
    }
    assert_eq!(t.next_within(QUIET), None);
    let info: String = cmd("INFO").arg("stats").query(&mut w).unwrap();
    assert!(info.contains("tracking_total_keys:1\r\n"), "{info}");
    // A new read over the limit pushes one key out (the push may come before or after
    // the reply).
    t.send(&["GET", "fresh"]);
    let two = [show(&t.read()), show(&t.read())];
    assert!(two.contains(&"_".to_string()), "{two:?}");
    assert!(
        two.iter().any(|f| f.starts_with(">[\"invalidate\", [\"")),
        "{two:?}"
    );
    let info: String = cmd("INFO").arg("stats").query(&mut w).unwrap();
    assert!(info.contains("tracking_total_keys:1\r\n"), "{info}");
    let max: Vec<String> = cmd("CONFIG")
        .arg("GET")
        .arg("tracking-table-max-keys")
        .query(&mut w)
        .unwrap();
    assert_eq!(max, vec!["tracking-table-max-keys", "1"]);
}
