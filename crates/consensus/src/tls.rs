//! TLS for every port a node serves (rustls, ring provider): RESP (`--tls-port`), REST
//! (`--tls-rest`) and the cluster port with mutual TLS (`--tls-cluster`).
//!
//! One process-wide state holds the certificate, key and CA read from files, turned into
//! the rustls configurations each listener and the cluster client need. [`reload`] re-reads
//! the files (SIGHUP): new connections use the new certificates, open ones keep theirs;
//! a reload that fails (missing file, key not matching) keeps the old state and says why.
//!
//! Cluster links always verify both ends against the CA: a node whose certificate the CA
//! did not sign cannot connect to the cluster port, nor accept links from its peers. The
//! cluster-link secret (`network::link_token`) is still checked on every RPC; with TLS on
//! it travels inside the encrypted stream.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// How long a peer gets to finish a TLS handshake before the connection is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether clients of the RESP and REST ports must present a certificate the CA signed
/// (`--tls-auth-clients`, as Redis's `tls-auth-clients`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    No,
    Optional,
    Yes,
}

impl ClientAuth {
    pub fn parse(s: &str) -> Option<ClientAuth> {
        match s.to_ascii_lowercase().as_str() {
            "no" | "false" => Some(ClientAuth::No),
            "optional" => Some(ClientAuth::Optional),
            "yes" | "true" => Some(ClientAuth::Yes),
            _ => None,
        }
    }
}

/// Where the certificate material comes from, and who must present one.
#[derive(Clone, Debug)]
pub struct TlsSettings {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: Option<PathBuf>,
    pub auth_clients: ClientAuth,
    /// Cluster links use mutual TLS.
    pub cluster: bool,
}

/// The configurations built from one reading of the files.
struct Loaded {
    resp: Arc<ServerConfig>,
    rest: Arc<ServerConfig>,
    cluster_server: Option<Arc<ServerConfig>>,
    cluster_client: Option<Arc<ClientConfig>>,
}

struct State {
    settings: TlsSettings,
    loaded: Loaded,
}

static STATE: RwLock<Option<State>> = RwLock::new(None);
/// A cluster client configuration without a server side: the `meridian cluster` CLI.
static CLIENT_ONLY: RwLock<Option<Arc<ClientConfig>>> = RwLock::new(None);

/// ring, explicitly: it is already built for the S3 client, where aws-lc would add a long
/// C build. rustls 0.23.48 deprecates it only because it lacks post-quantum key exchange.
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read certificates from {}: {e}", path.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("bad certificate in {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate in {}", path.display()));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| format!("cannot read a private key from {}: {e}", path.display()))
}

fn read_roots(path: &Path) -> Result<Arc<RootCertStore>, String> {
    let mut roots = RootCertStore::empty();
    for c in read_certs(path)? {
        roots
            .add(c)
            .map_err(|e| format!("bad CA certificate in {}: {e}", path.display()))?;
    }
    Ok(Arc::new(roots))
}

fn server_config(
    certs: &[CertificateDer<'static>],
    key: &PrivateKeyDer<'static>,
    roots: Option<&Arc<RootCertStore>>,
    auth: ClientAuth,
    alpn: &[&[u8]],
) -> Result<Arc<ServerConfig>, String> {
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match (auth, roots) {
        (ClientAuth::No, _) => builder.with_no_client_auth(),
        (_, None) => return Err("client certificates need --tls-ca-cert-file".into()),
        (a, Some(roots)) => {
            let v = rustls::server::WebPkiClientVerifier::builder_with_provider(
                roots.clone(),
                provider(),
            );
            let v = if a == ClientAuth::Optional {
                v.allow_unauthenticated()
            } else {
                v
            };
            builder.with_client_cert_verifier(v.build().map_err(|e| e.to_string())?)
        }
    };
    let mut cfg = builder
        .with_single_cert(certs.to_vec(), key.clone_key())
        .map_err(|e| format!("certificate and key do not go together: {e}"))?;
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(cfg))
}

/// A client configuration that trusts `ca` and, when given, presents `cert`/`key`.
fn client_config(
    roots: &Arc<RootCertStore>,
    identity: Option<(&[CertificateDer<'static>], &PrivateKeyDer<'static>)>,
) -> Result<Arc<ClientConfig>, String> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots.clone());
    let mut cfg = match identity {
        Some((certs, key)) => builder
            .with_client_auth_cert(certs.to_vec(), key.clone_key())
            .map_err(|e| format!("certificate and key do not go together: {e}"))?,
        None => builder.with_no_client_auth(),
    };
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(cfg))
}

