//! A fault-injecting TCP proxy: one listener per directed link, faults per direction of
//! bytes between two endpoints, changed at runtime.
//!
//! Endpoints are small integers: Meridian nodes are 1..=n, the test driver (clients) is 0.
//! A *link* `(a, b)` is a listener that accepts the connections `a` initiates towards
//! `b` and forwards them to `b`'s real port. Faults are not kept per link but per
//! *direction of bytes*: [`Faults`] for `(a, b)` apply to every byte `a` sends to `b`,
//! whoever opened the connection: on link `(a, b)` the request bytes, on link `(b, a)`
//! the reply bytes. So a one-way partition "a → b cut" is `cut(a, b)`: b hears nothing
//! from a, on any connection, while a still hears b.
//!
//! Fault kinds (each per direction):
//! - `delay` + `jitter`: every chunk is held `delay + uniform(0..jitter)` ms; the stream
//!   order is kept (a chunk never overtakes the previous one), as TCP does.
//! - `bandwidth`: bytes per second; the writer sleeps `len / rate` per chunk.
//! - `cut = Stall`: bytes are not read from the sender while the cut lasts, so they wait
//!   in socket buffers (what a dropped-packet partition does to TCP: the sender
//!   retransmits, the data arrives after the heal if the connection is still alive).
//! - `cut = Drop`: bytes are read and thrown away (a black hole). The stream is then
//!   corrupt, so healing a dropped direction resets the link's open connections.
//! - `refuse` (per link, i.e. for connections `a` opens to `b`): new connections are
//!   closed at once with a reset, and open ones are reset when it is set.
//!
//! The proxy never parses the bytes it forwards.

use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// An endpoint: 0 = the test driver's clients, 1..=n = nodes.
pub type Endpoint = u32;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cut {
    #[default]
    None,
    Stall,
    Drop,
}

/// The faults on one direction of bytes `(from, to)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Faults {
    pub cut: Cut,
    pub delay_ms: u64,
    pub jitter_ms: u64,
    /// Bytes per second; 0 = unlimited.
    pub bandwidth: u64,
    /// Connections `from` opens to `to` are refused (and open ones reset).
    pub refuse: bool,
    /// Bumped to reset every open connection carrying this direction.
    #[serde(skip)]
    pub epoch: u64,
}

impl Faults {
    pub fn is_clear(&self) -> bool {
        self.cut == Cut::None
            && self.delay_ms == 0
            && self.jitter_ms == 0
            && self.bandwidth == 0
            && !self.refuse
    }
}

#[derive(Default, Debug, Clone, Serialize)]
pub struct LinkStats {
    pub connections: u64,
    pub refused: u64,
    pub bytes: u64,
    pub dropped_bytes: u64,
}

#[derive(Default)]
struct Counters {
    connections: AtomicU64,
    refused: AtomicU64,
    bytes: AtomicU64,
    dropped: AtomicU64,
}

/// The fault table and the links. Cheap to clone; every clone controls the same proxy.
#[derive(Clone, Default)]
pub struct Net {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    dirs: Mutex<BTreeMap<(Endpoint, Endpoint), watch::Sender<Faults>>>,
    links: Mutex<BTreeMap<(Endpoint, Endpoint), (SocketAddr, SocketAddr, Arc<Counters>)>>,
    /// Endpoints named by a link or a listener.
    known: Mutex<std::collections::BTreeSet<Endpoint>>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for t in self.tasks.get_mut().map(std::mem::take).unwrap_or_default() {
            t.abort();
        }
    }
}

impl Net {
    pub fn new() -> Net {
        Net::default()
    }

    fn dir(&self, from: Endpoint, to: Endpoint) -> watch::Receiver<Faults> {
        let mut d = self.inner.dirs.lock().unwrap();
        d.entry((from, to))
            .or_insert_with(|| watch::channel(Faults::default()).0)
            .subscribe()
    }

    /// Current faults of the direction `from → to`.
    pub fn faults(&self, from: Endpoint, to: Endpoint) -> Faults {
        *self.dir(from, to).borrow()
    }

