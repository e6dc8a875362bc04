//! `meridian certs generate`: a self-signed CA and a node certificate, for a quick start
//! with `--tls-*` (production deployments bring their own PKI).
//!
//! The CA is `DIR/ca.crt` + `DIR/ca.key`; when both exist they are kept and the new node
//! certificate is signed by that CA, so certificates can be renewed (then SIGHUP the
//! nodes) without touching what every node trusts. Node certificates carry both the
//! server and client purposes: cluster links use the same certificate in both directions.

use crate::config::{CertsAction, CertsArgs};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use std::path::Path;

const CA_NAME: &str = "Meridian CA";

pub fn cli(c: CertsArgs) -> i32 {
    let CertsAction::Generate {
        out,
        hosts,
        name,
        days,
    } = c.action;
    match generate(&out, &hosts, &name, days) {
        Ok(reused) => {
            println!(
                "{} {}/ca.crt\nwrote {}/{name}.crt and {}/{name}.key (hosts: {})",
                if reused { "kept" } else { "wrote" },
                out.display(),
                out.display(),
                out.display(),
                sans(&hosts).join(", ")
            );
            0
        }
        Err(e) => {
            eprintln!("meridian certs: {e}");
            1
        }
    }
}

/// The names a node certificate is valid for: the given hosts, then localhost and the
/// loopback addresses (for local clients and tests).
fn sans(hosts: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for h in hosts
        .iter()
        .map(String::as_str)
        .chain(["localhost", "127.0.0.1", "::1"])
    {
        let h = h.trim();
        if !h.is_empty() && !out.iter().any(|o| o == h) {
            out.push(h.to_string());
        }
    }
    out
}

/// Civil date (year, month, day) of a day count since 1970-01-01.
fn civil(days: i64) -> (i32, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let y = (yoe + era * 400 + i64::from(m <= 2)) as i32;
    (y, m, d)
}

/// Sets a certificate's validity: from yesterday to `days` from today.
fn validity(p: &mut CertificateParams, days: i64) {
    let (y, m, d) = ymd(-1);
    p.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = ymd(days);
    p.not_after = rcgen::date_time_ymd(y, m, d);
}

fn ymd(days_from_now: i64) -> (i32, u8, u8) {
    let today = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        / 86_400) as i64;
    civil(today + days_from_now)
}

fn ca_params() -> Result<CertificateParams, rcgen::Error> {
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_NAME);
    dn.push(DnType::OrganizationName, "Meridian");
    p.distinguished_name = dn;
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    validity(&mut p, 3650);
    Ok(p)
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

/// Writes the files; returns whether an existing CA was reused.
fn generate(out: &Path, hosts: &[String], name: &str, days: u32) -> Result<bool, String> {
    if name.is_empty() || name.contains('/') || name == "ca" {
        return Err(format!(
            "--name {name:?}: pick a plain file name other than ca"
        ));
    }
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let (ca_crt, ca_key) = (out.join("ca.crt"), out.join("ca.key"));
    let err = |e: rcgen::Error| e.to_string();
    let (ca_key_pair, reused) = if ca_crt.exists() && ca_key.exists() {
        let pem =
            std::fs::read_to_string(&ca_key).map_err(|e| format!("{}: {e}", ca_key.display()))?;
        (
            KeyPair::from_pem(&pem).map_err(|e| format!("{}: {e}", ca_key.display()))?,
            true,
        )
    } else {
        (KeyPair::generate().map_err(err)?, false)
    };
    // A reused CA is re-made from its key with the same subject: what a signature by it
    // depends on (issuer name and key) is unchanged, and ca.crt is left as it is.
    let ca = ca_params()
        .map_err(err)?
        .self_signed(&ca_key_pair)
        .map_err(err)?;
    if !reused {
        std::fs::write(&ca_crt, ca.pem()).map_err(|e| format!("{}: {e}", ca_crt.display()))?;
        write_private(&ca_key, &ca_key_pair.serialize_pem())
            .map_err(|e| format!("{}: {e}", ca_key.display()))?;
    }
    let mut p = CertificateParams::new(sans(hosts)).map_err(err)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, format!("meridian {name}"));
    dn.push(DnType::OrganizationName, "Meridian");
    p.distinguished_name = dn;
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    p.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    validity(&mut p, i64::from(days.max(1)));
    let key = KeyPair::generate().map_err(err)?;
    let cert = p.signed_by(&key, &ca, &ca_key_pair).map_err(err)?;
    let (crt_path, key_path) = (
        out.join(format!("{name}.crt")),
        out.join(format!("{name}.key")),
    );
    std::fs::write(&crt_path, cert.pem()).map_err(|e| format!("{}: {e}", crt_path.display()))?;
    write_private(&key_path, &key.serialize_pem())
        .map_err(|e| format!("{}: {e}", key_path.display()))?;
    Ok(reused)
}

#[cfg(test)]
mod tests {
    #[test]
    fn civil_dates() {
        assert_eq!(super::civil(0), (1970, 1, 1));
        assert_eq!(super::civil(19_723), (2024, 1, 1));
        assert_eq!(super::civil(19_782), (2024, 2, 29));
        assert_eq!(super::civil(-1), (1969, 12, 31));
    }

    #[test]
    fn sans_add_loopback_once() {
        let s = super::sans(&["db.example".into(), "localhost".into()]);
        assert_eq!(s, vec!["db.example", "localhost", "127.0.0.1", "::1"]);
    }
}
