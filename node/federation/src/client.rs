//! Outbound HTTP for federation: fetching ActivityPub objects and actors, WebFinger
//! look-ups and signed deliveries to inboxes.
//!
//! Every URL comes from another server, so every request is treated as hostile: HTTPS only,
//! no proxy, a DNS resolver that refuses loopback, private, link-local and other
//! non-public addresses (and the same check on IP-literal hosts and redirect targets,
//! which reqwest does not resolve), a whole-request timeout, a body cap enforced while
//! reading and a JSON nesting limit.

use std::error::Error as StdError;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use peerbox_catalog::{RemoteActor, RemoteActorKind};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{ACCEPT, CONTENT_TYPE, DATE};
use reqwest::{Response, Url, redirect};
use serde_json::Value;
use thiserror::Error;

use crate::signatures::Signer;

/// What we ask for when fetching an object (PeerTube's `ACTIVITY_PUB.ACCEPT_HEADER` with the
/// profile the ActivityPub spec names).
pub const ACTIVITY_ACCEPT: &str = "application/activity+json, application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"";

/// The content type of a delivery.
pub const ACTIVITY_CONTENT_TYPE: &str = "application/activity+json";

/// Deeper JSON is refused before parsing. serde_json stops at 128 levels to protect its
/// stack; ActivityPub documents are a handful of levels deep (a PeerTube Video is about
/// six), so 64 leaves ample room while keeping recursive walks of a `Value` shallow.
pub const MAX_JSON_DEPTH: usize = 64;

/// Redirects followed by a fetch; deliveries follow none.
const MAX_REDIRECTS: usize = 3;

/// Longest URL kept from a document (PeerTube's `CONSTRAINTS_FIELDS.ACTORS.URL`).
const MAX_URL_LENGTH: usize = 2000;

/// PeerTube's `CONSTRAINTS_FIELDS.ACTORS.PUBLIC_KEY`.
const MAX_PUBLIC_KEY_LENGTH: usize = 5000;

/// PeerTube's `CONSTRAINTS_FIELDS.USERS.DESCRIPTION`: longer summaries are cut, shorter
/// ones dropped.
const SUMMARY_LENGTH: std::ops::RangeInclusive<usize> = 3..=1000;

const ACTIVITY_TYPES: &[&str] = &[
    "application/activity+json",
    "application/ld+json",
    "application/json",
];
const WEBFINGER_TYPES: &[&str] = &["application/jrd+json", "application/json"];

#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// Lets requests reach loopback addresses. Only for tests, which run their peers on
    /// loopback; private, link-local and the other non-public addresses stay refused, so
    /// that tests show the guard holding and never reach into a real network.
    pub allow_loopback: bool,
    /// PEM certificates trusted besides the built-in roots (a test CA).
    pub extra_ca_pem: Option<String>,
    pub user_agent: String,
    /// For the whole request, connection to last body byte.
    pub timeout: Duration,
    pub max_body_bytes: usize,
}

impl Default for ClientSettings {
    /// PeerTube's values: `REQUEST_TIMEOUTS.DEFAULT` (7 s) and the default body limit of
    /// its requests (3000 kB).
    fn default() -> ClientSettings {
        ClientSettings {
            allow_loopback: false,
            extra_ca_pem: None,
            user_agent: concat!("Peerbox/", env!("CARGO_PKG_VERSION")).to_string(),
            timeout: Duration::from_secs(7),
            max_body_bytes: 3_000_000,
        }
    }
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ClientError {
    #[error("refused to contact {0}: {1}")]
    Forbidden(String, String),
    #[error("the request timed out")]
    Timeout,
    #[error("the answer is larger than allowed")]
    TooLarge,
    #[error("the server answered HTTP {0}")]
    Status(u16),
    #[error("unusable answer: {0}")]
    Garbage(String),
    #[error("network error: {0}")]
    Network(String),
}

impl ClientError {
    /// Whether trying again later may succeed: network trouble, a timeout, 429 and 5xx.
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Network(_) | ClientError::Timeout => true,
            ClientError::Status(code) => *code == 429 || (500..600).contains(code),
            ClientError::Forbidden(..) | ClientError::TooLarge | ClientError::Garbage(_) => false,
        }
    }
}

/// The client cannot be made from its settings.
#[derive(Debug, Error)]
pub enum SetupError {
    #[error("the extra CA certificates cannot be read: {0}")]
    Ca(String),
    #[error("the HTTP client cannot be built: {0}")]
    Build(String),
}

/// Outbound federation requests; cheap to share behind an `Arc`.
pub struct FederationClient {
    /// GETs: follows up to [`MAX_REDIRECTS`] redirects.
    fetcher: reqwest::Client,
    /// POSTs: follows none, so a delivery is never turned into a GET or sent elsewhere.
    poster: reqwest::Client,
    allow_loopback: bool,
    max_body: usize,
}

impl FederationClient {
    pub fn new(settings: &ClientSettings) -> Result<FederationClient, SetupError> {
        let extra_roots = match &settings.extra_ca_pem {
            Some(pem) => reqwest::Certificate::from_pem_bundle(pem.as_bytes())
                .map_err(|e| SetupError::Ca(describe(&e)))?,
            None => Vec::new(),
        };
        let allow_loopback = settings.allow_loopback;
        let build = |policy: redirect::Policy| {
            let mut builder = reqwest::Client::builder()
                .https_only(true)
                // A proxy would resolve the target itself, out of the guard's reach.
                .no_proxy()
                .dns_resolver(Arc::new(GuardedResolver { allow_loopback }))
                .redirect(policy)
                .user_agent(settings.user_agent.clone())
                .connect_timeout(settings.timeout)
                .timeout(settings.timeout);
            for root in &extra_roots {
                builder = builder.add_root_certificate(root.clone());
            }
            builder.build().map_err(|e| SetupError::Build(describe(&e)))
        };
        let follow = redirect::Policy::custom(move |attempt| {
            // `previous` holds the first URL and every redirect before this one.
            if attempt.previous().len() > MAX_REDIRECTS {
                let refusal = Refused(format!("more than {MAX_REDIRECTS} redirects"));
                return attempt.error(refusal);
            }
            match url_refusal(attempt.url(), allow_loopback) {
                Some(reason) => attempt.error(Refused(format!("redirect refused: {reason}"))),
                None => attempt.follow(),
            }
        });
        Ok(FederationClient {
            fetcher: build(follow)?,
            poster: build(redirect::Policy::none())?,
            allow_loopback,
            max_body: settings.max_body_bytes,
        })
    }

