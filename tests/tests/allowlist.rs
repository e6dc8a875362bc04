//! The IP allowlist (`CONFIG SET meridian-allowlist "CIDR ..."`): replicated, enforced on
//! the RESP and REST ports of every node, kept across restarts. Clients connect from two
//! loopback source addresses (127.0.0.1 and 127.0.0.2) to be allowed or refused.

use meridian_tests::cluster::Cluster;
use meridian_tests::{raw_roundtrip, Server};
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// A TCP connection to 127.0.0.1:`port` from the source address `src`.
fn from(src: &str, port: u16) -> TcpStream {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let local: SocketAddr = format!("{src}:0").parse().unwrap();
    s.bind(&local.into()).unwrap();
    let to: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    s.connect_timeout(&to.into(), Duration::from_secs(5))
        .unwrap();
    let s: TcpStream = s.into();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    out
}

/// One command over a fresh connection from `src`: the reply text, or "" if the node
/// closed the connection without answering.
fn cmd_from(src: &str, port: u16, args: &[&str]) -> String {
    let mut s = from(src, port);
    String::from_utf8_lossy(&raw_roundtrip(&mut s, &resp(args), 1)).to_string()
}

fn http_from(src: &str, port: u16) -> String {
    let mut s = from(src, port);
    String::from_utf8_lossy(&raw_roundtrip(
        &mut s,
        b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        12,
    ))
    .to_string()
}

fn set_list(src: &str, port: u16, list: &str) -> String {
    cmd_from(src, port, &["CONFIG", "SET", "meridian-allowlist", list])
}

#[test]
fn allowlist_refuses_and_allows_on_resp_and_rest_and_survives_a_restart() {
    let mut s = Server::start();
    let (port, rest) = (s.port, s.rest_port);
    assert!(cmd_from("127.0.0.1", port, &["PING"]).contains("PONG"));

    // Bad blocks are refused; a list that would lock out the caller too.
    let bad = set_list("127.0.0.1", port, "10.0.0.0/8 300.1.1.1");
    assert!(bad.starts_with("-ERR CONFIG SET failed"), "{bad}");
    assert!(bad.contains("300.1.1.1"), "{bad}");
    let lockout = set_list("127.0.0.1", port, "127.0.0.2");
    assert!(lockout.contains("lock this client out"), "{lockout}");
    assert!(cmd_from("127.0.0.1", port, &["PING"]).contains("PONG"));

    // An open connection from 127.0.0.1 made before the change.
    let mut before = from("127.0.0.1", port);
    assert!(
        String::from_utf8_lossy(&raw_roundtrip(&mut before, &resp(&["PING"]), 7)).contains("PONG")
    );

    // From 127.0.0.2, allow only 127.0.0.2 (and a block that does not cover .1).
    let ok = set_list("127.0.0.2", port, "127.0.0.2, 10.0.0.0/8");
    assert_eq!(ok, "+OK\r\n");
    let got = cmd_from("127.0.0.2", port, &["CONFIG", "GET", "meridian-allowlist"]);
    assert!(got.contains("127.0.0.2/32 10.0.0.0/8"), "{got}");

    // 127.0.0.1 is refused on both ports; 127.0.0.2 is served.
    assert_eq!(
        cmd_from("127.0.0.1", port, &["PING"]),
        "",
        "RESP from .1 served"
    );
    assert!(cmd_from("127.0.0.2", port, &["PING"]).contains("PONG"));
    assert_eq!(http_from("127.0.0.1", rest), "", "REST from .1 served");
    assert!(
        http_from("127.0.0.2", rest).starts_with("HTTP/1.1 200"),
        "REST from .2"
    );
    // The refusal is logged.
    assert!(s.log().contains("connection from 127.0.0.1"), "{}", s.log());
    assert!(s.log().contains("not in the IP allowlist"));
    // Connections open before the change are not cut (documented).
    assert!(
        String::from_utf8_lossy(&raw_roundtrip(&mut before, &resp(&["PING"]), 7)).contains("PONG")
    );

    // It is replicated state: a restart keeps it.
    s.crash_and_restart();
    assert_eq!(cmd_from("127.0.0.1", port, &["PING"]), "");
    assert!(cmd_from("127.0.0.2", port, &["PING"]).contains("PONG"));

    // Cleared: everyone is served again.
    assert_eq!(set_list("127.0.0.2", port, ""), "+OK\r\n");
    assert!(cmd_from("127.0.0.1", port, &["PING"]).contains("PONG"));
    let mut c = from("127.0.0.1", port);
    let mut b = [0u8; 1];
    c.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    assert!(
        c.read(&mut b).is_err(),
        "an allowed connection is not closed"
    );
}

#[test]
fn allowlist_applies_on_every_node_of_a_cluster() {
    let cl = Cluster::start(3);
    let deadline = Instant::now() + Duration::from_secs(20);
    let leader = loop {
        if let Some(l) = cl.leader() {
            break l;
        }
        assert!(Instant::now() < deadline, "no leader");
    };
    assert_eq!(
        set_list("127.0.0.2", cl.nodes[leader].port, "127.0.0.2/32"),
        "+OK\r\n"
    );
    for n in &cl.nodes {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cmd_from("127.0.0.1", n.port, &["PING"]).is_empty() {
            assert!(
                Instant::now() < deadline,
                "node {} still serves 127.0.0.1",
                n.id
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(cmd_from("127.0.0.2", n.port, &["PING"]).contains("PONG"));
        assert_eq!(http_from("127.0.0.1", n.rest_port), "");
    }
}
