//! HTTPS: the node's router served over rustls, HTTP/1.1 or h2 as the client's ALPN asks.
//! Handlers see the same `ConnectInfo<SocketAddr>` as over plain HTTP.

use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::extract::connect_info::IntoMakeServiceWithConnectInfo;
use axum::http::header::HOST;
use axum::http::{HeaderValue, Request};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_util::sync::CancellationToken;
use tower::{Service, ServiceExt};

use crate::config::TlsSettings;

/// A client that has not finished its handshake by then is dropped, so that connections
/// opened and left silent cannot pile up.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The TLS server configuration from the configured files; `None` when TLS is off.
pub fn server_config(settings: &TlsSettings) -> Result<Option<Arc<ServerConfig>>> {
    if !settings.enabled() {
        return Ok(None);
    }
    let (cert_file, key_file) = (&settings.cert_file, &settings.key_file);
    let chain = CertificateDer::pem_file_iter(cert_file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| {
            format!(
                "cannot read the certificates of tls.cert_file {}",
                cert_file.display()
            )
        })?;
    if chain.is_empty() {
        bail!(
            "tls.cert_file {} holds no PEM certificate",
            cert_file.display()
        );
    }
    let key = PrivateKeyDer::from_pem_file(key_file).with_context(|| {
        format!(
            "cannot read a PEM private key from tls.key_file {}",
            key_file.display()
        )
    })?;
    // Explicitly ring: the binary links two rustls providers, so there is no default one.
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("choosing the TLS versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .with_context(|| {
            format!(
                "the key in {} does not fit the certificate in {}",
                key_file.display(),
                cert_file.display()
            )
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Some(Arc::new(config)))
}

/// Serves `app` over TLS until `signal` resolves, then waits for the requests in progress,
/// as `axum::serve(..).with_graceful_shutdown(..)` does over plain HTTP.
pub async fn serve(
    listener: TcpListener,
    app: IntoMakeServiceWithConnectInfo<Router, SocketAddr>,
    tls: Arc<ServerConfig>,
    signal: impl Future<Output = ()>,
) {
    serve_with(listener, app, tls, signal, HANDSHAKE_TIMEOUT).await;
}

async fn serve_with(
    listener: TcpListener,
    mut app: IntoMakeServiceWithConnectInfo<Router, SocketAddr>,
    tls: Arc<ServerConfig>,
    signal: impl Future<Output = ()>,
    handshake_timeout: Duration,
) {
    let acceptor = TlsAcceptor::from(tls);
    let graceful = GracefulShutdown::new();
    // Handshakes still going on at shutdown are dropped rather than waited for.
    let stopping = CancellationToken::new();
    let mut signal = pin!(signal);
    loop {
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut signal => break,
        };
        let Ok(ready) = ServiceExt::<SocketAddr>::ready(&mut app).await;
        let Ok(service) = ready.call(remote).await;
        let (acceptor, watcher, stopping) =
            (acceptor.clone(), graceful.watcher(), stopping.clone());
        // The handshake runs in the connection's own task: a slow client delays no other.
        tokio::spawn(async move {
            let handshake = tokio::time::timeout(handshake_timeout, acceptor.accept(tcp));
            let stream = tokio::select! {
                done = handshake => match done {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => {
                        tracing::debug!("TLS handshake with {remote} failed: {e}");
                        return;
                    }
                    Err(_) => {
                        let waited = handshake_timeout;
                        tracing::debug!("no TLS handshake from {remote} within {waited:?}");
                        return;
                    }
                },
                () = stopping.cancelled() => return,
            };
            // HTTP/2 extended CONNECT stays off: the tracker's WebSocket is HTTP/1.1 only,
            // and browsers open one over HTTP/1.1 when the server does not offer it.
            let builder = Builder::new(TokioExecutor::new());
            let service = TowerToHyperService::new(service.map_request(host_from_authority));
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!("HTTPS connection with {remote} ended: {e}");
            }
        });
    }
    drop(listener);
    stopping.cancel();
    graceful.shutdown().await;
}

/// HTTP/2 names the host in the `:authority` pseudo-header, not in `Host`; the handlers
/// (the local OAuth client's host check, HTTP Signatures over `host`) read `Host`, so it is
/// set from the authority when the client did not send one.
fn host_from_authority<B>(mut req: Request<B>) -> Request<B> {
    if !req.headers().contains_key(HOST)
        && let Some(host) = req
            .uri()
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    {
        req.headers_mut().insert(HOST, host);
    }
    req
}