    /// Changes the faults of `from → to` with `f`.
    pub fn update(&self, from: Endpoint, to: Endpoint, f: impl FnOnce(&mut Faults)) {
        let mut d = self.inner.dirs.lock().unwrap();
        let tx = d
            .entry((from, to))
            .or_insert_with(|| watch::channel(Faults::default()).0);
        tx.send_modify(|cur| {
            let before = *cur;
            f(cur);
            // A black-holed stream lost bytes: its connections cannot carry on after a
            // heal. Refusing resets open connections too.
            if (before.cut == Cut::Drop && cur.cut != Cut::Drop) || (cur.refuse && !before.refuse) {
                cur.epoch += 1;
            }
        });
    }

    /// Every endpoint known to the proxy (from its links).
    pub fn endpoints(&self) -> Vec<Endpoint> {
        self.inner.known.lock().unwrap().iter().copied().collect()
    }

    /// Cuts the bytes `from → to` (a one-way partition).
    pub fn cut(&self, from: Endpoint, to: Endpoint, how: Cut) {
        self.update(from, to, |f| f.cut = how);
    }

    /// Full partition: no byte crosses between any member of `a` and any member of `b`.
    pub fn partition(&self, a: &[Endpoint], b: &[Endpoint], how: Cut) {
        for &x in a {
            for &y in b {
                self.cut(x, y, how);
                self.cut(y, x, how);
            }
        }
    }

    /// Refuses (true) or allows connections `from` opens to `to`.
    pub fn refuse(&self, from: Endpoint, to: Endpoint, on: bool) {
        self.update(from, to, |f| f.refuse = on);
    }

    pub fn delay(&self, from: Endpoint, to: Endpoint, ms: u64, jitter_ms: u64) {
        self.update(from, to, |f| {
            f.delay_ms = ms;
            f.jitter_ms = jitter_ms;
        });
    }

    pub fn bandwidth(&self, from: Endpoint, to: Endpoint, bytes_per_sec: u64) {
        self.update(from, to, |f| f.bandwidth = bytes_per_sec);
    }

    /// Clears every fault of `from → to`.
    pub fn heal_dir(&self, from: Endpoint, to: Endpoint) {
        self.update(from, to, |f| {
            let epoch = f.epoch;
            *f = Faults {
                epoch,
                ..Faults::default()
            }
        });
    }

    /// Clears every fault everywhere.
    pub fn heal(&self) {
        let keys: Vec<_> = self.inner.dirs.lock().unwrap().keys().copied().collect();
        for (a, b) in keys {
            self.heal_dir(a, b);
        }
    }

    /// The directions with a fault set, for reports and the control socket.
    pub fn table(&self) -> Vec<((Endpoint, Endpoint), Faults)> {
        let d = self.inner.dirs.lock().unwrap();
        d.iter()
            .map(|(k, tx)| (*k, *tx.borrow()))
            .filter(|(_, f)| !f.is_clear())
            .collect()
    }

    pub fn stats(&self) -> Vec<((Endpoint, Endpoint), SocketAddr, SocketAddr, LinkStats)> {
        let l = self.inner.links.lock().unwrap();
        l.iter()
            .map(|(k, (listen, target, c))| {
                (
                    *k,
                    *listen,
                    *target,
                    LinkStats {
                        connections: c.connections.load(Ordering::Relaxed),
                        refused: c.refused.load(Ordering::Relaxed),
                        bytes: c.bytes.load(Ordering::Relaxed),
                        dropped_bytes: c.dropped.load(Ordering::Relaxed),
                    },
                )
            })
            .collect()
    }

    /// Starts the link `(from, to)`: listens on `listen` (port 0 picks one) and forwards
    /// each accepted connection to `target`. Returns the address it listens on.
    pub async fn add_link(
        &self,
        from: Endpoint,
        to: Endpoint,
        listen: SocketAddr,
        target: SocketAddr,
    ) -> std::io::Result<SocketAddr> {
        self.inner.known.lock().unwrap().insert(from);
        let at = self
            .add_listener(to, listen, target, Arc::new(move |_| Some(from)))
            .await?;
        self.counters(from, to, at, target);
        Ok(at)
    }

