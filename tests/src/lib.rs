//! Helpers for integration tests: start the real `meridian` binary on a 127.0.0.1 port
//! with a temporary data dir, talk to it with the `redis` crate or raw TCP, kill -9 it.
//!
//! The binary must be built first (`cargo build --release -p server`); the test command
//! in the README does that.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Path of the `meridian` binary next to the test executable's profile directory.
pub fn binary() -> PathBuf {
    if let Ok(p) = std::env::var("MERIDIAN_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/<test-binary>
    let profile_dir = exe.parent().and_then(|p| p.parent()).expect("profile dir");
    let bin = profile_dir.join("meridian");
    assert!(
        bin.exists(),
        "{} not found: build it first with `cargo build --release -p server` (the README's test command does)",
        bin.display()
    );
    bin
}

/// The `tests` package's directory, read when the test runs (cargo and nextest set
/// `CARGO_MANIFEST_DIR` for test processes), so a test binary cached from a build in
/// another checkout still finds this checkout's files.
pub fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// Drains a node's stdout on a thread and signals once its banner says "ready in".
pub fn ready_signal(stdout: std::process::ChildStdout) -> mpsc::Receiver<()> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        let mut line = String::new();
        let mut sent = false;
        while r.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
            if !sent && line.contains("ready in") {
                let _ = tx.send(());
                sent = true;
            }
            line.clear();
        }
    });
    rx
}

/// A `redis` connection with bounded connect and read times.
pub fn connect(url: &str) -> redis::Connection {
    let c = redis::Client::open(url).expect("client");
    let con = c
        .get_connection_with_timeout(Duration::from_secs(10))
        .expect("connect");
    con.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    con
}

pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind :0");
    l.local_addr().expect("addr").port()
}

pub struct Server {
    child: Option<Child>,
    pub port: u16,
    /// The REST (Upstash protocol) port.
    pub rest_port: u16,
    pub dir: tempfile::TempDir,
    pub password: Option<String>,
    extra: Vec<String>,
    /// How long the last start took until the node printed its banner.
    pub last_start: Duration,
}

impl Server {
    /// A node with authentication off.
    pub fn start() -> Server {
        Server::start_with(None, &[])
    }

    /// A node requiring `password` (if given) plus extra command-line options.
    pub fn start_with(password: Option<&str>, extra: &[&str]) -> Server {
        let dir = tempfile::Builder::new()
            .prefix("meridian-test")
            .tempdir()
            .expect("tempdir");
        let mut s = Server {
            child: None,
            port: free_port(),
            rest_port: free_port(),
            dir,
            password: password.map(str::to_string),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            last_start: Duration::ZERO,
        };
        s.spawn();
        s
    }

    /// Starts the node; if a port picked by `free_port` was taken meanwhile by another
    /// test (a race no pick can avoid), picks new ports and tries again.
    fn spawn(&mut self) {
        for attempt in 0.. {
            match self.try_spawn() {
                Ok(()) => return,
                Err(log) if attempt < 5 && log.contains("Address already in use") => {
                    let _ = std::fs::remove_file(self.dir.path().join("server.log"));
                    self.port = free_port();
                    self.rest_port = free_port();
                    // A port given in the options (`--tls-port`) moves too.
                    if let Some(i) = self.extra.iter().position(|a| a == "--tls-port") {
                        self.extra[i + 1] = free_port().to_string();
                    }
                }
                Err(log) => panic!("meridian did not become ready within 60 s; log:\n{log}"),
            }
        }
    }

    fn try_spawn(&mut self) -> Result<(), String> {
        let mut cmd = Command::new(binary());
        cmd.arg("server")
            .arg("--data-dir")
            .arg(self.dir.path().join("data"))
            .arg("--bind")
            .arg("127.0.0.1");
        // Options may set their own `--port` (e.g. `--port 0`: plaintext RESP off).
        if !self.extra.iter().any(|a| a == "--port") {
            cmd.arg("--port").arg(self.port.to_string());
        }
        cmd.arg("--rest-port")
            .arg(self.rest_port.to_string())
            .args(&self.extra)
            .env_remove("MERIDIAN_PASSWORD")
            .env(
                "RUST_LOG",
                std::env::var("MERIDIAN_TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.dir.path().join("server.log"))
                    .expect("log file"),
            ));
        match &self.password {
            Some(p) => cmd.arg("--password").arg(p),
            None => cmd.arg("--no-auth"),
        };
        let t0 = Instant::now();
        let mut child = cmd.spawn().expect("spawn meridian");
        let rx = ready_signal(child.stdout.take().expect("stdout"));
        if rx.recv_timeout(Duration::from_secs(60)).is_err() {
            let _ = child.kill();
            let _ = child.wait();
            return Err(
                std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
            );
        }
        self.last_start = t0.elapsed();
        self.child = Some(child);
        Ok(())
    }

    pub fn url(&self) -> String {
        match &self.password {
            Some(p) => format!("redis://:{p}@127.0.0.1:{}/", self.port),
            None => format!("redis://127.0.0.1:{}/", self.port),
        }
    }

    pub fn client(&self) -> redis::Connection {
        connect(&self.url())
    }

    /// A raw TCP connection for protocol-level tests.
    pub fn raw(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        s
    }

    /// SIGKILL: no shutdown path runs, exactly like a crash.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// kill -9, then start again on the same data dir and port.
    pub fn crash_and_restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// Waits up to `within` for the process to exit by itself: its exit status, or None
    /// if it is still running (it is left running).
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            let child = self.child.as_mut()?;
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// The value the node was started with for option `flag` (as moved by a retry).
    pub fn option(&self, flag: &str) -> Option<&str> {
        let i = self.extra.iter().position(|a| a == flag)?;
        self.extra.get(i + 1).map(String::as_str)
    }

    /// Sends a signal (`HUP`, `STOP`, `CONT`, ...) to the node's process.
    pub fn signal(&self, sig: &str) {
        signal(self.child.as_ref(), sig);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Sends `sig` (`HUP`, `STOP`, `CONT`, ...) to a node's process, if it runs.
pub fn signal(child: Option<&Child>, sig: &str) {
    if let Some(c) = child {
        let _ = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(c.id().to_string())
            .status();
    }
}

/// Sends raw bytes and reads until `expect_bytes` are in or the peer closes.
pub fn raw_roundtrip(s: &mut TcpStream, send: &[u8], min_reply: usize) -> Vec<u8> {
    s.write_all(send).expect("write");
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(10);
    while out.len() < min_reply && Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    out
}

/// True if the peer has closed the connection (read returns EOF).
pub fn is_closed(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    matches!(s.read(&mut buf), Ok(0) | Err(_))
}

/// An error reply as one line, "CODE detail" (the `redis` crate splits the two).
pub fn err_text(e: redis::RedisError) -> String {
    match (e.code(), e.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        _ => e.to_string(),
    }
}

/// A stock redis-server (Debian's 7.0, installed by the test command) on a free
/// 127.0.0.1 port, with no persistence, for differential tests; killed on drop.
pub struct RedisServer {
    child: Child,
    pub port: u16,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is needed for this test (scripts/dev.sh test installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        RedisServer { child, port }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub mod cluster;