fn load(s: &TlsSettings) -> Result<Loaded, String> {
    let certs = read_certs(&s.cert)?;
    let key = read_key(&s.key)?;
    let roots = match &s.ca {
        Some(p) => Some(read_roots(p)?),
        None => None,
    };
    let resp = server_config(&certs, &key, roots.as_ref(), s.auth_clients, &[])?;
    let rest = server_config(&certs, &key, roots.as_ref(), s.auth_clients, &[b"http/1.1"])?;
    let (cluster_server, cluster_client) = if s.cluster {
        let Some(roots) = roots.as_ref() else {
            return Err("--tls-cluster needs --tls-ca-cert-file (links verify both ends)".into());
        };
        (
            Some(server_config(
                &certs,
                &key,
                Some(roots),
                ClientAuth::Yes,
                &[b"h2"],
            )?),
            Some(client_config(roots, Some((&certs, &key)))?),
        )
    } else {
        (None, None)
    };
    Ok(Loaded {
        resp,
        rest,
        cluster_server,
        cluster_client,
    })
}

/// Reads the files and makes TLS available to the listeners (at start).
pub fn init(settings: TlsSettings) -> Result<(), String> {
    let loaded = load(&settings)?;
    *STATE.write().unwrap_or_else(|e| e.into_inner()) = Some(State { settings, loaded });
    Ok(())
}

/// Re-reads the certificate, key and CA files. On error the previous ones stay in use.
pub fn reload() -> Result<(), String> {
    let mut st = STATE.write().unwrap_or_else(|e| e.into_inner());
    let Some(state) = st.as_mut() else {
        return Err("TLS is not configured".into());
    };
    state.loaded = load(&state.settings)?;
    Ok(())
}

/// Whether any TLS is configured on this node.
pub fn enabled() -> bool {
    STATE.read().map(|s| s.is_some()).unwrap_or(false)
}

fn with_loaded<T>(f: impl FnOnce(&Loaded) -> Option<T>) -> Option<T> {
    let st = STATE.read().unwrap_or_else(|e| e.into_inner());
    st.as_ref().and_then(|s| f(&s.loaded))
}

/// The acceptor for the RESP TLS port.
pub fn resp_acceptor() -> Option<tokio_rustls::TlsAcceptor> {
    with_loaded(|l| Some(l.resp.clone().into()))
}

/// The acceptor for the REST port (HTTPS).
pub fn rest_acceptor() -> Option<tokio_rustls::TlsAcceptor> {
    with_loaded(|l| Some(l.rest.clone().into()))
}

/// The acceptor for the cluster port, when cluster links use TLS.
pub fn cluster_acceptor() -> Option<tokio_rustls::TlsAcceptor> {
    with_loaded(|l| l.cluster_server.clone().map(Into::into))
}

/// Whether cluster links (outgoing and incoming) use TLS.
pub fn cluster_enabled() -> bool {
    cluster_client().is_some()
}

fn cluster_client() -> Option<Arc<ClientConfig>> {
    with_loaded(|l| l.cluster_client.clone()).or_else(|| {
        CLIENT_ONLY
            .read()
            .ok()
            .and_then(|c| c.as_ref().map(Arc::clone))
    })
}

/// For a process that only calls nodes (the `meridian cluster` CLI): trust `ca`, and
/// present `cert`/`key` when given (a cluster port with mutual TLS needs them).
pub fn init_client(ca: &Path, identity: Option<(&Path, &Path)>) -> Result<(), String> {
    let roots = read_roots(ca)?;
    let cfg = match identity {
        Some((c, k)) => {
            let certs = read_certs(c)?;
            let key = read_key(k)?;
            client_config(&roots, Some((&certs, &key)))?
        }
        None => client_config(&roots, None)?,
    };
    *CLIENT_ONLY.write().unwrap_or_else(|e| e.into_inner()) = Some(cfg);
    Ok(())
}

/// The address outgoing cluster connections are made from (the node's `--bind`
/// address when it is a specific one), as Redis binds its cluster bus connections:
/// peers and fault-injecting proxies see which node a connection comes from.
static SOURCE: std::sync::OnceLock<std::net::IpAddr> = std::sync::OnceLock::new();

/// Sets the source address of outgoing cluster connections (at start; unspecified
/// addresses such as 0.0.0.0 are ignored: the kernel picks).
pub fn set_source(ip: std::net::IpAddr) {
    if !ip.is_unspecified() {
        let _ = SOURCE.set(ip);
    }
}