    /// Starts a listener in front of endpoint `to` shared by every sender: each accepted
    /// connection's source address is mapped to the endpoint that opened it by `who`
    /// (nodes bound to their own loopback address open their cluster links from it), so
    /// the connection carries the faults of `(who(peer), to)`. A source `who` does not
    /// know (`None`) is refused.
    pub async fn add_listener(
        &self,
        to: Endpoint,
        listen: SocketAddr,
        target: SocketAddr,
        who: Resolver,
    ) -> std::io::Result<SocketAddr> {
        let listener = TcpListener::bind(listen).await?;
        let local = listener.local_addr()?;
        self.inner.known.lock().unwrap().insert(to);
        let weak = Arc::downgrade(&self.inner);
        let task = tokio::spawn(async move {
            loop {
                let Ok((sock, peer)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let Some(inner) = weak.upgrade() else { return };
                let net = Net { inner };
                let from = who(peer.ip());
                if let Some(f) = from {
                    net.inner.known.lock().unwrap().insert(f);
                }
                let counters = net.counters(from.unwrap_or(Endpoint::MAX), to, local, target);
                let Some(from) = from else {
                    counters.refused.fetch_add(1, Ordering::Relaxed);
                    reset(sock);
                    continue;
                };
                let fwd = net.dir(from, to);
                let back = net.dir(to, from);
                drop(net);
                if fwd.borrow().refuse {
                    counters.refused.fetch_add(1, Ordering::Relaxed);
                    reset(sock);
                    continue;
                }
                counters.connections.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(serve(sock, target, fwd, back, counters));
            }
        });
        self.inner.tasks.lock().unwrap().push(task);
        Ok(local)
    }

    /// The counters of link `(from, to)` (created on first use).
    fn counters(
        &self,
        from: Endpoint,
        to: Endpoint,
        listen: SocketAddr,
        target: SocketAddr,
    ) -> Arc<Counters> {
        let mut l = self.inner.links.lock().unwrap();
        l.entry((from, to))
            .or_insert_with(|| (listen, target, Arc::new(Counters::default())))
            .2
            .clone()
    }
}

/// Maps a connection's source address to the endpoint that opened it.
pub type Resolver = Arc<dyn Fn(std::net::IpAddr) -> Option<Endpoint> + Send + Sync>;

/// Closes a socket with a reset (zero linger), never blocking.
fn reset(sock: TcpStream) {
    #[allow(deprecated)]
    let _ = sock.set_linger(Some(Duration::ZERO));
    drop(sock);
}

/// One proxied connection: connect to the target, then pump both directions until either
/// side closes or a reset (epoch change) hits.
async fn serve(
    client: TcpStream,
    target: SocketAddr,
    fwd: watch::Receiver<Faults>,
    back: watch::Receiver<Faults>,
    counters: Arc<Counters>,
) {
    let _ = client.set_nodelay(true);
    let upstream =
        match tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(target)).await {
            Ok(Ok(s)) => s,
            _ => {
                #[allow(deprecated)]
                let _ = client.set_linger(Some(Duration::ZERO));
                return;
            }
        };
    let _ = upstream.set_nodelay(true);
    let (cr, cw) = client.into_split();
    let (ur, uw) = upstream.into_split();
    // The refuse flag of the link lives on the forward direction; a reset on either
    // direction closes the whole connection.
    let epochs = (fwd.borrow().epoch, back.borrow().epoch);
    let a = tokio::spawn(pump(
        cr,
        uw,
        fwd.clone(),
        back.clone(),
        epochs,
        counters.clone(),
    ));
    let b = tokio::spawn(pump(ur, cw, back, fwd, (epochs.1, epochs.0), counters));
    // When one direction ends, end the other too (a half-closed proxied connection would
    // otherwise linger).
    let (a_abort, b_abort) = (a.abort_handle(), b.abort_handle());
    tokio::select! {
        _ = a => { b_abort.abort(); }
        _ = b => { a_abort.abort(); }
    }
}

