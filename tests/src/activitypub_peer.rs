//! A remote ActivityPub server for the end-to-end tests: it serves actor documents with
//! RSA-2048 keys, WebFinger and any JSON document a test puts there, over HTTPS with a
//! certificate of the test's CA on an address of its own, records every request it gets
//! (what reaches its inboxes among them), and posts activities signed by its actors to a
//! node's inbox. Paths under `/hang/` never answer: a server that stalls.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::{HeaderMap, Method as AxumMethod, StatusCode as AxumStatus};
use axum::response::{IntoResponse, Response as AxumResponse};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use peerbox_federation::keys;
use peerbox_federation::signatures::{
    IncomingRequest, KeyId, KeyResolver, PublicKey, SignatureError, Signer, Verified,
    verify_request,
};
use reqwest::Method;
use reqwest::blocking::Response;
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding, Signer as _};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::{MIB, Node, TestCa, send};

/// The content type of ActivityPub documents and deliveries.
pub const AP: &str = "application/activity+json";

/// A request the peer received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// Path and query.
    pub target: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Received {
    /// The body as JSON (Null when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// Checks the request's HTTP signature with Peerbox's verifier (PeerTube's rules),
    /// `owner`'s key being `public_key_pem`.
    pub fn verify(&self, owner: &str, public_key_pem: &str) -> Result<Verified, SignatureError> {
        let key = keys::public_key(public_key_pem)
            .map_err(|e| SignatureError::KeyUnavailable(e.to_string()))?;
        let known = KnownKey {
            owner: owner.to_string(),
            key,
        };
        let req = IncomingRequest {
            method: &self.method,
            target: &self.target,
            headers: &self.headers,
            body: &self.body,
        };
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
            .block_on(verify_request(&req, &known, Utc::now()))
    }
}

/// The one key a verification trusts.
struct KnownKey {
    owner: String,
    key: rsa::RsaPublicKey,
}

impl KeyResolver for KnownKey {
    async fn resolve(&self, key_id: &KeyId, _refresh: bool) -> Result<PublicKey, String> {
        match key_id {
            KeyId::Url { actor, .. } if *actor == self.owner => Ok(PublicKey {
                owner: self.owner.clone(),
                key: self.key.clone(),
            }),
            other => Err(format!("{other:?} is not {}'s key", self.owner)),
        }
    }
}

/// What the server shares with its handlers.
struct Shared {
    /// `address:port`.
    host: String,
    documents: Mutex<HashMap<String, Value>>,
    redirects: Mutex<HashMap<String, String>>,
    requests: Mutex<Vec<Received>>,
}

impl Shared {
    fn documents(&self) -> std::sync::MutexGuard<'_, HashMap<String, Value>> {
        self.documents.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The server; dropping it stops it.
pub struct Peer {
    shared: Arc<Shared>,
    /// Taken on drop.
    runtime: Option<tokio::runtime::Runtime>,
}

/// An actor of a [`Peer`], with its private key.
pub struct PeerActor {
    pub name: String,
    pub url: String,
    /// `url#main-key`.
    pub key_id: String,
    /// SPKI PEM, as `publicKey.publicKeyPem` carries it.
    pub public_pem: String,
    key: RsaPrivateKey,
}

impl Peer {
    /// Serves `https://ip:port` (a free port) with a certificate of `ca` for `ip`.
    pub fn start(ip: &str, ca: &TestCa) -> Peer {
        let dir = tempfile::tempdir().expect("a temp dir");
        let (cert, key) = ca.issue(dir.path(), &[ip]);
        let tls = tls_config(&cert, &key);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("the peer's runtime");
        let tcp = runtime
            .block_on(TcpListener::bind((ip, 0)))
            .unwrap_or_else(|e| panic!("binding {ip}: {e}"));
        let port = tcp.local_addr().expect("the peer's address").port();
        let shared = Arc::new(Shared {
            host: format!("{ip}:{port}"),
            documents: Mutex::default(),
            redirects: Mutex::default(),
            requests: Mutex::default(),
        });
        let (ready_tx, ready) = mpsc::channel(16);
        let listener = TlsListener {
            tcp,
            acceptor: TlsAcceptor::from(Arc::new(tls)),
            ready_tx,
            ready,
        };
        let router = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        runtime.spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Peer {
            shared,
            runtime: Some(runtime),
        }
    }

    /// `address:port`, the server's host as PeerTube names servers.
    pub fn host(&self) -> String {
        self.shared.host.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.shared.host)
    }