    /// GETs an ActivityPub object, signed as `signer` when given (PeerTube signs its fetches
    /// with the instance actor; some servers require it). The document's `id` must be on
    /// the host that was asked.
    pub async fn fetch_object(
        &self,
        url: &str,
        signer: Option<&Signer>,
    ) -> Result<Value, ClientError> {
        let parsed = self.checked_url(url)?;
        let mut request = self
            .fetcher
            .get(parsed.clone())
            .header(ACCEPT, ACTIVITY_ACCEPT);
        let now = Utc::now();
        match signer {
            Some(signer) => {
                let signed = signer.sign_get(&request_target(&parsed), &authority(&parsed), now);
                request = request
                    .header(DATE, signed.date)
                    .header("signature", signed.signature);
            }
            None => request = request.header(DATE, crate::signatures::http_date(now)),
        }
        let response = self.send(url, request).await?;
        let document = self.read_json(response, ACTIVITY_TYPES).await?;
        let id = document
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| ClientError::Garbage("the document has no id".into()))?;
        if !same_host(id, &parsed) {
            return Err(ClientError::Garbage(format!(
                "the document {} is not from {}",
                clip(id),
                authority(&parsed)
            )));
        }
        Ok(document)
    }

    /// The ActivityPub id of `name@host` (a leading `@` is allowed), from the `self` link of
    /// the host's WebFinger answer.
    pub async fn webfinger(&self, handle: &str) -> Result<String, ClientError> {
        let refused = |reason: &str| ClientError::Forbidden(clip(handle), reason.to_string());
        let bare = handle.strip_prefix('@').unwrap_or(handle);
        let (name, host) = bare
            .split_once('@')
            .ok_or_else(|| refused("not a name@host handle"))?;
        let bad_char = |c: char| c.is_whitespace() || "@/?#\\".contains(c);
        if name.is_empty() || host.is_empty() || name.contains(bad_char) || host.contains(bad_char)
        {
            return Err(refused("not a name@host handle"));
        }
        let mut url = Url::parse(&format!("https://{host}/.well-known/webfinger"))
            .map_err(|_| refused("the host is not valid"))?;
        let host = authority(&url);
        url.query_pairs_mut()
            .append_pair("resource", &format!("acct:{name}@{host}"));
        let url = self.checked_url(url.as_str())?;
        let request = self
            .fetcher
            .get(url.clone())
            .header(ACCEPT, "application/jrd+json, application/json");
        let response = self.send(url.as_str(), request).await?;
        let answer = self.read_json(response, WEBFINGER_TYPES).await?;
        let links = answer
            .get("links")
            .and_then(Value::as_array)
            .ok_or_else(|| ClientError::Garbage("the WebFinger answer has no links".into()))?;
        links
            .iter()
            .filter(|l| l.get("rel").and_then(Value::as_str) == Some("self"))
            .filter(|l| {
                l.get("type")
                    .and_then(Value::as_str)
                    .is_some_and(is_activity_type)
            })
            .find_map(|l| l.get("href").and_then(Value::as_str).and_then(web_url))
            .ok_or_else(|| {
                ClientError::Garbage("the WebFinger answer has no ActivityPub self link".into())
            })
    }

    /// Fetches and checks an actor document (see [`parse_actor`]).
    pub async fn fetch_actor(
        &self,
        url: &str,
        signer: Option<&Signer>,
    ) -> Result<RemoteActor, ClientError> {
        let document = self.fetch_object(url, signer).await?;
        parse_actor(&document, Utc::now())
    }

    /// Delivers an activity to an inbox, signed as `signer`; any 2xx is success.
    pub async fn post_activity(
        &self,
        inbox: &str,
        signer: &Signer,
        body: &[u8],
    ) -> Result<(), ClientError> {
        let url = self.checked_url(inbox)?;
        let signed = signer.sign_post(&request_target(&url), &authority(&url), body, Utc::now());
        let mut request = self
            .poster
            .post(url)
            .header(CONTENT_TYPE, ACTIVITY_CONTENT_TYPE)
            .header(ACCEPT, ACTIVITY_ACCEPT)
            .header(DATE, signed.date)
            .header("signature", signed.signature)
            .body(body.to_vec());
        if let Some(digest) = signed.digest {
            request = request.header("digest", digest);
        }
        self.send(inbox, request).await.map(drop)
    }

    /// Parses `raw` and applies the checks the resolver cannot: https, no credentials, and
    /// no non-public IP literal.
    fn checked_url(&self, raw: &str) -> Result<Url, ClientError> {
        let url = Url::parse(raw)
            .map_err(|e| ClientError::Forbidden(clip(raw), format!("not a valid URL: {e}")))?;
        match url_refusal(&url, self.allow_loopback) {
            Some(reason) => Err(ClientError::Forbidden(clip(raw), reason)),
            None => Ok(url),
        }
    }

    /// Sends and turns anything but a 2xx into an error.
    async fn send(
        &self,
        url: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<Response, ClientError> {
        let response = request.send().await.map_err(|e| request_error(url, &e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(ClientError::Status(status.as_u16()));
        }
        Ok(response)
    }

    async fn read_json(&self, response: Response, types: &[&str]) -> Result<Value, ClientError> {
        let media_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        if !types.contains(&media_type.as_str()) {
            return Err(ClientError::Garbage(format!(
                "unexpected content type {:?}",
                clip(&media_type)
            )));
        }
        let url = response.url().to_string();
        let body = read_capped(response, self.max_body, &url).await?;
        parse_json(&body)
    }
}

/// Reads a body, failing as soon as it would exceed `max` bytes.
async fn read_capped(
    mut response: Response,
    max: usize,
    url: &str,
) -> Result<Vec<u8>, ClientError> {
    if response
        .content_length()
        .is_some_and(|length| length > max as u64)
    {
        return Err(ClientError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| request_error(url, &e))? {
        if body.len() + chunk.len() > max {
            return Err(ClientError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// JSON with at most [`MAX_JSON_DEPTH`] levels of arrays and objects.
pub fn parse_json(body: &[u8]) -> Result<Value, ClientError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in body {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return Err(ClientError::Garbage(format!(
                        "JSON nested deeper than {MAX_JSON_DEPTH} levels"
                    )));
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    serde_json::from_slice(body).map_err(|e| ClientError::Garbage(format!("not JSON: {e}")))
}

/// Checks an actor document with PeerTube's rules (`sanitizeAndCheckActorObject`, the
/// same-host checks of its actor fetch) and makes it a [`RemoteActor`].
///
/// Required: a known actor type, `id`, `inbox`, a `preferredUsername` of PeerTube's
/// alphabet and a `publicKey` whose owner is the actor. Optional URLs, when present, must be
/// valid. A Group must be attributed to an actor on its own host: a PeerTube channel's
/// owning account. Like PeerTube, inboxes may be on another host (the delivery is guarded
/// like every request). Stricter than PeerTube: the key id must be on the actor's host,
/// so that no actor can claim another server's key id.
pub fn parse_actor(doc: &Value, fetched_at: DateTime<Utc>) -> Result<RemoteActor, ClientError> {
    let bad = |what: &str| ClientError::Garbage(format!("invalid actor: {what}"));
    let text = |key: &str| doc.get(key).and_then(Value::as_str);
    let kind = match text("type").unwrap_or_default() {
        "Person" => RemoteActorKind::Person,
        "Group" => RemoteActorKind::Group,
        "Application" => RemoteActorKind::Application,
        "Service" => RemoteActorKind::Service,
        "Organization" => RemoteActorKind::Organization,
        _ => return Err(bad("not an actor type")),
    };
    let url = text("id").and_then(web_url).ok_or_else(|| bad("id"))?;
    let id = Url::parse(&url).map_err(|_| bad("id"))?;
    let inbox = text("inbox")
        .and_then(web_url)
        .ok_or_else(|| bad("inbox"))?;
    let preferred_username = text("preferredUsername")
        .filter(|n| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
        })
        .ok_or_else(|| bad("preferredUsername"))?
        .to_string();
    let optional_url = |value: Option<&Value>, what: &str| match value {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_str()
            .and_then(web_url)
            .map(Some)
            .ok_or_else(|| bad(what)),
    };
    let shared_inbox = optional_url(
        doc.get("endpoints").and_then(|e| e.get("sharedInbox")),
        "endpoints.sharedInbox",
    )?;
    let outbox = optional_url(doc.get("outbox"), "outbox")?;
    let followers = optional_url(doc.get("followers"), "followers")?;
    let following = optional_url(doc.get("following"), "following")?;

    let key = doc.get("publicKey").ok_or_else(|| bad("publicKey"))?;
    let key_text = |k: &str| key.get(k).and_then(Value::as_str);
    let public_key_id = key_text("id")
        .and_then(web_url)
        .filter(|k| same_host(k, &id))
        .ok_or_else(|| bad("publicKey.id"))?;
    if key_text("owner") != Some(url.as_str()) {
        return Err(bad("publicKey.owner is not the actor"));
    }
    let public_key_pem = key_text("publicKeyPem")
        .filter(|pem| {
            pem.starts_with("-----BEGIN PUBLIC KEY-----")
                && pem.contains("-----END PUBLIC KEY-----")
                && pem.len() <= MAX_PUBLIC_KEY_LENGTH
        })
        .ok_or_else(|| bad("publicKey.publicKeyPem"))?
        .to_string();
    crate::keys::public_key(&public_key_pem).map_err(|_| bad("publicKey.publicKeyPem"))?;

    let attributed_to = match kind {
        RemoteActorKind::Group => Some(group_owner(doc, &id).ok_or_else(|| bad("attributedTo"))?),
        _ => None,
    };
    let name = text("name")
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(&preferred_username)
        .to_string();
    let summary = text("summary")
        .map(|s| s.chars().take(*SUMMARY_LENGTH.end()).collect::<String>())
        .filter(|s| s.chars().count() >= *SUMMARY_LENGTH.start());
    Ok(RemoteActor {
        host: authority(&id),
        url,
        kind,
        preferred_username,
        name,
        summary,
        inbox,
        shared_inbox,
        outbox,
        followers,
        following,
        public_key_id,
        public_key_pem,
        attributed_to,
        avatar_url: largest_icon(doc.get("icon")),
        profile_url: profile_url(doc.get("url")),
        fetched_at,
    })
}

/// The owning account of a Group: the first `Person` of `attributedTo`, else its first
/// bare URL; on the group's host either way.
fn group_owner(doc: &Value, group: &Url) -> Option<String> {
    let entries = as_list(doc.get("attributedTo"));
    let person = entries.iter().find_map(|e| {
        (e.get("type").and_then(Value::as_str) == Some("Person"))
            .then(|| e.get("id").and_then(Value::as_str).and_then(web_url))
            .flatten()
    });
    let bare = || entries.iter().find_map(|e| e.as_str().and_then(web_url));
    person.or_else(bare).filter(|owner| same_host(owner, group))
}

/// The widest `Image` icon (PeerTube sends several sizes, Mastodon one without a width).
fn largest_icon(icon: Option<&Value>) -> Option<String> {
    as_list(icon)
        .into_iter()
        .filter(|i| i.get("type").and_then(Value::as_str) == Some("Image"))
        .filter(|i| {
            i.get("mediaType")
                .and_then(Value::as_str)
                .is_none_or(|t| t.starts_with("image/"))
        })
        .filter_map(|i| {
            let url = i.get("url").and_then(Value::as_str).and_then(web_url)?;
            let width = i.get("width").and_then(Value::as_u64).unwrap_or(0);
            Some((width, url))
        })
        .max_by_key(|(width, _)| *width)
        .map(|(_, url)| url)
}

/// The profile page: `url` as a string (Mastodon) or the first HTML link (PeerTube).
fn profile_url(value: Option<&Value>) -> Option<String> {
    as_list(value).into_iter().find_map(|u| match u {
        Value::String(s) => web_url(s),
        Value::Object(link) => {
            let html = link
                .get("mediaType")
                .and_then(Value::as_str)
                .is_none_or(|t| t == "text/html");
            let is_link = link.get("type").and_then(Value::as_str) == Some("Link");
            (html && is_link)
                .then(|| link.get("href").and_then(Value::as_str).and_then(web_url))
                .flatten()
        }
        _ => None,
    })
}

fn as_list(value: Option<&Value>) -> Vec<&Value> {
    match value {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => vec![other],
    }
}

/// `s` when it is an absolute http(s) URL with a host, of a sane length.
fn web_url(s: &str) -> Option<String> {
    if s.len() > MAX_URL_LENGTH {
        return None;
    }
    let url = Url::parse(s).ok()?;
    (matches!(url.scheme(), "https" | "http") && url.host_str().is_some()).then(|| s.to_string())
}

fn is_activity_type(media_type: &str) -> bool {
    let base = media_type.split(';').next().unwrap_or_default().trim();
    base.eq_ignore_ascii_case("application/activity+json")
        || base.eq_ignore_ascii_case("application/ld+json")
}

/// `host[:port]`, as the `Host` header and HTTP signatures carry it (no default port).
fn authority(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// Path and query, as the request line carries them.
fn request_target(url: &Url) -> String {
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    }
}

fn same_host(other: &str, url: &Url) -> bool {
    Url::parse(other).is_ok_and(|o| authority(&o).eq_ignore_ascii_case(&authority(url)))
}

/// Why a URL may not be requested, if it may not.
fn url_refusal(url: &Url, allow_loopback: bool) -> Option<String> {
    if url.scheme() != "https" {
        return Some("only https URLs are requested".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Some("URLs with credentials are not requested".into());
    }
    let host = match url.host_str() {
        Some(host) if !host.is_empty() => host,
        _ => return Some("the URL has no host".into()),
    };
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    let ip = literal.parse::<IpAddr>().ok()?;
    refused_class(ip, allow_loopback).map(|class| format!("{ip} is {class}"))
}

/// The class of `ip` when it may not be reached; loopback only when `allow_loopback`.
fn refused_class(ip: IpAddr, allow_loopback: bool) -> Option<&'static str> {
    forbidden_address(ip).filter(|class| !(allow_loopback && *class == "loopback"))
}

/// The class of an address that federation must not reach, or `None` for a public one.
pub fn forbidden_address(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    let class = match (a, b, c) {
        _ if ip.is_unspecified() || a == 0 => "unspecified",
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_private() => "private",
        _ if ip.is_link_local() => "link-local",
        _ if ip.is_broadcast() => "broadcast",
        _ if ip.is_documentation() => "for documentation",
        _ if ip.is_multicast() => "multicast",
        (100, 64..=127, _) => "shared (carrier-grade NAT)",
        (192, 0, 0) => "reserved for protocol assignments",
        (198, 18..=19, _) => "for benchmarking",
        (240..=255, _, _) => "reserved",
        _ => return None,
    };
    Some(class)
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    let s = ip.segments();
    let embedded_v4 = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    let class = match s {
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_multicast() => "multicast",
        // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach the IPv4 address they embed.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => return forbidden_v4(embedded_v4(hi, lo)),
        [0x2002, hi, lo, ..] => return forbidden_v4(embedded_v4(hi, lo)),
        // IPv4-compatible addresses (::/96), deprecated.
        [0, 0, 0, 0, 0, 0, _, _] => "reserved",
        [first, ..] if first & 0xfe00 == 0xfc00 => "private (unique local)",
        [first, ..] if first & 0xffc0 == 0xfe80 => "link-local",
        [first, ..] if first & 0xffc0 == 0xfec0 => "private (site-local)",
        [0x2001, 0x0db8, ..] => "for documentation",
        [0x3fff, second, ..] if second & 0xf000 == 0 => "for documentation",
        [0x0100, 0, 0, 0, ..] => "reserved (discard)",
        _ => return None,
    };
    Some(class)
}

/// A refusal of the guard, found again in reqwest's error chain.
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Refused {}

/// Resolves with the system resolver and keeps only public addresses.
struct GuardedResolver {
    allow_loopback: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_loopback = self.allow_loopback;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let kept: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| refused_class(a.ip(), allow_loopback).is_none())
                .collect();
            if kept.is_empty() {
                let why = match found.first() {
                    Some(a) => format!(
                        "{host} resolves to {} ({})",
                        a.ip(),
                        forbidden_address(a.ip()).unwrap_or("no address")
                    ),
                    None => format!("{host} has no address"),
                };
                return Err(Box::new(Refused(why)) as Box<dyn StdError + Send + Sync>);
            }
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

fn request_error(url: &str, error: &reqwest::Error) -> ClientError {
    let mut source: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(refused) = e.downcast_ref::<Refused>() {
            return ClientError::Forbidden(clip(url), refused.0.clone());
        }
        source = e.source();
    }
    if error.is_timeout() {
        return ClientError::Timeout;
    }
    ClientError::Network(describe(error))
}

/// An error with its causes, which reqwest keeps out of its own message.
fn describe(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// Outside text quoted in errors and logs, kept short.
fn clip(s: &str) -> String {
    s.chars().take(200).collect()
}

/// Local HTTPS peers for tests: an axum router served over TLS with a CA made for the run,
/// and clients that trust it and may reach loopback.
#[cfg(test)]
pub(crate) mod test_support {
    use std::net::SocketAddr;
    use std::sync::{Arc, OnceLock};
    use std::time::Duration;

    use peerbox_catalog::ActorKey;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::mpsc;
    use tokio_rustls::TlsAcceptor;
    use tokio_rustls::server::TlsStream;

    use super::{ClientSettings, FederationClient};
    use crate::signatures::{KeyId, KeyResolver, PublicKey, Signer};

    pub(crate) struct TestServer {
        pub(crate) port: u16,
        pub(crate) ca_pem: String,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for TestServer {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    impl TestServer {
        pub(crate) fn url(&self, path: &str) -> String {
            format!("https://localhost:{}{path}", self.port)
        }

        pub(crate) fn host(&self) -> String {
            format!("localhost:{}", self.port)
        }

        pub(crate) fn settings(&self) -> ClientSettings {
            ClientSettings {
                allow_loopback: true,
                extra_ca_pem: Some(self.ca_pem.clone()),
                timeout: Duration::from_secs(5),
                ..ClientSettings::default()
            }
        }

        pub(crate) fn client(&self) -> FederationClient {
            FederationClient::new(&self.settings()).expect("client")
        }
    }

    /// Accepts TCP connections and runs each TLS handshake in its own task, so that a
    /// client that stalls holds up no other.
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

    /// Serves `router` on `https://localhost:<port>` (and 127.0.0.1).
    pub(crate) async fn serve(router: axum::Router) -> TestServer {
        let ca_key = rcgen::KeyPair::generate().expect("CA key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Peerbox federation test CA");
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA");
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
            .expect("params")
            .signed_by(&key, &ca)
            .expect("certificate");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone(), CertificateDer::from(ca.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .expect("TLS config");
        let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = tcp.local_addr().expect("address").port();
        let (ready_tx, ready) = mpsc::channel(16);
        let listener = TlsListener {
            tcp,
            acceptor: TlsAcceptor::from(Arc::new(config)),
            ready_tx,
            ready,
        };
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        TestServer {
            port,
            ca_pem: ca.pem(),
            task,
        }
    }

    /// One RSA key for all tests (generating one takes a while).
    pub(crate) fn key() -> &'static ActorKey {
        static KEY: OnceLock<ActorKey> = OnceLock::new();
        KEY.get_or_init(|| crate::keys::generate().expect("key"))
    }

    pub(crate) fn signer(actor_url: &str) -> Signer {
        let private = crate::keys::private_key(&key().private_pem).expect("private key");
        Signer::new(actor_url, private)
    }

    /// Knows every actor to hold the test key.
    pub(crate) struct TestKeys;

    impl KeyResolver for TestKeys {
        fn resolve(
            &self,
            key_id: &KeyId,
            _refresh: bool,
        ) -> impl Future<Output = Result<PublicKey, String>> + Send {
            let found = match key_id {
                KeyId::Url { actor, .. } => crate::keys::public_key(&key().public_pem)
                    .map(|key| PublicKey {
                        owner: actor.clone(),
                        key,
                    })
                    .map_err(|e| e.to_string()),
                KeyId::Acct { .. } => Err("no acct: keys here".to_string()),
            };
            async move { found }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    use axum::Router;
    use axum::body::{Body, Bytes};
    use axum::extract::{Query, State};
    use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
    use axum::response::{IntoResponse, Response};
    use axum::routing::get;
    use serde_json::json;

    use super::test_support::{TestKeys, TestServer, key, serve, signer};
    use super::*;
    use crate::signatures::{IncomingRequest, verify_request};

    const AP: &str = "application/activity+json; charset=utf-8";

    fn activity_json(body: Value) -> Response {
        ([(header::CONTENT_TYPE, AP)], body.to_string()).into_response()
    }

    fn default_client() -> FederationClient {
        FederationClient::new(&ClientSettings::default()).expect("client")
    }

    fn forbidden(result: Result<impl std::fmt::Debug, ClientError>) -> String {
        match result {
            Err(ClientError::Forbidden(_, reason)) => reason,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn non_public_addresses_are_refused_and_public_ones_allowed() {
        let refused = [
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("127.0.0.1", "loopback"),
            ("127.8.9.10", "loopback"),
            ("10.0.0.1", "private"),
            ("172.16.5.4", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "shared (carrier-grade NAT)"),
            ("100.127.255.254", "shared (carrier-grade NAT)"),
            ("255.255.255.255", "broadcast"),
            ("192.0.2.10", "for documentation"),
            ("198.51.100.7", "for documentation"),
            ("203.0.113.99", "for documentation"),
            ("224.0.0.251", "multicast"),
            ("239.255.255.250", "multicast"),
            ("198.18.0.1", "for benchmarking"),
            ("240.0.0.1", "reserved"),
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("fc00::1", "private (unique local)"),
            ("fd12:3456::1", "private (unique local)"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local"),
            ("fec0::1", "private (site-local)"),
            ("ff02::1", "multicast"),
            ("2001:db8::1", "for documentation"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.1.2.3", "private"),
            ("::ffff:169.254.169.254", "link-local"),
            ("64:ff9b::a00:1", "private"),
            ("2002:c0a8:101::1", "private"),
            ("::127.0.0.1", "reserved"),
        ];
        for (ip, class) in refused {
            let ip: IpAddr = ip.parse().expect("address");
            assert_eq!(forbidden_address(ip), Some(class), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.215.14",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "2606:4700:4700::1111",
            "2a01:4f8::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            let ip: IpAddr = ip.parse().expect("address");
            assert_eq!(forbidden_address(ip), None, "{ip}");
        }
    }

    #[tokio::test]
    async fn only_public_https_urls_are_requested() {
        let client = default_client();
        let http = forbidden(
            client
                .fetch_object("http://peertube.example/videos", None)
                .await,
        );
        assert!(http.contains("only https"), "{http}");
        for literal in [
            "https://127.0.0.1/accounts/a",
            "https://[::1]/accounts/a",
            "https://10.1.2.3/accounts/a",
            "https://169.254.169.254/latest/meta-data",
            "https://[::ffff:192.168.1.1]/inbox",
            "https://[fe80::1]/inbox",
        ] {
            let reason = forbidden(client.fetch_object(literal, None).await);
            assert!(reason.contains(" is "), "{literal}: {reason}");
        }
        let credentials = forbidden(
            client
                .fetch_object("https://u:p@peertube.example/", None)
                .await,
        );
        assert!(credentials.contains("credentials"), "{credentials}");
        assert!(matches!(
            client.fetch_object("not a url", None).await,
            Err(ClientError::Forbidden(..))
        ));
        // A name is resolved, and refused when it leads to loopback.
        let named = forbidden(client.fetch_object("https://localhost:9/x", None).await);
        assert!(named.contains("localhost resolves to"), "{named}");
        let s = signer("https://box.example/accounts/peertube");
        let post = client
            .post_activity("https://127.0.0.1:9/inbox", &s, b"{}")
            .await;
        assert!(matches!(post, Err(ClientError::Forbidden(..))), "{post:?}");
        let finger = client.webfinger("alice@127.0.0.1").await;
        assert!(
            matches!(finger, Err(ClientError::Forbidden(..))),
            "{finger:?}"
        );
    }

    #[test]
    fn the_test_switch_lets_only_loopback_through() {
        for (url, allowed) in [
            ("https://127.0.0.9:8443/accounts/a", true),
            ("https://[::1]/accounts/a", true),
            ("https://10.1.2.3/videos/watch/x", false),
            ("https://169.254.169.254/latest/meta-data/", false),
            ("https://[::ffff:192.168.1.1]/inbox", false),
            ("https://[fe80::1]/inbox", false),
        ] {
            let url = Url::parse(url).expect("URL");
            assert_eq!(url_refusal(&url, true).is_none(), allowed, "{url}");
        }
    }

    async fn object_server() -> TestServer {
        async fn object(uri: Uri, headers: HeaderMap) -> Response {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or_default();
            activity_json(json!({"id": format!("https://{host}{}", uri.path()), "type": "Note"}))
        }
        let router = Router::new().route("/objects/{n}", get(object));
        serve(router).await
    }

    #[tokio::test]
    async fn allowing_private_addresses_reaches_a_loopback_peer() {
        let server = object_server().await;
        let url = server.url("/objects/1");
        let doc = server
            .client()
            .fetch_object(&url, None)
            .await
            .expect("fetch");
        assert_eq!(doc["id"], json!(url));
        // The same peer, with the guard on.
        let guarded = ClientSettings {
            allow_loopback: false,
            ..server.settings()
        };
        let client = FederationClient::new(&guarded).expect("client");
        let reason = forbidden(client.fetch_object(&url, None).await);
        assert!(reason.contains("loopback"), "{reason}");
        let by_ip = format!("https://127.0.0.1:{}/objects/1", server.port);
        assert!(matches!(
            client.fetch_object(&by_ip, None).await,
            Err(ClientError::Forbidden(..))
        ));
    }

    #[tokio::test]
    async fn redirects_are_few_and_https_only() {
        async fn redirect(State(port): State<u16>, uri: Uri) -> Response {
            let to = match uri.path() {
                "/hop/1" => format!("https://localhost:{port}/objects/1"),
                "/hop/2" => "/hop/1".to_string(),
                "/plain" => format!("http://localhost:{port}/objects/1"),
                _ => "/loop".to_string(),
            };
            (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
        }
        // The port is known once bound: serve on a router that reads it from its state.
        let port = Arc::new(AtomicUsize::new(0));
        let shared = port.clone();
        let router = Router::new()
            .route(
                "/objects/{n}",
                get(|headers: HeaderMap, uri: Uri| async move {
                    let host = headers[header::HOST]
                        .to_str()
                        .unwrap_or_default()
                        .to_string();
                    activity_json(json!({"id": format!("https://{host}{}", uri.path())}))
                }),
            )
            .fallback(move |uri: Uri| {
                let port = u16::try_from(shared.load(Ordering::SeqCst)).unwrap_or_default();
                redirect(State(port), uri)
            });
        let server = serve(router).await;
        port.store(usize::from(server.port), Ordering::SeqCst);
        let client = server.client();
        let doc = client
            .fetch_object(&server.url("/hop/2"), None)
            .await
            .expect("two redirects are followed");
        assert_eq!(doc["id"], json!(server.url("/objects/1")));
        let plain = forbidden(client.fetch_object(&server.url("/plain"), None).await);
        assert!(plain.contains("only https"), "{plain}");
        let endless = forbidden(client.fetch_object(&server.url("/loop"), None).await);
        assert!(endless.contains("more than 3 redirects"), "{endless}");
        // A delivery follows none.
        let s = signer("https://box.example/accounts/peertube");
        assert_eq!(
            client.post_activity(&server.url("/hop/1"), &s, b"{}").await,
            Err(ClientError::Status(302))
        );
    }

    #[tokio::test]
    async fn bodies_over_the_cap_are_refused_while_reading() {
        const CAP: usize = 64 * 1024;
        fn padded(host: &str, size: usize) -> String {
            let head = format!(r#"{{"id":"https://{host}/x","pad":""#);
            format!("{head}{}\"}}", "a".repeat(size - head.len() - 2))
        }
        let router = Router::new()
            .route(
                "/sized/{size}",
                get(
                    |axum::extract::Path(size): axum::extract::Path<usize>, h: HeaderMap| async move {
                        let host = h[header::HOST].to_str().unwrap_or_default().to_string();
                        ([(header::CONTENT_TYPE, AP)], padded(&host, size)).into_response()
                    },
                ),
            )
            .route(
                "/stream",
                get(|| async {
                    // No Content-Length: chunks until well past the cap.
                    let chunks = (0..64).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b' '; 8192])));
                    let body = Body::from_stream(futures_util::stream::iter(chunks));
                    ([(header::CONTENT_TYPE, AP)], body).into_response()
                }),
            );
        let server = serve(router).await;
        let client = FederationClient::new(&ClientSettings {
            max_body_bytes: CAP,
            ..server.settings()
        })
        .expect("client");
        let fits = client
            .fetch_object(&server.url(&format!("/sized/{CAP}")), None)
            .await
            .expect("a body of exactly the cap");
        assert_eq!(
            fits["pad"].as_str().map(str::len),
            Some(CAP - 28 - server.host().len())
        );
        assert_eq!(
            client
                .fetch_object(&server.url(&format!("/sized/{}", CAP + 1)), None)
                .await,
            Err(ClientError::TooLarge)
        );
        assert_eq!(
            client.fetch_object(&server.url("/stream"), None).await,
            Err(ClientError::TooLarge)
        );
    }

    #[tokio::test]
    async fn a_hanging_server_times_out() {
        let router = Router::new()
            .route(
                "/silent",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    "late"
                }),
            )
            .route(
                "/drip",
                get(|| async {
                    // The headers and a first byte, then nothing.
                    let first = futures_util::stream::iter([Ok::<_, std::io::Error>(
                        Bytes::from_static(b"{"),
                    )]);
                    let body = Body::from_stream(futures_util::StreamExt::chain(
                        first,
                        futures_util::stream::pending(),
                    ));
                    ([(header::CONTENT_TYPE, AP)], body).into_response()
                }),
            );
        let server = serve(router).await;
        let timeout = Duration::from_millis(500);
        let client = FederationClient::new(&ClientSettings {
            timeout,
            ..server.settings()
        })
        .expect("client");
        for path in ["/silent", "/drip"] {
            let started = Instant::now();
            let result = client.fetch_object(&server.url(path), None).await;
            assert_eq!(result, Err(ClientError::Timeout), "{path}");
            assert!(
                started.elapsed() < timeout * 4,
                "{path}: {:?}",
                started.elapsed()
            );
        }
        assert!(ClientError::Timeout.is_retryable());
    }

    #[test]
    fn json_nesting_is_limited() {
        let nested = |depth: usize| format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        parse_json(nested(MAX_JSON_DEPTH).as_bytes()).expect("at the limit");
        let too_deep = parse_json(nested(MAX_JSON_DEPTH + 1).as_bytes());
        assert!(
            matches!(&too_deep, Err(ClientError::Garbage(m)) if m.contains("nested deeper")),
            "{too_deep:?}"
        );
        // Brackets inside strings (escaped quotes included) are text.
        let text = format!(r#"{{"a":"\"{}"}}"#, "[".repeat(500));
        parse_json(text.as_bytes()).expect("brackets in a string");
        assert!(matches!(
            parse_json(b"{\"a\":"),
            Err(ClientError::Garbage(_))
        ));
    }

    #[tokio::test]
    async fn unusable_documents_are_refused() {
        let router = Router::new()
            .route(
                "/deep",
                get(|h: HeaderMap| async move {
                    let host = h[header::HOST].to_str().unwrap_or_default().to_string();
                    let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
                    let body = format!(r#"{{"id":"https://{host}/deep","a":{deep}}}"#);
                    ([(header::CONTENT_TYPE, AP)], body).into_response()
                }),
            )
            .route(
                "/foreign",
                get(|| async {
                    activity_json(json!({"id": "https://elsewhere.example/videos/1"}))
                }),
            )
            .route(
                "/anonymous",
                get(|| async { activity_json(json!({"type": "Note"})) }),
            )
            .route(
                "/html",
                get(|| async { ([(header::CONTENT_TYPE, "text/html")], "<html></html>") }),
            )
            .route("/gone", get(|| async { StatusCode::GONE }))
            .route("/busy", get(|| async { StatusCode::SERVICE_UNAVAILABLE }));
        let server = serve(router).await;
        let client = server.client();
        let garbage = |r: Result<Value, ClientError>| match r {
            Err(ClientError::Garbage(m)) => m,
            other => panic!("expected garbage, got {other:?}"),
        };
        let deep = garbage(client.fetch_object(&server.url("/deep"), None).await);
        assert!(deep.contains("nested deeper than 64"), "{deep}");
        let foreign = garbage(client.fetch_object(&server.url("/foreign"), None).await);
        assert!(foreign.contains("is not from localhost:"), "{foreign}");
        let anonymous = garbage(client.fetch_object(&server.url("/anonymous"), None).await);
        assert!(anonymous.contains("no id"), "{anonymous}");
        let html = garbage(client.fetch_object(&server.url("/html"), None).await);
        assert!(html.contains("content type"), "{html}");
        let gone = client.fetch_object(&server.url("/gone"), None).await;
        assert_eq!(gone, Err(ClientError::Status(410)));
        assert!(!ClientError::Status(410).is_retryable());
        let busy = client.fetch_object(&server.url("/busy"), None).await;
        assert_eq!(busy, Err(ClientError::Status(503)));
        assert!(ClientError::Status(503).is_retryable());
        assert!(ClientError::Status(429).is_retryable());
        assert!(!ClientError::Status(400).is_retryable());
        assert!(!ClientError::TooLarge.is_retryable());
        assert!(ClientError::Network("reset".into()).is_retryable());
    }

    /// A PeerTube-like peer: WebFinger, an account that answers only signed fetches, and
    /// its channel.
    async fn peertube_peer() -> TestServer {
        #[derive(serde::Deserialize)]
        struct Finger {
            resource: String,
        }
        async fn webfinger(Query(q): Query<Finger>, h: HeaderMap) -> Response {
            let host = h[header::HOST].to_str().unwrap_or_default().to_string();
            if q.resource != format!("acct:alice@{host}") {
                return StatusCode::NOT_FOUND.into_response();
            }
            let body = json!({
                "subject": q.resource,
                "aliases": [format!("https://{host}/accounts/alice")],
                "links": [
                    {"rel": "http://webfinger.net/rel/profile-page", "type": "text/html",
                     "href": format!("https://{host}/a/alice")},
                    {"rel": "self", "type": "application/activity+json",
                     "href": format!("https://{host}/accounts/alice")}
                ]
            });
            (
                [(header::CONTENT_TYPE, "application/jrd+json")],
                body.to_string(),
            )
                .into_response()
        }
        async fn account(method: Method, uri: Uri, h: HeaderMap) -> Response {
            let host = h[header::HOST].to_str().unwrap_or_default().to_string();
            let req = IncomingRequest {
                method: method.as_str(),
                target: uri.path(),
                headers: &h,
                body: b"",
            };
            if verify_request(&req, &TestKeys, Utc::now()).await.is_err() {
                return StatusCode::UNAUTHORIZED.into_response();
            }
            let id = format!("https://{host}/accounts/alice");
            activity_json(json!({
                "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
                "type": "Person",
                "id": id,
                "following": format!("{id}/following"),
                "followers": format!("{id}/followers"),
                "inbox": format!("{id}/inbox"),
                "outbox": format!("{id}/outbox"),
                "preferredUsername": "alice",
                "url": [{"type": "Link", "mediaType": "text/html", "href": format!("https://{host}/a/alice")}],
                "name": "Alice",
                "endpoints": {"sharedInbox": format!("https://{host}/inbox")},
                "publicKey": {"id": format!("{id}#main-key"), "owner": id, "publicKeyPem": key().public_pem},
                "icon": [
                    {"type": "Image", "mediaType": "image/png", "height": 48, "width": 48,
                     "url": format!("https://{host}/lazy-static/avatars/small.png")},
                    {"type": "Image", "mediaType": "image/png", "height": 600, "width": 600,
                     "url": format!("https://{host}/lazy-static/avatars/large.png")},
                    {"type": "Image", "mediaType": "image/png", "height": 120, "width": 120,
                     "url": format!("https://{host}/lazy-static/avatars/medium.png")}
                ],
                "summary": "Videos about boxes"
            }))
        }
        async fn channel(h: HeaderMap) -> Response {
            let host = h[header::HOST].to_str().unwrap_or_default().to_string();
            let id = format!("https://{host}/video-channels/alice_channel");
            activity_json(json!({
                "type": "Group",
                "id": id,
                "inbox": format!("{id}/inbox"),
                "preferredUsername": "alice_channel",
                "name": "Alice's channel",
                "url": [{"type": "Link", "mediaType": "text/html", "href": format!("https://{host}/c/alice_channel")}],
                "publicKey": {"id": format!("{id}#main-key"), "owner": id, "publicKeyPem": key().public_pem},
                "attributedTo": [{"type": "Person", "id": format!("https://{host}/accounts/alice")}],
                "summary": "ok"
            }))
        }
        let router = Router::new()
            .route("/.well-known/webfinger", get(webfinger))
            .route("/accounts/alice", get(account))
            .route("/video-channels/alice_channel", get(channel));
        serve(router).await
    }

    #[tokio::test]
    async fn webfinger_then_a_signed_actor_fetch() {
        let server = peertube_peer().await;
        let client = server.client();
        let host = server.host();
        let url = client
            .webfinger(&format!("@alice@{host}"))
            .await
            .expect("webfinger");
        assert_eq!(url, server.url("/accounts/alice"));
        assert_eq!(
            client.webfinger(&format!("bob@{host}")).await,
            Err(ClientError::Status(404))
        );
        assert!(matches!(
            client.webfinger("no-host").await,
            Err(ClientError::Forbidden(..))
        ));

        // The peer wants signed fetches.
        assert_eq!(
            client.fetch_actor(&url, None).await,
            Err(ClientError::Status(401))
        );
        let instance = signer("https://box.example/accounts/peertube");
        let alice = client
            .fetch_actor(&url, Some(&instance))
            .await
            .expect("signed fetch");
        assert_eq!(alice.url, url);
        assert_eq!(alice.kind, RemoteActorKind::Person);
        assert_eq!(alice.preferred_username, "alice");
        assert_eq!(alice.host, host);
        assert_eq!(alice.name, "Alice");
        assert_eq!(alice.summary.as_deref(), Some("Videos about boxes"));
        assert_eq!(alice.inbox, format!("{url}/inbox"));
        assert_eq!(alice.shared_inbox, Some(server.url("/inbox")));
        assert_eq!(alice.outbox, Some(format!("{url}/outbox")));
        assert_eq!(alice.followers, Some(format!("{url}/followers")));
        assert_eq!(alice.following, Some(format!("{url}/following")));
        assert_eq!(alice.public_key_id, format!("{url}#main-key"));
        assert_eq!(alice.public_key_pem, key().public_pem);
        assert_eq!(alice.attributed_to, None);
        assert_eq!(
            alice.avatar_url,
            Some(server.url("/lazy-static/avatars/large.png"))
        );
        assert_eq!(alice.profile_url, Some(server.url("/a/alice")));

        let channel = client
            .fetch_actor(&server.url("/video-channels/alice_channel"), None)
            .await
            .expect("channel");
        assert_eq!(channel.kind, RemoteActorKind::Group);
        assert_eq!(channel.attributed_to, Some(url));
        assert_eq!(channel.summary, None, "shorter than 3 characters");
        assert_eq!(channel.avatar_url, None);
        assert_eq!(channel.profile_url, Some(server.url("/c/alice_channel")));
    }

    fn mastodon_actor() -> Value {
        json!({
            "id": "https://social.example/users/bob",
            "type": "Person",
            "following": "https://social.example/users/bob/following",
            "inbox": "https://social.example/users/bob/inbox",
            "preferredUsername": "bob",
            "name": "",
            "summary": "<p>Hello there</p>",
            "url": "https://social.example/@bob",
            "publicKey": {
                "id": "https://social.example/users/bob#main-key",
                "owner": "https://social.example/users/bob",
                "publicKeyPem": key().public_pem
            },
            "endpoints": {"sharedInbox": "https://inbox.social.example/inbox"},
            "icon": {"type": "Image", "mediaType": "image/jpeg", "url": "https://files.social.example/bob.jpg"}
        })
    }

    #[test]
    fn a_mastodon_actor_is_read() {
        let at = Utc::now();
        let bob = parse_actor(&mastodon_actor(), at).expect("actor");
        assert_eq!(bob.name, "bob", "an empty name falls back to the username");
        assert_eq!(bob.host, "social.example");
        assert_eq!(
            bob.profile_url.as_deref(),
            Some("https://social.example/@bob")
        );
        assert_eq!(
            bob.avatar_url.as_deref(),
            Some("https://files.social.example/bob.jpg")
        );
        // Like PeerTube, an inbox on another host is accepted.
        assert_eq!(
            bob.shared_inbox.as_deref(),
            Some("https://inbox.social.example/inbox")
        );
        assert_eq!(bob.outbox, None);
        assert_eq!(bob.fetched_at, at);
        for kind in ["Application", "Service", "Organization"] {
            let mut doc = mastodon_actor();
            doc["type"] = json!(kind);
            parse_actor(&doc, at).expect(kind);
        }
    }

    #[test]
    fn invalid_actors_are_refused() {
        type Change = fn(&mut Value);
        let cases: Vec<(&str, Change)> = vec![
            ("type", |d| d["type"] = json!("Note")),
            ("id", |d| d["id"] = json!("mailto:bob@social.example")),
            ("inbox", |d| d["inbox"] = Value::Null),
            ("preferredUsername", |d| {
                d["preferredUsername"] = json!("bob smith")
            }),
            ("preferredUsername", |d| d["preferredUsername"] = json!("")),
            ("publicKey", |d| d["publicKey"] = Value::Null),
            ("publicKey.owner", |d| {
                d["publicKey"]["owner"] = json!("https://social.example/users/eve")
            }),
            ("publicKey.id", |d| {
                d["publicKey"]["id"] = json!("https://other.example/users/bob#main-key")
            }),
            ("publicKeyPem", |d| {
                d["publicKey"]["publicKeyPem"] =
                    json!("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----")
            }),
            ("publicKeyPem", |d| {
                d["publicKey"]["publicKeyPem"] = json!("ssh-rsa AAAA")
            }),
            ("sharedInbox", |d| {
                d["endpoints"]["sharedInbox"] = json!("not a url")
            }),
            ("outbox", |d| d["outbox"] = json!(42)),
            ("attributedTo", |d| d["type"] = json!("Group")),
            ("attributedTo", |d| {
                d["type"] = json!("Group");
                d["attributedTo"] =
                    json!([{"type": "Person", "id": "https://other.example/users/x"}]);
            }),
        ];
        for (what, change) in cases {
            let mut doc = mastodon_actor();
            change(&mut doc);
            let result = parse_actor(&doc, Utc::now());
            assert!(
                matches!(result, Err(ClientError::Garbage(_))),
                "{what}: {result:?}"
            );
        }
        // A group owned by a bare URL on its host is fine.
        let mut group = mastodon_actor();
        group["type"] = json!("Group");
        group["attributedTo"] = json!("https://social.example/users/carol");
        let group = parse_actor(&group, Utc::now()).expect("group");
        assert_eq!(
            group.attributed_to.as_deref(),
            Some("https://social.example/users/carol")
        );
    }

    #[tokio::test]
    async fn a_delivery_is_signed_and_posted() {
        let seen: Arc<std::sync::Mutex<Vec<(String, Bytes)>>> = Arc::default();
        let log = seen.clone();
        let router = Router::new().route(
            "/inbox",
            axum::routing::post(move |method: Method, uri: Uri, h: HeaderMap, body: Bytes| {
                let log = log.clone();
                async move {
                    let req = IncomingRequest {
                        method: method.as_str(),
                        target: uri.path(),
                        headers: &h,
                        body: &body,
                    };
                    match verify_request(&req, &TestKeys, Utc::now()).await {
                        Ok(verified) => {
                            let kind = h[header::CONTENT_TYPE].to_str().unwrap_or_default();
                            assert_eq!(kind, ACTIVITY_CONTENT_TYPE);
                            if let Ok(mut log) = log.lock() {
                                log.push((verified.owner, body));
                            }
                            StatusCode::NO_CONTENT
                        }
                        Err(_) => StatusCode::UNAUTHORIZED,
                    }
                }
            }),
        );
        let server = serve(router).await;
        let client = server.client();
        let body = br#"{"type":"Follow","id":"https://box.example/follows/1"}"#;
        let s = signer("https://box.example/accounts/peertube");
        client
            .post_activity(&server.url("/inbox"), &s, body)
            .await
            .expect("delivered");
        let seen = seen.lock().expect("log").clone();
        assert_eq!(
            seen,
            vec![(
                "https://box.example/accounts/peertube".to_string(),
                Bytes::from_static(body)
            )]
        );
        assert_eq!(
            client
                .post_activity(&server.url("/elsewhere"), &s, body)
                .await,
            Err(ClientError::Status(404))
        );
    }
}