/// Defers the choice of the source port from `bind` to `connect` (Linux's
/// IP_BIND_ADDRESS_NO_PORT): a port picked at bind time comes from the pool listeners
/// use and must be unique per address, while connect's may be shared across peers.
#[cfg(target_os = "linux")]
fn no_port_at_bind(sock: &tokio::net::TcpSocket) {
    use std::os::fd::AsRawFd;
    let one: libc::c_int = 1;
    // SAFETY: a valid socket descriptor and a c_int option value of the given size.
    unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn no_port_at_bind(_: &tokio::net::TcpSocket) {}

/// A TCP connection to a cluster port, from [`set_source`]'s address when one is set
/// and of the same family (falling back to any source if binding it fails).
async fn connect_tcp(host: &str, port: u16) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{host}: no address"));
    for addr in tokio::net::lookup_host((host, port)).await? {
        let sock = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        if let Some(src) = SOURCE.get().filter(|s| s.is_ipv4() == addr.is_ipv4()) {
            no_port_at_bind(&sock);
            if let Err(e) = sock.bind(std::net::SocketAddr::new(*src, 0)) {
                tracing::debug!("cannot bind the cluster link source {src}: {e}");
                let s = TcpStream::connect(addr).await?;
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
        }
        match sock.connect(addr).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Opens a connection to a cluster port at `host:port`: TLS with cluster TLS on (the
/// peer's certificate verified for `host`, a DNS name or an IP address in its subject
/// alternative names), plain TCP otherwise.
pub async fn connect_cluster(host: &str, port: u16) -> io::Result<LinkIo> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let tcp = tokio::time::timeout(Duration::from_secs(2), connect_tcp(host, port))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))??;
    let Some(cfg) = cluster_client() else {
        return Ok(LinkIo::Plain(tcp));
    };
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{host}: {e}")))?;
    tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        tokio_rustls::TlsConnector::from(cfg).connect(name, tcp),
    )
    .await
    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))?
    .map(|t| LinkIo::Tls(Box::new(t)))
}

/// An outgoing cluster connection: plain TCP or TLS.
pub type LinkIo = Either<TcpStream, tokio_rustls::client::TlsStream<TcpStream>>;

/// A connection that may be TLS: `Plain` transport `P`, or its TLS stream `T` (boxed: a
/// TLS session is large). The server-side and client-side forms are aliases below.
pub enum Either<P, T> {
    Plain(P),
    Tls(Box<T>),
}

/// A server-side connection that may be TLS.
pub type MaybeTls<S> = Either<S, tokio_rustls::server::TlsStream<S>>;

impl<S> MaybeTls<S> {
    /// The transport underneath (the TCP socket, for its addresses and options).
    pub fn get_ref(&self) -> &S {
        match self {
            MaybeTls::Plain(s) => s,
            MaybeTls::Tls(t) => t.get_ref().0,
        }
    }

    pub fn is_tls(&self) -> bool {
        matches!(self, MaybeTls::Tls(_))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> MaybeTls<S> {
    /// Completes the handshake when `acceptor` is given (bounded by [`HANDSHAKE_TIMEOUT`]).
    pub async fn accept(
        stream: S,
        acceptor: Option<tokio_rustls::TlsAcceptor>,
    ) -> io::Result<MaybeTls<S>> {
        match acceptor {
            None => Ok(MaybeTls::Plain(stream)),
            Some(a) => tokio::time::timeout(HANDSHAKE_TIMEOUT, a.accept(stream))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))?
                .map(|t| MaybeTls::Tls(Box::new(t))),
        }
    }
}

impl<P, T> AsyncRead for Either<P, T>
where
    P: AsyncRead + AsyncWrite + Unpin,
    T: AsyncRead + AsyncWrite + Unpin,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Either::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Either::Tls(t) => Pin::new(t.as_mut()).poll_read(cx, buf),
        }
    }
}

impl<P, T> AsyncWrite for Either<P, T>
where
    P: AsyncRead + AsyncWrite + Unpin,
    T: AsyncRead + AsyncWrite + Unpin,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Either::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Either::Tls(t) => Pin::new(t.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Either::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Either::Tls(t) => Pin::new(t.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Either::Plain(s) => s.is_write_vectored(),
            Either::Tls(t) => t.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Either::Plain(s) => Pin::new(s).poll_flush(cx),
            Either::Tls(t) => Pin::new(t.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Either::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Either::Tls(t) => Pin::new(t.as_mut()).poll_shutdown(cx),
        }
    }
}

/// tonic's view of an accepted cluster connection.
impl tonic::transport::server::Connected for MaybeTls<TcpStream> {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        let s = self.get_ref();
        tonic::transport::server::TcpConnectInfo {
            local_addr: s.local_addr().ok(),
            remote_addr: s.peer_addr().ok(),
        }
    }
}

/// The connector of every cluster channel (tonic): from the node's source address, and
/// TLS when cluster TLS is on.
#[derive(Clone, Copy)]
pub struct ClusterConnector;

impl tower_service::Service<tonic::transport::Uri> for ClusterConnector {
    type Response = hyper_util::rt::TokioIo<LinkIo>;
    type Error = io::Error;
    type Future =
        Pin<Box<dyn std::future::Future<Output = Result<Self::Response, io::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: tonic::transport::Uri) -> Self::Future {
        Box::pin(async move {
            let host = uri
                .host()
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no host"))?
                .to_string();
            let port = uri.port_u16().unwrap_or(80);
            connect_cluster(&host, port)
                .await
                .map(hyper_util::rt::TokioIo::new)
        })
    }
}
