//! A line-based control socket for the proxy binary: one command per line, one reply
//! line (`ok`, `err <why>`, or JSON for `status`). Endpoints are numbers (0 = clients),
//! `*` means every endpoint the proxy knows.
//!
//! ```text
//! delay FROM TO MS [JITTER_MS]     bytes FROM→TO held MS (+ uniform 0..JITTER) ms
//! bandwidth FROM TO BYTES_PER_SEC  0 = unlimited
//! cut FROM TO [stall|drop]         one-way: bytes FROM→TO stall (default) or vanish
//! partition A,B C,D [stall|drop]   full partition between the two groups
//! refuse FROM TO                   connections FROM opens to TO are reset
//! heal [FROM TO]                   clear one direction, or everything
//! status                           faults set and per-link counters, as JSON
//! ```

use crate::proxy::{Cut, Endpoint, Net};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

fn eps(net: &Net, s: &str) -> Result<Vec<Endpoint>, String> {
    if s == "*" {
        return Ok(net.endpoints());
    }
    s.split(',')
        .map(|x| {
            x.parse::<Endpoint>()
                .map_err(|_| format!("bad endpoint {x:?}"))
        })
        .collect()
}

fn cut_kind(s: Option<&str>) -> Result<Cut, String> {
    match s {
        None | Some("stall") => Ok(Cut::Stall),
        Some("drop") => Ok(Cut::Drop),
        Some(x) => Err(format!("bad cut kind {x:?} (stall or drop)")),
    }
}

fn num(s: Option<&str>, what: &str) -> Result<u64, String> {
    s.ok_or_else(|| format!("missing {what}"))?
        .parse()
        .map_err(|_| format!("bad {what}"))
}

/// Runs one control command against `net`.
pub fn command(net: &Net, line: &str) -> Result<String, String> {
    let w: Vec<&str> = line.split_whitespace().collect();
    let pairs = |a: &str, b: &str| -> Result<Vec<(Endpoint, Endpoint)>, String> {
        let (a, b) = (eps(net, a)?, eps(net, b)?);
        Ok(a.iter()
            .flat_map(|x| b.iter().map(move |y| (*x, *y)))
            .filter(|(x, y)| x != y)
            .collect())
    };
    match w.as_slice() {
        ["status"] => {
            let faults: Vec<_> = net
                .table()
                .into_iter()
                .map(|((a, b), f)| serde_json::json!({"from": a, "to": b, "faults": f}))
                .collect();
            let links: Vec<_> = net
                .stats()
                .into_iter()
                .map(|((a, b), l, t, s)| {
                    serde_json::json!({"from": a, "to": b, "listen": l.to_string(), "target": t.to_string(), "stats": s})
                })
                .collect();
            Ok(serde_json::json!({"faults": faults, "links": links}).to_string())
        }
        ["heal"] => {
            net.heal();
            Ok("ok".into())
        }
        ["heal", a, b] => {
            for (x, y) in pairs(a, b)? {
                net.heal_dir(x, y);
            }
            Ok("ok".into())
        }
        ["delay", a, b, ms, rest @ ..] => {
            let ms = num(Some(ms), "ms")?;
            let jitter = rest
                .first()
                .map(|j| num(Some(j), "jitter"))
                .transpose()?
                .unwrap_or(0);
            for (x, y) in pairs(a, b)? {
                net.delay(x, y, ms, jitter);
            }
            Ok("ok".into())
        }
        ["bandwidth", a, b, bps] => {
            let bps = num(Some(bps), "bytes per second")?;
            for (x, y) in pairs(a, b)? {
                net.bandwidth(x, y, bps);
            }
            Ok("ok".into())
        }
        ["cut", a, b, rest @ ..] => {
            let how = cut_kind(rest.first().copied())?;
            for (x, y) in pairs(a, b)? {
                net.cut(x, y, how);
            }
            Ok("ok".into())
        }
        ["partition", a, b, rest @ ..] => {
            let how = cut_kind(rest.first().copied())?;
            net.partition(&eps(net, a)?, &eps(net, b)?, how);
            Ok("ok".into())
        }
        ["refuse", a, b] => {
            for (x, y) in pairs(a, b)? {
                net.refuse(x, y, true);
            }
            Ok("ok".into())
        }
        _ => Err(format!("unknown command {line:?}")),
    }
}

/// Serves the control socket until the process ends.
pub async fn serve(net: Net, listener: TcpListener) {
    while let Ok((sock, _)) = listener.accept().await {
        let net = net.clone();
        tokio::spawn(async move {
            let (r, mut w) = sock.into_split();
            let mut lines = BufReader::new(r).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if line.trim().is_empty() {
                    continue;
                }
                let reply = match command(&net, &line) {
                    Ok(s) => s,
                    Err(e) => format!("err {e}"),
                };
                if w.write_all(format!("{reply}\n").as_bytes()).await.is_err() {
                    return;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn commands_change_the_fault_table() {
        let net = Net::new();
        net.add_link(
            1,
            2,
            "127.0.0.1:0".parse().unwrap(),
            "127.0.0.1:9".parse().unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(command(&net, "delay 1 2 50 10").unwrap(), "ok");
        assert_eq!(net.faults(1, 2).delay_ms, 50);
        assert_eq!(command(&net, "cut 2 1 drop").unwrap(), "ok");
        assert_eq!(net.faults(2, 1).cut, Cut::Drop);
        assert_eq!(net.faults(1, 2).cut, Cut::None);
        command(&net, "partition 1 2").unwrap();
        assert_eq!(net.faults(1, 2).cut, Cut::Stall);
        assert!(command(&net, "status").unwrap().contains("\"links\""));
        command(&net, "heal").unwrap();
        assert!(net.table().is_empty());
        assert!(command(&net, "bogus").is_err());
    }
}
