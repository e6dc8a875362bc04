//! TLS on every port: RESP (`--tls-port`, with plaintext off by `--port 0`), REST over
//! HTTPS (`--tls-rest`) and cluster links with mutual TLS (`--tls-cluster`), with the
//! certificates from `meridian certs generate`. Every client kind is used for real: the
//! `redis` crate (rediss://), redis-cli --tls, redis-py and the Python Upstash SDK over
//! https, plus a raw rustls HTTPS client that also reads the served certificate (SIGHUP
//! reload).

use meridian_tests::cluster::Cluster;
use meridian_tests::{binary, free_port, Server};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `meridian certs generate --out dir --name name`: the CA in `dir` is kept if present.
fn gen_certs(dir: &Path, name: &str) {
    let out = Command::new(binary())
        .args(["certs", "generate", "--out"])
        .arg(dir)
        .args(["--name", name, "--host", "node.test"])
        .output()
        .expect("run meridian certs");
    assert!(
        out.status.success(),
        "certs generate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn tls_args(dir: &Path, name: &str) -> Vec<String> {
    vec![
        "--tls-cert-file".into(),
        dir.join(format!("{name}.crt")).display().to_string(),
        "--tls-key-file".into(),
        dir.join(format!("{name}.key")).display().to_string(),
        "--tls-ca-cert-file".into(),
        dir.join("ca.crt").display().to_string(),
    ]
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A `redis` connection over TLS trusting `ca`, optionally presenting a client certificate.
fn tls_conn(
    port: u16,
    pw: &str,
    ca: &Path,
    client: Option<(&Path, &Path)>,
) -> redis::RedisResult<redis::Connection> {
    let c = redis::Client::build_with_tls(
        format!("rediss://:{pw}@127.0.0.1:{port}/"),
        redis::TlsCertificates {
            client_tls: client.map(|(c, k)| redis::ClientTlsConfig {
                client_cert: read(c),
                client_key: read(k),
            }),
            root_cert: Some(read(ca)),
        },
    )?;
    let con = c.get_connection_with_timeout(Duration::from_secs(10))?;
    con.set_read_timeout(Some(Duration::from_secs(30)))?;
    Ok(con)
}

#[allow(deprecated)]
fn client_config(ca: &Path, client: Option<(&Path, &Path)>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).expect("ca") {
        roots.add(c.expect("ca pem")).expect("ca cert");
    }
    let b = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots);
    Arc::new(match client {
        Some((c, k)) => b
            .with_client_auth_cert(
                CertificateDer::pem_file_iter(c)
                    .expect("cert")
                    .map(|c| c.expect("cert pem"))
                    .collect(),
                PrivateKeyDer::from_pem_file(k).expect("key"),
            )
            .expect("client cert"),
        None => b.with_no_client_auth(),
    })
}

/// A TLS session to 127.0.0.1:`port`, handshake completed (the error if it fails).
fn tls_stream(
    port: u16,
    cfg: Arc<rustls::ClientConfig>,
) -> Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>, String> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(cfg, name).map_err(|e| e.to_string())?;
    let mut s = rustls::StreamOwned::new(conn, tcp);
    while s.conn.is_handshaking() {
        s.conn
            .complete_io(&mut s.sock)
            .map_err(|e| format!("handshake: {e}"))?;
    }
    Ok(s)
}

/// The DER of the certificate the server at `port` presents now.
fn served_cert(port: u16, ca: &Path) -> Vec<u8> {
    let s = tls_stream(port, client_config(ca, None)).expect("tls");
    s.conn.peer_certificates().expect("peer certs")[0].to_vec()
}

/// One HTTPS request (Connection: close): status code and body, or the error.
fn https(
    port: u16,
    cfg: Arc<rustls::ClientConfig>,
    method: &str,
    path: &str,
    token: &str,
    body: &str,
) -> Result<(u16, String), String> {
    let mut s = tls_stream(port, cfg)?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    // A peer that closes without close_notify still delivered the response.
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no HTTP response: {text:?}"))?;
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    Ok((status, body))
}