/// Errors of one connection (reset before it was accepted) are not worth a word; others,
/// such as running out of file descriptors, are logged and slowed down, as axum does.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!("cannot accept a connection: {e}");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use axum::extract::ConnectInfo;
    use axum::routing::get;
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio_rustls::TlsConnector;
    use tokio_rustls::rustls::pki_types::ServerName;
    use tokio_rustls::rustls::{ClientConfig, RootCertStore};

    use super::*;

    struct Files {
        dir: PathBuf,
        ca: CertificateDer<'static>,
        settings: TlsSettings,
    }

    impl Drop for Files {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// A CA, and a certificate for 127.0.0.1 from it written as cert.pem and key.pem.
    fn files(name: &str) -> Files {
        let dir = std::env::temp_dir().join(format!("peerbox-tls-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut ca_params = CertificateParams::default();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        let settings = TlsSettings {
            cert_file: dir.join("cert.pem"),
            key_file: dir.join("key.pem"),
        };
        std::fs::write(&settings.cert_file, cert.pem()).unwrap();
        std::fs::write(&settings.key_file, key.serialize_pem()).unwrap();
        Files {
            dir,
            ca: ca.der().clone(),
            settings,
        }
    }

    fn error_of(settings: &TlsSettings) -> String {
        format!("{:#}", server_config(settings).unwrap_err())
    }

    #[test]
    fn off_without_files() {
        assert!(server_config(&TlsSettings::default()).unwrap().is_none());
    }

    #[test]
    fn bad_files_are_named() {
        let f = files("bad");
        assert!(server_config(&f.settings).unwrap().is_some());

        let missing = TlsSettings {
            cert_file: f.dir.join("nowhere.pem"),
            ..f.settings.clone()
        };
        assert!(
            error_of(&missing).contains("nowhere.pem"),
            "{}",
            error_of(&missing)
        );

        // The key where the certificate should be: no certificate in it.
        let swapped = TlsSettings {
            cert_file: f.settings.key_file.clone(),
            key_file: f.settings.key_file.clone(),
        };
        let err = error_of(&swapped);
        assert!(
            err.contains("holds no PEM certificate") && err.contains("key.pem"),
            "{err}"
        );

        let no_key = TlsSettings {
            key_file: f.settings.cert_file.clone(),
            ..f.settings.clone()
        };
        let err = error_of(&no_key);
        assert!(
            err.contains("tls.key_file") && err.contains("cert.pem"),
            "{err}"
        );

        let other = files("other");
        let mismatched = TlsSettings {
            key_file: other.settings.key_file.clone(),
            ..f.settings.clone()
        };
        let err = error_of(&mismatched);
        assert!(err.contains("does not fit"), "{err}");
    }

    async fn tls_client(ca: &CertificateDer<'static>, addr: SocketAddr) -> std::io::Result<String> {
        let mut roots = RootCertStore::empty();
        roots.add(ca.clone()).unwrap();
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let tcp = TcpStream::connect(addr).await?;
        let name = ServerName::IpAddress(addr.ip().into());
        let mut tls = TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await?;
        let local = tls.get_ref().0.local_addr()?;
        tls.write_all(b"GET /peer HTTP/1.1\r\nHost: box\r\nConnection: close\r\n\r\n")
            .await?;
        let mut answer = String::new();
        tls.read_to_string(&mut answer).await?;
        Ok(format!("{local} {answer}"))
    }

    /// A server answering `/peer` with the peer address its handler is told.
    async fn start(
        f: &Files,
        handshake_timeout: Duration,
    ) -> (
        SocketAddr,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    ) {
        let tls = server_config(&f.settings).unwrap().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new()
            .route(
                "/peer",
                get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
            )
            .into_make_service_with_connect_info::<SocketAddr>();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let signal = async move {
            let _ = stopped.await;
        };
        let server = tokio::spawn(serve_with(listener, app, tls, signal, handshake_timeout));
        (addr, stop, server)
    }

    #[tokio::test]
    async fn serves_https_past_a_silent_client_and_stops_without_it() {
        let f = files("serve");
        let (addr, stop, server) = start(&f, Duration::from_secs(60)).await;
        // A client that connects and says nothing holds up no one.
        let _silent = TcpStream::connect(addr).await.unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(5), tls_client(&f.ca, addr))
            .await
            .expect("served while another client is silent")
            .unwrap();
        let (local, response) = answer.split_once(' ').unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(
            response.ends_with(local),
            "the handler saw another peer: {answer}"
        );

        // Nor is it waited for at shutdown.
        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("the server stops")
            .unwrap();
        assert!(TcpStream::connect(addr).await.is_err(), "still listening");
    }

    #[tokio::test]
    async fn a_silent_client_is_dropped_after_the_handshake_timeout() {
        let f = files("timeout");
        let (addr, _stop, _server) = start(&f, Duration::from_millis(200)).await;
        let mut silent = TcpStream::connect(addr).await.unwrap();
        let mut buf = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(5), silent.read(&mut buf)).await;
        assert!(
            matches!(read, Ok(Ok(0)) | Ok(Err(_))),
            "still open after 5 s: {read:?}"
        );
    }
}
