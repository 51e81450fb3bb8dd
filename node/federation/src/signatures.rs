//! HTTP Signatures as PeerTube and Mastodon use them (draft-cavage-http-signatures-12,
//! rsa-sha256): signing deliveries and fetches, and verifying incoming requests with
//! PeerTube's rules. No HTTP client or server here: requests are method, target, headers
//! and body.

use std::future::Future;

use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::signature::{SignatureEncoding, Signer as _, Verifier as _};
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// How far a request's date may be from ours, either way (PeerTube's
/// `HTTP_SIGNATURE.CLOCK_SKEW_SECONDS`).
pub const CLOCK_SKEW_SECONDS: i64 = 1800;

/// The fragment of an actor URL that names its key, as PeerTube and Mastodon write it.
pub const KEY_FRAGMENT: &str = "#main-key";

const POST_HEADERS: &str = "(request-target) host date digest";
const GET_HEADERS: &str = "(request-target) host date";

/// Larger headers are not signatures anyone sends; refuse them before parsing.
const MAX_SIGNATURE_HEADER: usize = 8 * 1024;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the request has no Signature header")]
    Missing,
    #[error("only the draft (cavage) version of HTTP signatures is supported")]
    NotDraft,
    #[error("the Signature header cannot be parsed: {0}")]
    Malformed(&'static str),
    #[error("the Signature header has no {0}")]
    MissingParam(&'static str),
    #[error("unsupported signature algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    #[error("{0} must be included in the signature")]
    NotSigned(&'static str),
    #[error("the signed header {0} is missing from the request")]
    MissingHeader(String),
    #[error("the Date header cannot be parsed")]
    BadDate,
    #[error("the request's date is more than {CLOCK_SKEW_SECONDS} s away from ours")]
    ClockSkew,
    #[error("the signature has expired")]
    Expired,
    #[error("the Digest header has no SHA-256 value")]
    UnsupportedDigest,
    #[error("the body does not match the Digest header")]
    DigestMismatch,
    #[error("invalid key id {0:?}")]
    BadKeyId(String),
    #[error("the signer's key cannot be had: {0}")]
    KeyUnavailable(String),
    #[error("the signature does not verify")]
    Invalid,
}

/// `SHA-256=<base64>` of a body, the `Digest` header PeerTube sends and checks.
pub fn digest_header(body: &[u8]) -> String {
    format!("SHA-256={}", BASE64.encode(Sha256::digest(body)))
}

/// An HTTP date (IMF-fixdate), as the `Date` header carries it.
pub fn http_date(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// The headers that sign a request; send them with the same `Host` that was signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    pub date: String,
    /// Only for requests with a body.
    pub digest: Option<String>,
    pub signature: String,
}

/// Signs requests as one actor: `keyId` is the actor URL with `#main-key`.
pub struct Signer {
    key_id: String,
    key: SigningKey<Sha256>,
}

impl Signer {
    pub fn new(actor_url: &str, key: RsaPrivateKey) -> Signer {
        Signer {
            key_id: format!("{actor_url}{KEY_FRAGMENT}"),
            key: SigningKey::new(key),
        }
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// A delivery: `(request-target) host date digest`. `target` is the path and query.
    pub fn sign_post(
        &self,
        target: &str,
        host: &str,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> SignedHeaders {
        let date = http_date(now);
        let digest = digest_header(body);
        let signed = format!(
            "(request-target): post {target}\nhost: {host}\ndate: {date}\ndigest: {digest}"
        );
        SignedHeaders {
            signature: self.signature_header(POST_HEADERS, &signed),
            date,
            digest: Some(digest),
        }
    }

    /// A fetch: `(request-target) host date` (for servers that require signed fetches).
    pub fn sign_get(&self, target: &str, host: &str, now: DateTime<Utc>) -> SignedHeaders {
        let date = http_date(now);
        let signed = format!("(request-target): get {target}\nhost: {host}\ndate: {date}");
        SignedHeaders {
            signature: self.signature_header(GET_HEADERS, &signed),
            date,
            digest: None,
        }
    }

    fn signature_header(&self, headers: &str, signing_string: &str) -> String {
        let signature = self.key.sign(signing_string.as_bytes()).to_bytes();
        format!(
            "keyId=\"{}\",algorithm=\"rsa-sha256\",headers=\"{headers}\",signature=\"{}\"",
            self.key_id,
            BASE64.encode(signature)
        )
    }
}

/// Who a signature says signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyId {
    /// `https://host/accounts/name#main-key`: the actor is the URL without its fragment.
    Url { key_id: String, actor: String },
    /// `acct:name@host`, resolved through WebFinger.
    Acct { name: String, host: String },
}

impl KeyId {
    pub fn parse(key_id: &str) -> Result<KeyId, SignatureError> {
        let bad = || SignatureError::BadKeyId(key_id.chars().take(200).collect());
        if let Some(handle) = key_id.strip_prefix("acct:") {
            let (name, host) = handle.split_once('@').ok_or_else(bad)?;
            if name.is_empty() || host.is_empty() || host.contains(['@', '/', '#']) {
                return Err(bad());
            }
            return Ok(KeyId::Acct {
                name: name.to_string(),
                host: host.to_ascii_lowercase(),
            });
        }
        let actor = key_id.split('#').next().unwrap_or_default();
        let rest = actor
            .strip_prefix("https://")
            .or_else(|| actor.strip_prefix("http://"))
            .ok_or_else(bad)?;
        if rest.is_empty() || rest.starts_with('/') || key_id.chars().any(char::is_whitespace) {
            return Err(bad());
        }
        Ok(KeyId::Url {
            key_id: key_id.to_string(),
            actor: actor.to_string(),
        })
    }
}

/// A public key and the actor that owns it.
#[derive(Debug, Clone)]
pub struct PublicKey {
    pub owner: String,
    pub key: RsaPublicKey,
}

/// Finds the key of a `keyId` (from a cache, or by fetching the actor).
pub trait KeyResolver {
    /// `refresh`: what was known did not verify (the actor may have rotated its key);
    /// fetch the actor again. An error is final: the verifier does not ask again.
    fn resolve(
        &self,
        key_id: &KeyId,
        refresh: bool,
    ) -> impl Future<Output = Result<PublicKey, String>> + Send;
}

/// An incoming request as the verifier needs it; `body` is the raw body, before any parsing.
pub struct IncomingRequest<'a> {
    pub method: &'a str,
    /// Path and query, as in the request line.
    pub target: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// The signer of a request that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub key_id: KeyId,
    /// The actor URL that owns the key.
    pub owner: String,
}

struct Params {
    key_id: String,
    headers: Vec<String>,
    signature: Vec<u8>,
    created: Option<i64>,
    expires: Option<i64>,
}

/// Checks a request's signature with PeerTube's rules: draft signatures only, algorithm
/// rsa-sha256 or hs2019, `(request-target)`, `host` (and `digest` on POST) and `date` or
/// `(created)` signed, the date within [`CLOCK_SKEW_SECONDS`], the digest matching the raw
/// body, and the key verified once more after a refresh when it fails.
pub async fn verify_request<R: KeyResolver>(
    req: &IncomingRequest<'_>,
    keys: &R,
    now: DateTime<Utc>,
) -> Result<Verified, SignatureError> {
    if req.headers.contains_key("signature-input") {
        return Err(SignatureError::NotDraft);
    }
    let header = signature_header(req.headers)?;
    let params = parse_params(header)?;
    let post = req.method.eq_ignore_ascii_case("POST");
    let mut required = vec![("(request-target)", "(request-target)"), ("host", "host")];
    if post {
        required.push(("digest", "digest"));
    }
    for (name, label) in required {
        if !params.headers.iter().any(|h| h == name) {
            return Err(SignatureError::NotSigned(label));
        }
    }
    if !params
        .headers
        .iter()
        .any(|h| h == "date" || h == "(created)")
    {
        return Err(SignatureError::NotSigned("date or (created)"));
    }
    check_time(req.headers, &params, now)?;
    if post || req.headers.contains_key("digest") {
        check_digest(req.headers, req.body)?;
    }
    let key_id = KeyId::parse(&params.key_id)?;
    let signing_string = signing_string(req, &params)?;
    let signature =
        Signature::try_from(params.signature.as_slice()).map_err(|_| SignatureError::Invalid)?;
    for refresh in [false, true] {
        match keys.resolve(&key_id, refresh).await {
            Ok(found) => {
                let verifier = VerifyingKey::<Sha256>::new(found.key);
                if verifier
                    .verify(signing_string.as_bytes(), &signature)
                    .is_ok()
                {
                    return Ok(Verified {
                        key_id,
                        owner: found.owner,
                    });
                }
            }
            // The resolver already fetched what it could: asking again would wait for a
            // stalled or broken server a second time.
            Err(e) => return Err(SignatureError::KeyUnavailable(e)),
        }
    }
    Err(SignatureError::Invalid)
}

fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The `Signature` header (a `Signature ` prefix tolerated, as PeerTube does), or an
/// `Authorization: Signature …` header.
fn signature_header(headers: &HeaderMap) -> Result<&str, SignatureError> {
    let value = match header_text(headers, "signature") {
        Some(v) => v.strip_prefix("Signature ").unwrap_or(v),
        None => header_text(headers, "authorization")
            .and_then(|v| v.strip_prefix("Signature "))
            .ok_or(SignatureError::Missing)?,
    };
    if value.len() > MAX_SIGNATURE_HEADER {
        return Err(SignatureError::Malformed("too long"));
    }
    Ok(value)
}

/// `name="value"` pairs separated by commas; numbers (`created`, `expires`) may be unquoted.
fn parse_params(header: &str) -> Result<Params, SignatureError> {
    let mut key_id = None;
    let mut algorithm = None;
    let mut headers = None;
    let mut signature = None;
    let mut created = None;
    let mut expires = None;
    let mut rest = header.trim();
    while !rest.is_empty() {
        let (name, after) = rest
            .split_once('=')
            .ok_or(SignatureError::Malformed("a parameter without a value"))?;
        let name = name.trim().to_ascii_lowercase();
        let (value, after) = match after.strip_prefix('"') {
            Some(quoted) => {
                let end = quoted
                    .find('"')
                    .ok_or(SignatureError::Malformed("an unterminated quote"))?;
                (&quoted[..end], &quoted[end + 1..])
            }
            None => match after.find(',') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            },
        };
        let number = |v: &str| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| SignatureError::Malformed("a timestamp that is not a number"))
        };
        match name.as_str() {
            "keyid" => key_id = Some(value.to_string()),
            "algorithm" => algorithm = Some(value.to_ascii_lowercase()),
            "headers" => {
                headers = Some(
                    value
                        .split_ascii_whitespace()
                        .map(str::to_ascii_lowercase)
                        .collect::<Vec<_>>(),
                )
            }
            "signature" => {
                signature = Some(
                    BASE64
                        .decode(value)
                        .map_err(|_| SignatureError::Malformed("a signature that is not base64"))?,
                )
            }
            "created" => created = Some(number(value)?),
            "expires" => expires = Some(number(value)?),
            _ => {}
        }
        rest = after.trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    let algorithm = algorithm.ok_or(SignatureError::MissingParam("algorithm"))?;
    // hs2019 leaves the algorithm to the key; with RSA keys that is PKCS#1 v1.5 and SHA-256.
    if algorithm != "rsa-sha256" && algorithm != "hs2019" {
        return Err(SignatureError::UnsupportedAlgorithm(algorithm));
    }
    Ok(Params {
        key_id: key_id.ok_or(SignatureError::MissingParam("keyId"))?,
        headers: headers.ok_or(SignatureError::MissingParam("headers"))?,
        signature: signature.ok_or(SignatureError::MissingParam("signature"))?,
        created,
        expires,
    })
}