/// A node with RESP only over TLS (`--port 0 --tls-port`) and HTTPS REST, and the
/// directory holding its certificates (the CA and `node.crt`/`node.key`).
struct TlsNode {
    s: Server,
    certs: tempfile::TempDir,
}

impl TlsNode {
    fn start(extra: &[&str]) -> TlsNode {
        let certs = tempfile::tempdir().unwrap();
        gen_certs(certs.path(), "node");
        let port = free_port();
        let mut args: Vec<String> = vec![
            "--port".into(),
            "0".into(),
            "--tls-port".into(),
            port.to_string(),
            "--tls-rest".into(),
        ];
        args.extend(tls_args(certs.path(), "node"));
        args.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut s = Server::start_with(Some("pw"), &refs);
        // The TLS port, as `Server` may have moved it (taken by another test meanwhile).
        s.port = s.option("--tls-port").and_then(|p| p.parse().ok()).unwrap();
        TlsNode { s, certs }
    }

    fn ca(&self) -> PathBuf {
        self.certs.path().join("ca.crt")
    }

    fn conn(&self) -> redis::Connection {
        tls_conn(self.s.port, "pw", &self.ca(), None).expect("tls connection")
    }

    fn token(&self) -> String {
        redis::cmd("ACL")
            .arg("RESTTOKEN")
            .arg("default")
            .arg("pw")
            .query(&mut self.conn())
            .expect("ACL RESTTOKEN")
    }
}

fn venv_python() -> PathBuf {
    let venv = std::env::var_os("MERIDIAN_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/meridian/venv")
        });
    let py = venv.join("bin/python");
    assert!(
        py.exists(),
        "{} missing: `scripts/dev.sh test` makes the venv (redis-py, upstash-redis)",
        py.display()
    );
    py
}