    /// A new actor at `/accounts/{name}` of type `kind` (`Person`, `Application`,
    /// `Service`), with its own RSA-2048 key and its inbox at `/accounts/{name}/inbox`;
    /// WebFinger finds it as `name@host`. PeerTube names its instance actor `peertube`.
    pub fn add_actor(&self, name: &str, kind: &str) -> PeerActor {
        let pair = keys::generate().expect("an RSA key");
        let key = keys::private_key(&pair.private_pem).expect("the new key");
        let path = format!("/accounts/{name}");
        let url = self.url(&path);
        let key_id = format!("{url}#main-key");
        self.put(
            &path,
            json!({
                "@context": [
                    "https://www.w3.org/ns/activitystreams",
                    "https://w3id.org/security/v1",
                ],
                "type": kind,
                "id": url,
                "preferredUsername": name,
                "name": name,
                "inbox": format!("{url}/inbox"),
                "outbox": format!("{url}/outbox"),
                "followers": format!("{url}/followers"),
                "following": format!("{url}/following"),
                "endpoints": { "sharedInbox": self.url("/inbox") },
                "publicKey": {
                    "id": key_id,
                    "owner": url,
                    "publicKeyPem": pair.public_pem,
                },
            }),
        );
        PeerActor {
            name: name.to_string(),
            url,
            key_id,
            public_pem: pair.public_pem,
            key,
        }
    }

    /// Serves `document` at `path` as ActivityPub JSON.
    pub fn put(&self, path: &str, document: Value) {
        self.shared.documents().insert(path.to_string(), document);
    }

    /// Answers `path` with a 302 to `location`.
    pub fn redirect(&self, path: &str, location: &str) {
        self.shared
            .redirects
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(path.to_string(), location.to_string());
    }

    /// Every request so far, in order of arrival.
    pub fn requests(&self) -> Vec<Received> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// What was posted to the inboxes so far.
    pub fn inbox(&self) -> Vec<Received> {
        let mut posted = self.requests();
        posted.retain(|r| r.method == "POST");
        posted
    }

    /// Whether something asked for `path` (without the query).
    pub fn was_asked_for(&self, path: &str) -> bool {
        self.requests()
            .iter()
            .any(|r| r.target.split('?').next() == Some(path))
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        // Requests parked under /hang/ would otherwise hold the drop up.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl PeerActor {
    /// Signs as this actor, as PeerTube does.
    pub fn signer(&self) -> Signer {
        Signer::new(&self.url, self.key.clone())
    }

    /// The actor's RSA-2048 private key, for what `signer` and `sign` do not cover (the inbox
    /// benchmark's verification baseline).
    pub fn private_key(&self) -> &RsaPrivateKey {
        &self.key
    }

    /// Signs with this actor's key but names `actor_url`'s key: a forged or wrong key.
    pub fn signer_claiming(&self, actor_url: &str) -> Signer {
        Signer::new(actor_url, self.key.clone())
    }

    /// A `Signature` header over `components` (name, value), in this order, as
    /// draft-cavage signs them, naming `key_id` and `algorithm` whatever they are: for
    /// requests that `Signer` never makes.
    pub fn signature_header(
        &self,
        key_id: &str,
        algorithm: &str,
        components: &[(&str, &str)],
    ) -> String {
        let text: Vec<String> = components
            .iter()
            .map(|(name, value)| format!("{name}: {value}"))
            .collect();
        let names: Vec<&str> = components.iter().map(|(name, _)| *name).collect();
        format!(
            "keyId=\"{key_id}\",algorithm=\"{algorithm}\",headers=\"{}\",signature=\"{}\"",
            names.join(" "),
            self.sign(text.join("\n").as_bytes())
        )
    }

    /// The RSA PKCS#1 v1.5 SHA-256 signature of `data` with this actor's key, base64.
    pub fn sign(&self, data: &[u8]) -> String {
        let signature = SigningKey::<Sha256>::new(self.key.clone())
            .sign(data)
            .to_bytes();
        BASE64.encode(signature)
    }

    /// An activity of this actor with a new id on its host.
    pub fn activity(&self, kind: &str, object: Value) -> Value {
        json!({
            "@context": ["https://www.w3.org/ns/activitystreams"],
            "type": kind,
            "id": format!("{}/activities/{}", self.url, uuid::Uuid::new_v4()),
            "actor": self.url,
            "object": object,
        })
    }

    /// POSTs `activity` to the node's `path` (an inbox), signed as this actor now.
    pub fn post(&self, node: &Node, path: &str, activity: &Value) -> Response {
        let body = serde_json::to_vec(activity).expect("JSON");
        post_signed(node, path, &self.signer(), body, Utc::now())
    }
}

/// POSTs `body` to the node's `path`, signed by `signer` at `at`, with the headers PeerTube
/// sends.
pub fn post_signed(
    node: &Node,
    path: &str,
    signer: &Signer,
    body: Vec<u8>,
    at: DateTime<Utc>,
) -> Response {
    let signed = signer.sign_post(path, &node.host(), &body, at);
    let mut request = node
        .req(Method::POST, path, None)
        .header(CONTENT_TYPE, AP)
        .header("date", signed.date)
        .header("signature", signed.signature);
    if let Some(digest) = signed.digest {
        request = request.header("digest", digest);
    }
    send(request.body(body))
}

async fn handle(State(peer): State<Arc<Shared>>, req: Request) -> AxumResponse {
    let (parts, body) = req.into_parts();
    let body = to_bytes(body, 16 * MIB).await.unwrap_or_default().to_vec();
    let path = parts.uri.path().to_string();
    let target = parts
        .uri
        .path_and_query()
        .map_or_else(|| path.clone(), |p| p.to_string());
    peer.requests
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(Received {
            method: parts.method.to_string(),
            target,
            headers: parts.headers,
            body,
        });
    if path.starts_with("/hang/") {
        std::future::pending::<()>().await;
    }
    if parts.method == AxumMethod::POST {
        return match path.ends_with("/inbox") {
            true => AxumStatus::NO_CONTENT.into_response(),
            false => AxumStatus::METHOD_NOT_ALLOWED.into_response(),
        };
    }
    if path == "/.well-known/webfinger" {
        return webfinger(&peer, parts.uri.query().unwrap_or_default());
    }
    let location = peer
        .redirects
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&path)
        .cloned();
    if let Some(location) = location {
        return (AxumStatus::FOUND, [(LOCATION, location)]).into_response();
    }
    match peer.documents().get(&path) {
        Some(document) => json_response(AP, document),
        None => AxumStatus::NOT_FOUND.into_response(),
    }
}