fn check_time(
    headers: &HeaderMap,
    params: &Params,
    now: DateTime<Utc>,
) -> Result<(), SignatureError> {
    let within = |at: i64| (at - now.timestamp()).abs() <= CLOCK_SKEW_SECONDS;
    if let Some(date) = headers.get("date") {
        let date = date
            .to_str()
            .ok()
            .and_then(|d| DateTime::parse_from_rfc2822(d).ok())
            .ok_or(SignatureError::BadDate)?;
        if !within(date.timestamp()) {
            return Err(SignatureError::ClockSkew);
        }
    }
    if let Some(created) = params.created
        && !within(created)
    {
        return Err(SignatureError::ClockSkew);
    }
    if let Some(expires) = params.expires
        && expires < now.timestamp()
    {
        return Err(SignatureError::Expired);
    }
    Ok(())
}

/// The SHA-256 entry of the `Digest` header against the raw body.
fn check_digest(headers: &HeaderMap, body: &[u8]) -> Result<(), SignatureError> {
    let value =
        header_text(headers, "digest").ok_or(SignatureError::MissingHeader("digest".into()))?;
    let expected = BASE64.encode(Sha256::digest(body));
    let sha256 = value
        .split(',')
        .filter_map(|part| part.trim().split_once('='))
        .find(|(algorithm, _)| algorithm.eq_ignore_ascii_case("SHA-256"))
        .ok_or(SignatureError::UnsupportedDigest)?;
    match sha256.1.trim() == expected {
        true => Ok(()),
        false => Err(SignatureError::DigestMismatch),
    }
}

