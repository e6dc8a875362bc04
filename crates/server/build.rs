//! Build facts INFO server reports as Redis does (its mkreleasehdr.sh):
//! `MERIDIAN_GIT_SHA1` (the first 8 hex digits of HEAD, 00000000 outside a git tree),
//! `MERIDIAN_GIT_DIRTY` (the line count of `git diff`, 0 when clean or unknown) and
//! `MERIDIAN_BUILD_ID` (a hex digest of the version, those two, the host and the time).

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// FNV-1a, 64 bits: a stable digest with no dependency.
fn fnv(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0u8]) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

fn main() {
    let sha1 = git(&["rev-parse", "HEAD"])
        .map(|s| s.trim().chars().take(8).collect::<String>())
        .filter(|s| s.len() == 8)
        .unwrap_or_else(|| "00000000".into());
    let dirty = git(&["diff", "--no-ext-diff"]).map_or(0, |d| d.lines().count());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let build_id = fnv(&[
        &std::env::var("CARGO_PKG_VERSION").unwrap_or_default(),
        &sha1,
        &dirty.to_string(),
        host.trim(),
        &now.to_string(),
    ]);
    println!("cargo:rustc-env=MERIDIAN_GIT_SHA1={sha1}");
    println!("cargo:rustc-env=MERIDIAN_GIT_DIRTY={dirty}");
    println!("cargo:rustc-env=MERIDIAN_BUILD_ID={build_id:x}");
    // Runs again when the checkout moves (a commit, a checkout, a change to the index),
    // not on every edit.
    println!("cargo:rerun-if-changed=build.rs");
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        let dir = dir.trim();
        println!("cargo:rerun-if-changed={dir}/HEAD");
        println!("cargo:rerun-if-changed={dir}/index");
        if let Some(head) = git(&["symbolic-ref", "-q", "HEAD"]) {
            println!("cargo:rerun-if-changed={dir}/{}", head.trim());
        }
    }
}
