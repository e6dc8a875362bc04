//! The official `@upstash/ratelimit` 2.x SDK (with `@upstash/redis`), unchanged, against
//! real Meridian nodes over REST: tests/node/ratelimit_sdk.mjs runs every algorithm,
//! analytics, deny lists, dynamic limits and MultiRegionRatelimit over two nodes, and
//! asserts what the server decided. Its scripts start with Upstash's
//! `#!lua flags=allow-key-locking`, so this is also the end-to-end test of that flag.
//!
//! Needs Node.js and the packages pinned in tests/node/package-lock.json:
//! `scripts/dev.sh test` installs both (`apt-get install nodejs npm`,
//! `npm ci --prefix tests/node`). Without them this test fails and says so.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use meridian_tests::Server;
use sha2::Sha256;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The documented REST token derivation (crates/server/src/rest/auth.rs):
/// base64url_nopad(HMAC-SHA256(key = password, msg = "meridian rest token v1: <kind>")).
fn rest_token(password: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(password.as_bytes()).unwrap();
    mac.update(b"meridian rest token v1: standard");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

fn node_dir() -> PathBuf {
    meridian_tests::manifest_dir().join("node")
}

const INSTALL: &str = "install them with `scripts/dev.sh test` (it runs `apt-get install nodejs npm` \
     and `npm ci --prefix tests/node`), or by hand: `apt-get install nodejs npm && npm ci --prefix tests/node`";

/// Fails, naming the install step, unless `node` runs and the pinned SDKs are installed.
fn require_node_and_sdks() {
    let node = Command::new("node")
        .arg("--version")
        .stdin(Stdio::null())
        .output();
    match node {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "`node --version` failed ({}): Node.js is needed to run @upstash/ratelimit; {INSTALL}",
            o.status
        ),
        Err(e) => {
            panic!("`node` not found ({e}): Node.js is needed to run @upstash/ratelimit; {INSTALL}")
        }
    }
    for (pkg, major) in [("@upstash/ratelimit", "2."), ("@upstash/redis", "1.")] {
        let manifest = node_dir()
            .join("node_modules")
            .join(pkg)
            .join("package.json");
        let text = std::fs::read_to_string(&manifest).unwrap_or_else(|_| {
            panic!(
                "{pkg} is not installed ({} missing); {INSTALL}",
                manifest.display()
            )
        });
        let version = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["version"].as_str().map(str::to_string))
            .unwrap_or_default();
        assert!(
            version.starts_with(major),
            "{pkg} {version} is installed, but tests/node/package.json pins {major}x; {INSTALL}"
        );
    }
}

/// Runs `cmd` with its output in a file, killing it after `limit`: (exit code, output).
fn run_bounded(cmd: &mut Command, limit: Duration) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_path = dir.path().join("out");
    let out = std::fs::File::create(&out_path).expect("output file");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("dup"))
        .stderr(out)
        .spawn()
        .expect("spawn node");
    let deadline = Instant::now() + limit;
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let text = std::fs::read_to_string(&out_path).unwrap_or_default();
            panic!(
                "the ratelimit SDK test did not finish within {limit:?}; output so far:\n{text}"
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (code, std::fs::read_to_string(&out_path).unwrap_or_default())
}

#[test]
fn upstash_ratelimit_sdk_end_to_end() {
    require_node_and_sdks();
    // Two single-node databases: the two "regions" of MultiRegionRatelimit (the
    // single-region cases use the first).
    let a = Server::start_with(Some("ratelimit-pw-a"), &[]);
    let b = Server::start_with(Some("ratelimit-pw-b"), &[]);
    let (code, out) = run_bounded(
        Command::new("node")
            .arg(node_dir().join("ratelimit_sdk.mjs"))
            .current_dir(node_dir())
            .env(
                "MERIDIAN_REST_URL",
                format!("http://127.0.0.1:{}", a.rest_port),
            )
            .env("MERIDIAN_REST_TOKEN", rest_token("ratelimit-pw-a"))
            .env(
                "MERIDIAN_REST_URL_2",
                format!("http://127.0.0.1:{}", b.rest_port),
            )
            .env("MERIDIAN_REST_TOKEN_2", rest_token("ratelimit-pw-b"))
            .env_remove("RATELIMIT_CASES"),
        Duration::from_secs(240),
    );
    println!("{out}");
    assert_eq!(
        code,
        Some(0),
        "@upstash/ratelimit against Meridian failed:\n{out}\nnode a log:\n{}\nnode b log:\n{}",
        a.log(),
        b.log()
    );
    // Every case ran and passed (a case silently skipped would not print its line).
    for case in [
        "fixedWindow",
        "fixedWindow blockUntilReady",
        "slidingWindow",
        "tokenBucket",
        "cachedFixedWindow",
        "analytics",
        "deny list (IP list fetch disabled)",
        "dynamic limits",
        "MultiRegionRatelimit fixedWindow",
        "MultiRegionRatelimit slidingWindow",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(&format!("ok {case} ("))),
            "case {case:?} did not pass:\n{out}"
        );
    }
    assert!(out.contains("10 passed, 0 failed"), "{out}");
}