/// `resource=acct:name@host` of an actor of this peer: its `self` link.
fn webfinger(peer: &Shared, query: &str) -> AxumResponse {
    let name = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("resource="))
        .map(|r| r.replace("%3A", ":").replace("%40", "@"))
        .and_then(|r| {
            r.strip_prefix("acct:")
                .and_then(|h| h.strip_suffix(&format!("@{}", peer.host)))
                .map(str::to_string)
        });
    let path = format!("/accounts/{}", name.as_deref().unwrap_or_default());
    if name.is_none() || !peer.documents().contains_key(&path) {
        return AxumStatus::NOT_FOUND.into_response();
    }
    let href = format!("https://{}{path}", peer.host);
    let answer = json!({
        "subject": format!("acct:{}@{}", name.unwrap_or_default(), peer.host),
        "aliases": [href],
        "links": [{ "rel": "self", "type": AP, "href": href }],
    });
    json_response("application/jrd+json", &answer)
}

fn json_response(content_type: &str, body: &Value) -> AxumResponse {
    let mut response = Body::from(body.to_string()).into_response();
    if let Ok(value) = content_type.parse() {
        response.headers_mut().insert(CONTENT_TYPE, value);
    }
    response
}

fn tls_config(cert: &Path, key: &Path) -> rustls::ServerConfig {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .expect("reading the peer's certificate")
        .collect::<Result<_, _>>()
        .expect("the peer's certificate");
    let key = PrivateKeyDer::from_pem_file(key).expect("the peer's key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("the peer's TLS configuration")
}

/// Accepts TCP connections and runs each TLS handshake in its own task, so that a client
/// that stalls holds up no other.
struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    ready_tx: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            tokio::select! {
                accepted = self.tcp.accept() => {
                    let Ok((tcp, addr)) = accepted else { continue };
                    let acceptor = self.acceptor.clone();
                    let ready = self.ready_tx.clone();
                    tokio::spawn(async move {
                        if let Ok(tls) = acceptor.accept(tcp).await {
                            let _ = ready.send((tls, addr)).await;
                        }
                    });
                }
                Some(connection) = self.ready.recv() => return connection,
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}
