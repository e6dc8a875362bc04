//! The IP allowlist (Upstash's): CIDR blocks a client's address must fall in for the RESP
//! and REST ports to serve it. Empty (the default) allows every address.
//!
//! It is a replicated setting (`CONFIG SET meridian-allowlist "10.0.0.0/8 203.0.113.7"`),
//! kept as normalized text in the `sm` record `config:meridian-allowlist`, so every node,
//! replica and restart enforces the same list. IPv4 and IPv6 blocks are accepted; an
//! IPv4-mapped IPv6 peer (`::ffff:a.b.c.d`) is matched as its IPv4 address.

use crate::error::CmdError;
use crate::txn::Txn;
use keys::Cf;
use std::net::IpAddr;

/// The CONFIG name.
pub const NAME: &str = "meridian-allowlist";

/// One CIDR block: the network address (host bits cleared) and its prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

fn bits(ip: IpAddr) -> (u128, u8) {
    match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => (u128::from(u32::from(v4)), 32),
            None => (u128::from(v6), 128),
        },
    }
}

fn mask(prefix: u8, width: u8) -> u128 {
    if prefix == 0 {
        0
    } else {
        (!0u128 << (width - prefix))
            & (if width == 128 {
                !0
            } else {
                (1u128 << width) - 1
            })
    }
}

impl Cidr {
    /// `a.b.c.d`, `a.b.c.d/n`, an IPv6 address or `addr/n`.
    pub fn parse(s: &str) -> Option<Cidr> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().ok()?)),
            None => (s, None),
        };
        let ip: IpAddr = addr.parse().ok()?;
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let (value, width) = bits(ip);
        let prefix = prefix.unwrap_or(width);
        if prefix > width {
            return None;
        }
        let net = value & mask(prefix, width);
        let net = if width == 32 {
            IpAddr::V4((net as u32).into())
        } else {
            IpAddr::V6(net.into())
        };
        Some(Cidr { net, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let (value, width) = bits(ip);
        let (net, net_width) = bits(self.net);
        width == net_width && value & mask(self.prefix, width) == net
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

/// Parses a list of blocks separated by spaces or commas; empty means "allow all".
pub fn parse(value: &[u8]) -> Result<Vec<Cidr>, CmdError> {
    let text = std::str::from_utf8(value).map_err(|_| bad("not UTF-8"))?;
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|p| !p.is_empty())
        .map(|p| {
            Cidr::parse(p).ok_or_else(|| bad(&format!("{p:?} is not an IP address or CIDR block")))
        })
        .collect()
}

fn bad(why: &str) -> CmdError {
    CmdError::new(format!(
        "ERR CONFIG SET failed (possibly related to argument '{NAME}') - {why}"
    ))
}

/// The stored form: blocks in canonical form, one space apart.
pub fn normalize(list: &[Cidr]) -> String {
    list.iter()
        .map(Cidr::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `ip` may connect under `list`.
pub fn permits(list: &[Cidr], ip: IpAddr) -> bool {
    list.is_empty() || list.iter().any(|c| c.contains(ip))
}

/// The list in force in this transaction's state (stored text; empty when unset).
pub fn get(t: &Txn) -> Result<Vec<u8>, CmdError> {
    Ok(t.raw_get(Cf::Sm, &keys::sm::setting_key(NAME))?
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_match_their_addresses_only() {
        let l = parse(b"10.0.0.0/8, 203.0.113.7 2001:db8::/32").unwrap();
        assert_eq!(normalize(&l), "10.0.0.0/8 203.0.113.7/32 2001:db8::/32");
        assert!(permits(&l, ip("10.255.1.2")));
        assert!(!permits(&l, ip("11.0.0.1")));
        assert!(permits(&l, ip("203.0.113.7")));
        assert!(!permits(&l, ip("203.0.113.8")));
        assert!(permits(&l, ip("2001:db8:1::5")));
        assert!(!permits(&l, ip("2001:db9::1")));
        assert!(
            permits(&l, ip("::ffff:10.1.2.3")),
            "IPv4-mapped matches as IPv4"
        );
        assert!(permits(&[], ip("1.2.3.4")), "empty allows all");
        // Host bits are cleared; /0 allows every address of its family.
        assert_eq!(
            normalize(&parse(b"192.168.1.77/24").unwrap()),
            "192.168.1.0/24"
        );
        let any4 = parse(b"0.0.0.0/0").unwrap();
        assert!(permits(&any4, ip("8.8.8.8")) && !permits(&any4, ip("::1")));
    }

    #[test]
    fn bad_blocks_are_refused() {
        for b in ["10.0.0.0/33", "300.1.1.1", "abc", "1.2.3.4/x", "::1/129"] {
            assert!(parse(b.as_bytes()).is_err(), "{b}");
        }
        assert!(parse(b"").unwrap().is_empty());
    }
}
