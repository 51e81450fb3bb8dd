//! Our HTTP Signatures against PeerTube's own libraries (run by node from
//! tests/federation/, installed with `npm ci` there): what we sign, PeerTube's verifier
//! (@misskey-dev/node-http-message-signatures) and its former one (@peertube/http-signature)
//! accept; what PeerTube's signer signs, we accept; a tampered request fails on both sides.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use chrono::Utc;
use peerbox_federation::keys;
use peerbox_federation::signatures::{
    IncomingRequest, KeyId, KeyResolver, PublicKey, SignatureError, Signer, verify_request,
};
use serde_json::{Value, json};

const BODY: &str = r#"{"@context":"https://www.w3.org/ns/activitystreams","type":"Follow","actor":"https://box.example/accounts/peertube","object":"https://peertube.example/accounts/peertube"}"#;

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/federation")
}

/// Runs the node script with one command; returns its answer.
fn node(command: Value) -> Value {
    let dir = interop_dir();
    assert!(
        dir.join("node_modules/@peertube/http-signature").is_dir()
            && dir
                .join("node_modules/@misskey-dev/node-http-message-signatures")
                .is_dir(),
        "PeerTube's signature libraries are missing: run `npm ci` in {}",
        dir.display()
    );
    let mut child = Command::new("node")
        .arg("interop.mjs")
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running node");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(command.to_string().as_bytes())
        .expect("writing to node");
    let out = child.wait_with_output().expect("node");
    assert!(
        out.status.success(),
        "interop.mjs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("interop.mjs answers JSON")
}

struct Request {
    method: &'static str,
    path: &'static str,
    headers: Vec<(&'static str, String)>,
    body: String,
}

fn signed(method: &'static str, path: &'static str, signer: &Signer) -> Request {
    let now = Utc::now();
    let mut headers = vec![("host", "peertube.example".to_string())];
    let (sig, body) = match method {
        "POST" => (
            signer.sign_post(path, "peertube.example", BODY.as_bytes(), now),
            BODY.to_string(),
        ),
        _ => (
            signer.sign_get(path, "peertube.example", now),
            String::new(),
        ),
    };
    headers.push(("date", sig.date));
    if let Some(d) = sig.digest {
        headers.push(("digest", d));
    }
    headers.push(("signature", sig.signature));
    headers.push(("content-type", "application/activity+json".into()));
    Request {
        method,
        path,
        headers,
        body,
    }
}

fn peertube_checks(req: &Request, public_pem: &str) -> Value {
    let headers: serde_json::Map<String, Value> = req
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    node(json!({ "verify": {
        "method": req.method, "path": req.path, "headers": headers,
        "body": req.body, "publicKeyPem": public_pem,
    }}))
}

#[test]
fn peertube_verifies_what_we_sign() {
    let pair = keys::generate().expect("key");
    let signer = Signer::new(
        "https://box.example/accounts/peertube",
        keys::private_key(&pair.private_pem).expect("private key"),
    );
    let post = signed("POST", "/inbox", &signer);
    let answer = peertube_checks(&post, &pair.public_pem);
    assert_eq!(
        answer,
        json!({ "misskey": true, "joyent": true, "digest": true })
    );

    let get = signed("GET", "/accounts/peertube/outbox?page=1", &signer);
    let answer = peertube_checks(&get, &pair.public_pem);
    assert_eq!(
        answer,
        json!({ "misskey": true, "joyent": true, "digest": null })
    );

    // The script can say no: another body, another key.
    let mut tampered = signed("POST", "/inbox", &signer);
    tampered.body = BODY.replace("Follow", "Delete");
    assert_eq!(
        peertube_checks(&tampered, &pair.public_pem)["digest"],
        false
    );
    let other = keys::generate().expect("key");
    let answer = peertube_checks(&post, &other.public_pem);
    assert_ne!(answer["misskey"], true, "{answer}");
    assert_ne!(answer["joyent"], true, "{answer}");
}

/// The key the PeerTube side made.
struct Known(PublicKey);

impl KeyResolver for Known {
    async fn resolve(&self, key_id: &KeyId, _refresh: bool) -> Result<PublicKey, String> {
        match key_id {
            KeyId::Url { actor, .. } if *actor == self.0.owner => Ok(self.0.clone()),
            other => Err(format!("unknown key {other:?}")),
        }
    }
}

fn verify(answer: &Value, method: &str, path: &str, body: &str) -> Result<(), SignatureError> {
    let mut headers = HeaderMap::new();
    for (name, value) in answer["headers"].as_object().expect("headers") {
        headers.insert(
            HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            HeaderValue::from_str(value.as_str().expect("header value")).expect("header value"),
        );
    }
    let key = keys::public_key(answer["publicKeyPem"].as_str().expect("pem"))
        .expect("PeerTube's SPKI public key parses");
    let resolver = Known(PublicKey {
        owner: "https://peertube.example/accounts/peertube".into(),
        key,
    });
    let req = IncomingRequest {
        method,
        target: path,
        headers: &headers,
        body: body.as_bytes(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime
        .block_on(verify_request(&req, &resolver, Utc::now()))
        .map(|_| ())
}

#[test]
fn we_verify_what_peertube_signs() {
    let post = node(json!({ "sign": {
        "method": "POST", "path": "/inbox", "host": "box.example", "body": BODY,
    }}));
    assert!(
        post["headers"]["signature"]
            .as_str()
            .is_some_and(|s| s.contains("headers=\"(request-target) host date digest\"")),
        "{post}"
    );
    verify(&post, "POST", "/inbox", BODY).expect("PeerTube's delivery verifies");
    assert_eq!(
        verify(&post, "POST", "/inbox", &BODY.replace("Follow", "Delete")),
        Err(SignatureError::DigestMismatch)
    );
    assert_eq!(
        verify(&post, "POST", "/accounts/alice/inbox", BODY),
        Err(SignatureError::Invalid)
    );

    let get = node(json!({ "sign": {
        "method": "GET", "path": "/accounts/alice", "host": "box.example", "body": "",
    }}));
    verify(&get, "GET", "/accounts/alice", "").expect("PeerTube's fetch verifies");
}