/// Moves bytes from `r` to `w` under the faults of `dir`; `other` is the opposite
/// direction (watched for resets only).
async fn pump(
    mut r: tokio::net::tcp::OwnedReadHalf,
    mut w: tokio::net::tcp::OwnedWriteHalf,
    mut dir: watch::Receiver<Faults>,
    mut other: watch::Receiver<Faults>,
    epochs: (u64, u64),
    counters: Arc<Counters>,
) {
    let (qtx, mut qrx) = mpsc::channel::<(Instant, Vec<u8>)>(256);
    let writer = tokio::spawn(async move {
        while let Some((at, data)) = qrx.recv().await {
            tokio::time::sleep_until(at).await;
            if w.write_all(&data).await.is_err() {
                return;
            }
        }
        let _ = w.shutdown().await;
    });
    let mut buf = vec![0u8; 64 * 1024];
    let mut last = Instant::now();
    let reset = |d: &Faults, o: &Faults| d.epoch != epochs.0 || o.epoch != epochs.1;
    'outer: loop {
        // Stalled: read nothing until the cut changes.
        loop {
            let f = *dir.borrow_and_update();
            if reset(&f, &other.borrow_and_update()) {
                break 'outer;
            }
            if f.cut != Cut::Stall {
                break;
            }
            tokio::select! {
                r = dir.changed() => if r.is_err() { break 'outer },
                r = other.changed() => if r.is_err() { break 'outer },
            }
        }
        let n = tokio::select! {
            n = r.read(&mut buf) => match n { Ok(0) | Err(_) => break 'outer, Ok(n) => n },
            r = dir.changed() => { if r.is_err() { break 'outer } continue 'outer }
            r = other.changed() => { if r.is_err() { break 'outer } continue 'outer }
        };
        // The faults when the bytes left the sender decide their fate.
        let mut f = *dir.borrow_and_update();
        if reset(&f, &other.borrow_and_update()) {
            break;
        }
        if f.cut == Cut::Drop {
            counters.dropped.fetch_add(n as u64, Ordering::Relaxed);
            continue;
        }
        // Read while a stall began: hold these bytes until it ends.
        while f.cut == Cut::Stall {
            if dir.changed().await.is_err() {
                break 'outer;
            }
            f = *dir.borrow_and_update();
            if reset(&f, &other.borrow_and_update()) {
                break 'outer;
            }
        }
        if f.cut == Cut::Drop {
            counters.dropped.fetch_add(n as u64, Ordering::Relaxed);
            continue;
        }
        counters.bytes.fetch_add(n as u64, Ordering::Relaxed);
        let now = Instant::now();
        let mut hold = Duration::from_millis(f.delay_ms);
        if f.jitter_ms > 0 {
            hold += Duration::from_millis(rand::thread_rng().gen_range(0..=f.jitter_ms));
        }
        if f.bandwidth > 0 {
            // The chunk leaves after the previous one plus its transmission time.
            let tx = Duration::from_secs_f64(n as f64 / f.bandwidth as f64);
            last = last.max(now) + tx;
            hold = hold.max(last - now);
        }
        let at = (now + hold).max(last);
        last = at;
        if qtx.send((at, buf[..n].to_vec())).await.is_err() {
            break;
        }
    }
    drop(qtx);
    // On a reset, drop the queue; on EOF, let queued bytes drain first.
    let f = *dir.borrow_and_update();
    if reset(&f, &other.borrow_and_update()) {
        writer.abort();
    } else {
        let _ = writer.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn echo_server() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let a = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut b = [0u8; 1024];
                    while let Ok(n) = s.read(&mut b).await {
                        if n == 0 || s.write_all(&b[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        a
    }

    async fn roundtrip(s: &mut TcpStream, msg: &[u8], within: Duration) -> Option<Vec<u8>> {
        s.write_all(msg).await.ok()?;
        let mut got = vec![0u8; msg.len()];
        match tokio::time::timeout(within, s.read_exact(&mut got)).await {
            Ok(Ok(_)) => Some(got),
            _ => None,
        }
    }

    async fn setup() -> (Net, SocketAddr) {
        let target = echo_server().await;
        let net = Net::new();
        let addr = net
            .add_link(1, 2, "127.0.0.1:0".parse().unwrap(), target)
            .await
            .unwrap();
        (net, addr)
    }

    #[tokio::test]
    async fn passes_bytes_and_delays_them() {
        let (net, addr) = setup().await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        assert_eq!(
            roundtrip(&mut s, b"hello", Duration::from_secs(2))
                .await
                .as_deref(),
            Some(&b"hello"[..])
        );
        net.delay(1, 2, 150, 50);
        let t = std::time::Instant::now();
        assert!(roundtrip(&mut s, b"again", Duration::from_secs(2))
            .await
            .is_some());
        assert!(
            t.elapsed() >= Duration::from_millis(150),
            "{:?}",
            t.elapsed()
        );
        net.heal();
        let t = std::time::Instant::now();
        assert!(roundtrip(&mut s, b"fast", Duration::from_secs(2))
            .await
            .is_some());
        assert!(t.elapsed() < Duration::from_millis(100));
    }

    #[tokio::test]
    async fn one_way_stall_holds_bytes_until_heal() {
        let (net, addr) = setup().await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        assert!(roundtrip(&mut s, b"x", Duration::from_secs(2))
            .await
            .is_some());
        // Replies (2 → 1) cut: the request reaches the echo server, the echo is held.
        net.cut(2, 1, Cut::Stall);
        assert!(roundtrip(&mut s, b"held", Duration::from_millis(300))
            .await
            .is_none());
        net.heal();
        let mut got = [0u8; 4];
        tokio::time::timeout(Duration::from_secs(2), s.read_exact(&mut got))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&got, b"held");
    }

    #[tokio::test]
    async fn drop_loses_bytes_and_heal_resets_the_connection() {
        let (net, addr) = setup().await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        net.cut(1, 2, Cut::Drop);
        assert!(roundtrip(&mut s, b"lost", Duration::from_millis(300))
            .await
            .is_none());
        net.heal();
        // The old connection is reset; a new one works.
        let mut b = [0u8; 1];
        let r = tokio::time::timeout(Duration::from_secs(2), s.read(&mut b)).await;
        assert!(matches!(r, Ok(Ok(0)) | Ok(Err(_))), "{r:?}");
        let mut s = TcpStream::connect(addr).await.unwrap();
        assert!(roundtrip(&mut s, b"ok", Duration::from_secs(2))
            .await
            .is_some());
        assert!(net.stats()[0].3.dropped_bytes >= 4);
    }

    #[tokio::test]
    async fn refuse_resets_open_and_new_connections() {
        let (net, addr) = setup().await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        assert!(roundtrip(&mut s, b"x", Duration::from_secs(2))
            .await
            .is_some());
        net.refuse(1, 2, true);
        assert!(roundtrip(&mut s, b"y", Duration::from_millis(500))
            .await
            .is_none());
        let mut s2 = TcpStream::connect(addr).await.unwrap();
        assert!(roundtrip(&mut s2, b"z", Duration::from_millis(500))
            .await
            .is_none());
        net.heal();
        let mut s3 = TcpStream::connect(addr).await.unwrap();
        assert!(roundtrip(&mut s3, b"w", Duration::from_secs(2))
            .await
            .is_some());
    }

    #[tokio::test]
    async fn bandwidth_limits_throughput() {
        let (net, addr) = setup().await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        net.bandwidth(1, 2, 20_000);
        let msg = vec![7u8; 10_000];
        let t = std::time::Instant::now();
        assert!(roundtrip(&mut s, &msg, Duration::from_secs(5))
            .await
            .is_some());
        assert!(
            t.elapsed() >= Duration::from_millis(400),
            "{:?}",
            t.elapsed()
        );
    }

    #[tokio::test]
    async fn shared_listener_tells_senders_apart_by_source_address() {
        let target = echo_server().await;
        let net = Net::new();
        // 127.0.0.2 is endpoint 2, 127.0.0.3 endpoint 3; anything else is refused.
        let who: Resolver = Arc::new(|ip: std::net::IpAddr| match ip.to_string().as_str() {
            "127.0.0.2" => Some(2),
            "127.0.0.3" => Some(3),
            _ => None,
        });
        let addr = net
            .add_listener(1, "127.0.0.1:0".parse().unwrap(), target, who)
            .await
            .unwrap();
        let from = |src: &str| {
            let src: std::net::IpAddr = src.parse().unwrap();
            async move {
                let s = tokio::net::TcpSocket::new_v4().unwrap();
                s.bind(SocketAddr::new(src, 0)).unwrap();
                s.connect(addr).await.unwrap()
            }
        };
        let (mut a, mut b) = (from("127.0.0.2").await, from("127.0.0.3").await);
        net.cut(2, 1, Cut::Stall);
        assert!(roundtrip(&mut a, b"held", Duration::from_millis(300))
            .await
            .is_none());
        assert!(roundtrip(&mut b, b"free", Duration::from_secs(2))
            .await
            .is_some());
        net.heal();
        let mut got = [0u8; 4];
        tokio::time::timeout(Duration::from_secs(2), a.read_exact(&mut got))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&got, b"held");
        // An unknown source is reset.
        let mut c = from("127.0.0.4").await;
        assert!(roundtrip(&mut c, b"x", Duration::from_millis(500))
            .await
            .is_none());
        assert_eq!(net.endpoints(), vec![1, 2, 3]);
    }
}