fn signing_string(req: &IncomingRequest<'_>, params: &Params) -> Result<String, SignatureError> {
    let mut lines = Vec::with_capacity(params.headers.len());
    for name in &params.headers {
        let value = match name.as_str() {
            "(request-target)" => format!("{} {}", req.method.to_ascii_lowercase(), req.target),
            "(created)" => params
                .created
                .ok_or(SignatureError::MissingParam("created"))?
                .to_string(),
            "(expires)" => params
                .expires
                .ok_or(SignatureError::MissingParam("expires"))?
                .to_string(),
            header => {
                let values: Vec<&str> = req
                    .headers
                    .get_all(header)
                    .iter()
                    .map(|v| v.to_str().map(str::trim))
                    .collect::<Result<_, _>>()
                    .map_err(|_| SignatureError::MissingHeader(header.to_string()))?;
                if values.is_empty() {
                    return Err(SignatureError::MissingHeader(header.to_string()));
                }
                values.join(", ")
            }
        };
        lines.push(format!("{name}: {value}"));
    }
    Ok(lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const ACTOR: &str = "https://remote.example/accounts/alice";
    const BODY: &[u8] = br#"{"type":"Follow","actor":"https://remote.example/accounts/alice"}"#;

    fn key(n: usize) -> &'static RsaPrivateKey {
        static KEYS: OnceLock<[RsaPrivateKey; 2]> = OnceLock::new();
        &KEYS.get_or_init(|| {
            [0, 1].map(|_| crate::keys::generate_private().expect("key generation"))
        })[n]
    }

    /// Answers with `stale` until asked to refresh, then with `fresh`; counts the calls.
    struct Keys {
        stale: RsaPublicKey,
        fresh: RsaPublicKey,
        calls: AtomicUsize,
    }

    impl Keys {
        fn right() -> Keys {
            Keys::new(0, 0)
        }
        fn new(stale: usize, fresh: usize) -> Keys {
            Keys {
                stale: key(stale).to_public_key(),
                fresh: key(fresh).to_public_key(),
                calls: AtomicUsize::new(0),
            }
        }
    }

    impl KeyResolver for Keys {
        async fn resolve(&self, key_id: &KeyId, refresh: bool) -> Result<PublicKey, String> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let owner = match key_id {
                KeyId::Url { actor, .. } => actor.clone(),
                KeyId::Acct { name, host } => format!("https://{host}/accounts/{name}"),
            };
            let key = if refresh { &self.fresh } else { &self.stale };
            Ok(PublicKey {
                owner,
                key: key.clone(),
            })
        }
    }

    fn signer() -> Signer {
        Signer::new(ACTOR, key(0).clone())
    }

    fn post_headers(signed: &SignedHeaders) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("box.example"));
        h.insert("date", signed.date.parse().expect("header"));
        h.insert(
            "digest",
            signed
                .digest
                .as_deref()
                .unwrap_or("")
                .parse()
                .expect("header"),
        );
        h.insert("signature", signed.signature.parse().expect("header"));
        h.insert(
            "content-type",
            HeaderValue::from_static("application/activity+json"),
        );
        h
    }

    fn signed_post(now: DateTime<Utc>) -> HeaderMap {
        post_headers(&signer().sign_post("/inbox", "box.example", BODY, now))
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    fn check_with(
        method: &str,
        headers: &HeaderMap,
        body: &[u8],
        keys: &Keys,
        now: DateTime<Utc>,
    ) -> Result<Verified, SignatureError> {
        let req = IncomingRequest {
            method,
            target: if method == "POST" {
                "/inbox"
            } else {
                "/accounts/bob"
            },
            headers,
            body,
        };
        block_on(verify_request(&req, keys, now))
    }

    fn check(headers: &HeaderMap, body: &[u8]) -> Result<Verified, SignatureError> {
        check_with("POST", headers, body, &Keys::right(), Utc::now())
    }

    /// Signs a POST by hand with the given header list, for the cases our signer never makes.
    fn sign_custom(names: &str, headers: &mut HeaderMap, extra_params: &str) {
        let params = Params {
            key_id: String::new(),
            headers: names.split(' ').map(String::from).collect(),
            signature: Vec::new(),
            created: extra_params
                .strip_prefix("created=")
                .and_then(|c| c.parse().ok()),
            expires: None,
        };
        let req = IncomingRequest {
            method: "POST",
            target: "/inbox",
            headers,
            body: BODY,
        };
        let text = signing_string(&req, &params).expect("signing string");
        let sig = SigningKey::<Sha256>::new(key(0).clone())
            .sign(text.as_bytes())
            .to_bytes();
        let mut value = format!(
            "keyId=\"{ACTOR}#main-key\",algorithm=\"rsa-sha256\",headers=\"{names}\",signature=\"{}\"",
            BASE64.encode(sig)
        );
        if !extra_params.is_empty() {
            value.push(',');
            value.push_str(extra_params);
        }
        headers.insert("signature", value.parse().expect("header"));
    }

    #[test]
    fn a_signed_delivery_verifies() {
        let verified = check(&signed_post(Utc::now()), BODY).expect("valid");
        assert_eq!(verified.owner, ACTOR);
        assert_eq!(
            verified.key_id,
            KeyId::Url {
                key_id: format!("{ACTOR}#main-key"),
                actor: ACTOR.into()
            }
        );
    }

    #[test]
    fn a_signed_fetch_verifies() {
        let now = Utc::now();
        let signed = signer().sign_get("/accounts/bob", "box.example", now);
        assert!(signed.digest.is_none());
        assert!(
            signed
                .signature
                .contains("headers=\"(request-target) host date\"")
        );
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("box.example"));
        h.insert("date", signed.date.parse().expect("header"));
        h.insert("signature", signed.signature.parse().expect("header"));
        check_with("GET", &h, b"", &Keys::right(), now).expect("valid");
        // The same signature does not cover another path.
        let req = IncomingRequest {
            method: "GET",
            target: "/accounts/carol",
            headers: &h,
            body: b"",
        };
        assert_eq!(
            block_on(verify_request(&req, &Keys::right(), now)),
            Err(SignatureError::Invalid)
        );
    }

    #[test]
    fn each_required_component_must_be_signed() {
        for (names, missing) in [
            ("host date digest", "(request-target)"),
            ("(request-target) date digest", "host"),
            ("(request-target) host digest", "date or (created)"),
            ("(request-target) host date", "digest"),
        ] {
            let mut h = signed_post(Utc::now());
            sign_custom(names, &mut h, "");
            assert_eq!(
                check(&h, BODY),
                Err(SignatureError::NotSigned(missing)),
                "{names}"
            );
        }
    }

    #[test]
    fn a_signed_header_missing_from_the_request_fails() {
        let mut h = signed_post(Utc::now());
        sign_custom("(request-target) host date digest content-type", &mut h, "");
        check(&h, BODY).expect("content-type signed and present");
        h.remove("content-type");
        assert_eq!(
            check(&h, BODY),
            Err(SignatureError::MissingHeader("content-type".into()))
        );
    }

    #[test]
    fn created_may_stand_for_the_date() {
        let mut h = signed_post(Utc::now());
        h.remove("date");
        let created = format!("created={}", Utc::now().timestamp());
        sign_custom("(request-target) host (created) digest", &mut h, &created);
        check(&h, BODY).expect("draft-11 (created)");
        let old = format!(
            "created={}",
            Utc::now().timestamp() - CLOCK_SKEW_SECONDS - 60
        );
        sign_custom("(request-target) host (created) digest", &mut h, &old);
        assert_eq!(check(&h, BODY), Err(SignatureError::ClockSkew));
    }

    #[test]
    fn the_digest_must_match_the_raw_body() {
        let h = signed_post(Utc::now());
        // The body changed on the way, the digest did not.
        assert_eq!(check(&h, b"{}"), Err(SignatureError::DigestMismatch));
        // Same JSON, other bytes: the digest is over the bytes.
        let reformatted = String::from_utf8_lossy(BODY).replace(',', ", ");
        assert_eq!(
            check(&h, reformatted.as_bytes()),
            Err(SignatureError::DigestMismatch)
        );
        let mut no_digest = h.clone();
        no_digest.remove("digest");
        assert_eq!(
            check(&no_digest, BODY),
            Err(SignatureError::MissingHeader("digest".into()))
        );
        let mut md5_only = h;
        md5_only.insert("digest", HeaderValue::from_static("MD5=abc"));
        assert_eq!(
            check(&md5_only, BODY),
            Err(SignatureError::UnsupportedDigest)
        );
    }

    #[test]
    fn a_tampered_body_with_a_new_digest_fails_the_signature() {
        let mut h = signed_post(Utc::now());
        let other = br#"{"type":"Delete"}"#;
        h.insert("digest", digest_header(other).parse().expect("header"));
        assert_eq!(check(&h, other), Err(SignatureError::Invalid));
    }

    #[test]
    fn the_date_must_be_within_the_clock_skew() {
        let now = Utc::now();
        let skew = chrono::Duration::seconds(CLOCK_SKEW_SECONDS);
        let second = chrono::Duration::seconds(1);
        for (signed_at, ok) in [
            (now - skew - second, false),
            (now + skew + second, false),
            (now - skew + second, true),
            (now + skew - second, true),
        ] {
            let result = check_with("POST", &signed_post(signed_at), BODY, &Keys::right(), now);
            assert_eq!(result.is_ok(), ok, "signed at {signed_at}: {result:?}");
            if !ok {
                assert_eq!(result, Err(SignatureError::ClockSkew));
            }
        }
        let mut h = signed_post(now);
        h.insert("date", HeaderValue::from_static("yesterday"));
        assert_eq!(check(&h, BODY), Err(SignatureError::BadDate));
    }

    #[test]
    fn a_wrong_key_fails_even_after_a_refresh() {
        let keys = Keys::new(1, 1);
        let result = check_with("POST", &signed_post(Utc::now()), BODY, &keys, Utc::now());
        assert_eq!(result, Err(SignatureError::Invalid));
        assert_eq!(
            keys.calls.load(Ordering::SeqCst),
            2,
            "one refresh and retry"
        );
    }

    /// A key server that cannot be reached, as a resolver sees it; counts the calls.
    struct Unreachable(AtomicUsize);

    impl KeyResolver for Unreachable {
        async fn resolve(&self, _: &KeyId, _: bool) -> Result<PublicKey, String> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Err("the request timed out".into())
        }
    }

    #[test]
    fn an_unavailable_key_is_asked_for_once() {
        let keys = Unreachable(AtomicUsize::new(0));
        let h = signed_post(Utc::now());
        let req = IncomingRequest {
            method: "POST",
            target: "/inbox",
            headers: &h,
            body: BODY,
        };
        assert_eq!(
            block_on(verify_request(&req, &keys, Utc::now())),
            Err(SignatureError::KeyUnavailable(
                "the request timed out".into()
            ))
        );
        assert_eq!(keys.0.load(Ordering::SeqCst), 1, "no second wait");
    }

    #[test]
    fn a_rotated_key_verifies_after_the_refresh() {
        let keys = Keys::new(1, 0);
        check_with("POST", &signed_post(Utc::now()), BODY, &keys, Utc::now()).expect("valid");
        assert_eq!(keys.calls.load(Ordering::SeqCst), 2);
        let keys = Keys::right();
        check_with("POST", &signed_post(Utc::now()), BODY, &keys, Utc::now()).expect("valid");
        assert_eq!(
            keys.calls.load(Ordering::SeqCst),
            1,
            "no refresh when the key verifies"
        );
    }

    #[test]
    fn a_changed_signed_header_fails() {
        let mut h = signed_post(Utc::now());
        h.insert("host", HeaderValue::from_static("other.example"));
        assert_eq!(check(&h, BODY), Err(SignatureError::Invalid));
    }

    #[test]
    fn algorithms_and_header_forms() {
        let h = signed_post(Utc::now());
        let value = h["signature"].to_str().expect("ascii").to_string();
        let with = |v: String| {
            let mut h = h.clone();
            h.insert("signature", v.parse().expect("header"));
            h
        };
        check(&with(value.replace("rsa-sha256", "hs2019")), BODY).expect("hs2019");
        check(&with(value.replace("rsa-sha256", "RSA-SHA256")), BODY).expect("case");
        assert_eq!(
            check(&with(value.replace("rsa-sha256", "rsa-sha512")), BODY),
            Err(SignatureError::UnsupportedAlgorithm("rsa-sha512".into()))
        );
        assert_eq!(
            check(&with(value.replace("algorithm=\"rsa-sha256\",", "")), BODY),
            Err(SignatureError::MissingParam("algorithm"))
        );
        check(&with(format!("Signature {value}")), BODY).expect("prefix tolerated");
        let mut auth = h.clone();
        auth.remove("signature");
        auth.insert(
            "authorization",
            format!("Signature {value}").parse().expect("header"),
        );
        check(&auth, BODY).expect("Authorization: Signature");
        auth.remove("authorization");
        assert_eq!(check(&auth, BODY), Err(SignatureError::Missing));
        let mut rfc9421 = h.clone();
        rfc9421.insert(
            "signature-input",
            HeaderValue::from_static("sig1=(\"@method\")"),
        );
        assert_eq!(check(&rfc9421, BODY), Err(SignatureError::NotDraft));
        assert!(matches!(
            check(&with("keyId=\"x".into()), BODY),
            Err(SignatureError::Malformed(_))
        ));
        assert!(matches!(
            check(&with(value.replace("signature=\"", "signature=\"!")), BODY),
            Err(SignatureError::Malformed(_))
        ));
    }

    #[test]
    fn key_id_forms() {
        assert_eq!(
            KeyId::parse("https://peertube.example/accounts/bob#main-key"),
            Ok(KeyId::Url {
                key_id: "https://peertube.example/accounts/bob#main-key".into(),
                actor: "https://peertube.example/accounts/bob".into()
            })
        );
        assert_eq!(
            KeyId::parse("acct:bob@PeerTube.example"),
            Ok(KeyId::Acct {
                name: "bob".into(),
                host: "peertube.example".into()
            })
        );
        for bad in [
            "bob",
            "acct:bob",
            "acct:@host",
            "ftp://x/y#main-key",
            "https:///x",
            "",
        ] {
            assert!(
                matches!(KeyId::parse(bad), Err(SignatureError::BadKeyId(_))),
                "{bad}"
            );
        }
        // An acct: key id goes to the resolver as such.
        let mut h = signed_post(Utc::now());
        let value = h["signature"]
            .to_str()
            .expect("ascii")
            .replace(&format!("{ACTOR}#main-key"), "acct:alice@remote.example");
        h.insert("signature", value.parse().expect("header"));
        let verified = check(&h, BODY).expect("acct key id");
        assert_eq!(verified.owner, ACTOR);
        let mut bad = signed_post(Utc::now());
        let value = bad["signature"]
            .to_str()
            .expect("ascii")
            .replace(&format!("{ACTOR}#main-key"), "not-a-key");
        bad.insert("signature", value.parse().expect("header"));
        assert!(matches!(
            check(&bad, BODY),
            Err(SignatureError::BadKeyId(_))
        ));
    }

    #[test]
    fn digest_and_date_formats() {
        assert_eq!(
            digest_header(b""),
            "SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        let at = DateTime::parse_from_rfc3339("1994-11-06T08:49:37Z")
            .expect("date")
            .with_timezone(&Utc);
        assert_eq!(http_date(at), "Sun, 06 Nov 1994 08:49:37 GMT");
    }
}