fn python(script: &str, env: &[(&str, String)]) -> String {
    let out = Command::new(venv_python())
        .arg("-c")
        .arg(script)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "python failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn every_client_kind_over_tls_and_no_plaintext() {
    let n = TlsNode::start(&[]);
    let (s, ca) = (&n.s, n.ca());
    let port = s.port;

    // The redis crate over rediss://.
    let mut c = n.conn();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut c).unwrap();
    let v: String = redis::cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(v, "v");

    // Plaintext RESP on the TLS port gets no reply, and the node keeps serving.
    let mut raw = TcpStream::connect(("127.0.0.1", port)).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    raw.write_all(b"*1\r\n$4\r\nPING\r\n").unwrap();
    let mut buf = [0u8; 64];
    let got = raw.read(&mut buf).unwrap_or(0);
    assert!(
        !String::from_utf8_lossy(&buf[..got]).contains("PONG"),
        "plaintext answered on the TLS port"
    );
    let v: String = redis::cmd("GET").arg("k").query(&mut c).unwrap();
    assert_eq!(v, "v");

    // redis-cli --tls.
    let out = Command::new("redis-cli")
        .args(["--tls", "--cacert"])
        .arg(&ca)
        .args(["-p", &port.to_string(), "-a", "pw", "--no-auth-warning"])
        .args(["SET", "cli", "from-redis-cli"])
        .output()
        .expect("redis-cli (redis-tools) is needed");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "OK",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: String = redis::cmd("GET").arg("cli").query(&mut c).unwrap();
    assert_eq!(v, "from-redis-cli");

    // redis-py with ssl=True and the CA.
    let got = python(
        "import os, redis\n\
         r = redis.Redis(host='127.0.0.1', port=int(os.environ['P']), password='pw', ssl=True, ssl_ca_certs=os.environ['CA'])\n\
         r.set('py', 'from-redis-py')\n\
         print(r.get('cli').decode())",
        &[("P", port.to_string()), ("CA", ca.display().to_string())],
    );
    assert_eq!(got, "from-redis-cli");
    let v: String = redis::cmd("GET").arg("py").query(&mut c).unwrap();
    assert_eq!(v, "from-redis-py");

    // REST over HTTPS: a raw client, then the Python Upstash SDK.
    let tok = n.token();
    let cfg = client_config(&ca, None);
    let (code, body) = https(
        s.rest_port,
        cfg.clone(),
        "POST",
        "/",
        &tok,
        r#"["SET","h","from-https"]"#,
    )
    .expect("https");
    assert_eq!((code, body.as_str()), (200, r#"{"result":"OK"}"#));
    let (code, _) = https(s.rest_port, cfg, "GET", "/get/h", "not-the-token", "").unwrap();
    assert_eq!(code, 401, "a bad token over HTTPS is refused");
    let got = python(
        "import os\n\
         from upstash_redis import Redis\n\
         r = Redis(url=os.environ['URL'], token=os.environ['TOKEN'])\n\
         r.set('sdk', 'from-upstash-sdk')\n\
         print(r.get('h'))",
        &[
            ("URL", format!("https://127.0.0.1:{}", s.rest_port)),
            ("TOKEN", tok.clone()),
            ("SSL_CERT_FILE", ca.display().to_string()),
        ],
    );
    assert_eq!(got, "from-https");
    let v: String = redis::cmd("GET").arg("sdk").query(&mut c).unwrap();
    assert_eq!(v, "from-upstash-sdk");

    // Plain HTTP on the HTTPS port gets no HTTP answer.
    let mut raw = TcpStream::connect(("127.0.0.1", s.rest_port)).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    raw.write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let got = raw.read(&mut buf).unwrap_or(0);
    assert!(
        !String::from_utf8_lossy(&buf[..got]).starts_with("HTTP/1.1 200"),
        "plain HTTP answered on the HTTPS port"
    );
}

#[test]
fn client_certificates_required_with_tls_auth_clients_yes() {
    let n = TlsNode::start(&["--tls-auth-clients", "yes"]);
    let (s, certs) = (&n.s, n.certs.path());
    let ca = n.ca();
    let ident = (certs.join("node.crt"), certs.join("node.key"));

    // Without a client certificate: refused, on RESP and on HTTPS.
    let no_cert = tls_conn(s.port, "pw", &ca, None)
        .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
    assert!(
        no_cert.is_err(),
        "a client without a certificate was served"
    );
    assert!(
        https(
            s.rest_port,
            client_config(&ca, None),
            "GET",
            "/ping",
            "x",
            ""
        )
        .is_err(),
        "HTTPS without a client certificate was served"
    );

    // With one the CA signed: served.
    let mut c = tls_conn(s.port, "pw", &ca, Some((&ident.0, &ident.1))).expect("mTLS");
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
    let tok: String = redis::cmd("ACL")
        .arg("RESTTOKEN")
        .arg("default")
        .arg("pw")
        .query(&mut c)
        .unwrap();
    let (code, body) = https(
        s.rest_port,
        client_config(&ca, Some((&ident.0, &ident.1))),
        "GET",
        "/ping",
        &tok,
        "",
    )
    .expect("https with a client certificate");
    assert_eq!((code, body.as_str()), (200, r#"{"result":"PONG"}"#));

    // A certificate from another CA is refused.
    let other = tempfile::tempdir().unwrap();
    gen_certs(other.path(), "node");
    let bad = tls_conn(
        s.port,
        "pw",
        &ca,
        Some((
            &other.path().join("node.crt"),
            &other.path().join("node.key"),
        )),
    )
    .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
    assert!(
        bad.is_err(),
        "a certificate from an unknown CA was accepted"
    );
}

#[test]
fn sighup_reloads_the_certificate_and_a_bad_reload_keeps_the_old_one() {
    let n = TlsNode::start(&[]);
    let (s, ca) = (&n.s, n.ca());
    let mut c = n.conn();
    let before = served_cert(s.port, &ca);
    assert_eq!(
        before,
        served_cert(s.rest_port, &ca),
        "RESP and REST serve one cert"
    );

    gen_certs(n.certs.path(), "node"); // same CA, new node key and certificate
    s.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    let after = loop {
        let now = served_cert(s.port, &ca);
        if now != before {
            break now;
        }
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not reload the certificate"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(after, served_cert(s.rest_port, &ca), "REST reloaded too");
    // A connection opened before the reload keeps working.
    let _: () = redis::cmd("SET").arg("a").arg("1").query(&mut c).unwrap();

    // A broken key: the reload is refused (logged) and the served certificate stays.
    std::fs::write(n.certs.path().join("node.key"), b"not a key").unwrap();
    s.signal("HUP");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !s.log().contains("TLS reload failed") {
        assert!(
            Instant::now() < deadline,
            "no reload failure logged:\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(served_cert(s.port, &ca), after);
    let v: String = redis::cmd("GET").arg("a").query(&mut c).unwrap();
    assert_eq!(v, "1");
}

#[test]
fn cluster_links_use_mutual_tls_and_refuse_an_unknown_certificate() {
    let good = tempfile::tempdir().unwrap();
    gen_certs(good.path(), "node");
    let other = tempfile::tempdir().unwrap();
    gen_certs(other.path(), "node");
    let (g, o) = (good.path().to_path_buf(), other.path().to_path_buf());
    // Node 3 has a certificate (and trust) from another CA.
    let mut cl = Cluster::start_each(
        3,
        move |id| {
            let dir = if id == 3 { &o } else { &g };
            let mut a = tls_args(dir, "node");
            a.push("--tls-cluster".into());
            a
        },
        |id| id != 3,
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let leader = loop {
        if let Some(l) = [0usize, 1].into_iter().find(|&i| {
            let mut c = cl.nodes[i].client();
            let info: String = redis::cmd("INFO").arg("replication").query(&mut c).unwrap();
            info.contains("raft_role:leader")
        }) {
            break l;
        }
        assert!(Instant::now() < deadline, "no leader among nodes 1 and 2");
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut lc = cl.nodes[leader].client();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut lc).unwrap();
    let mut fc = cl.nodes[1 - leader].client();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let v: Option<String> = redis::cmd("GET").arg("k").query(&mut fc).unwrap();
        if v.as_deref() == Some("v") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the follower never got the write"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Node 3's links are refused, and the refusal is logged.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cl.nodes.iter().any(|n| n.log().contains("refused: TLS")) {
        assert!(
            Instant::now() < deadline,
            "no TLS refusal logged:\n{}\n{}",
            cl.nodes[0].log(),
            cl.nodes[2].log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!cl.nodes[2].log().contains("ready after"));

    // The admin CLI needs the CA and a client certificate; plaintext gRPC is refused.
    let status = |tls: bool| {
        let mut cmd = Command::new(binary());
        cmd.args(["cluster", "status", "--addr"])
            .arg(cl.nodes[leader].cluster_addr())
            .env_remove("MERIDIAN_PASSWORD");
        if tls {
            cmd.args(tls_args(good.path(), "node"));
        }
        cmd.output().expect("meridian cluster status")
    };
    let ok = status(true);
    assert!(
        String::from_utf8_lossy(&ok.stdout).contains("leader:"),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        !status(false).status.success(),
        "plaintext admin RPC served"
    );

    // A read replica with a certificate from the cluster's CA joins and replicates.
    let r = cl.add_replica_with(
        "eu-west-1",
        &tls_args(good.path(), "node")
            .iter()
            .map(String::as_str)
            .chain(["--tls-cluster"])
            .collect::<Vec<_>>(),
    );
    let mut rc = cl.nodes[r].client();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let v: Option<String> = redis::cmd("GET").arg("k").query(&mut rc).unwrap();
        if v.as_deref() == Some("v") {
            break;
        }
        assert!(Instant::now() < deadline, "the replica never got the write");
        std::thread::sleep(Duration::from_millis(50));
    }
}
