//! docs/compatibility.md must agree with the command table of the real binary.

use meridian_tests::Server;
use redis::cmd;
use std::collections::BTreeSet;

#[test]
fn compatibility_matrix_matches_command_table() {
    let s = Server::start();
    let mut c = s.client();
    let have: BTreeSet<String> = cmd("COMMAND")
        .arg("LIST")
        .query::<Vec<String>>(&mut c)
        .unwrap()
        .into_iter()
        .map(|n| n.to_uppercase())
        .collect();
    let doc =
        std::fs::read_to_string(meridian_tests::manifest_dir().join("../docs/compatibility.md"))
            .unwrap();
    let mut rows = 0;
    let mut wrong = Vec::new();
    for line in doc.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() != 5 || !(cells[3].contains("supported") || cells[3].contains("not yet")) {
            continue;
        }
        rows += 1;
        let base = cells[2]
            .split(|ch: char| ch == ' ' || ch == '(')
            .next()
            .unwrap()
            .to_uppercase();
        let claimed = cells[3].contains("✅");
        if claimed != have.contains(&base) {
            wrong.push(format!(
                "{} (doc says {}, table says {})",
                cells[2],
                claimed,
                have.contains(&base)
            ));
        }
    }
    assert!(rows > 200, "matrix has only {rows} rows");
    assert!(
        wrong.is_empty(),
        "docs/compatibility.md is out of date (run scripts/gen_compat.py): {wrong:?}"
    );
}
