//! The inboxes (`/inbox`, shared, and each actor's): the cheap checks first (size, JSON,
//! PeerTube's activity shape, a rate limit per sending host), then the HTTP signature, then
//! the activity runs in the background, as PeerTube answers 204 before it processes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::to_bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::Value;

use crate::Federation;
use crate::activities::{self, Activity};
use crate::remote::ActorKeys;
use crate::routes::problem;
use crate::signatures::{IncomingRequest, KeyId, verify_request};

/// PeerTube's ActivityPub body limit is 500 kB.
pub const MAX_INBOX_BODY: usize = 512 * 1024;

/// Activities being processed at once; more get 429 and are sent again later by their
/// sender's queue.
pub const MAX_IN_PROGRESS: usize = 64;

/// A token bucket per sending host.
pub struct HostLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl HostLimiter {
    /// Bucket state kept for at most this many hosts; the idle ones go first.
    const MAX_HOSTS: usize = 10_000;

    pub fn new(per_second: f64, burst: f64) -> HostLimiter {
        HostLimiter {
            per_second,
            burst,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token of `host`'s bucket; false when it is empty.
    pub fn allow(&self, host: &str) -> bool {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= Self::MAX_HOSTS && !buckets.contains_key(host) {
            let full = self.burst;
            let rate = self.per_second;
            buckets.retain(|_, (tokens, at)| *tokens + at.elapsed().as_secs_f64() * rate < full);
        }
        let (tokens, at) = buckets.entry(host.to_string()).or_insert((self.burst, now));
        *tokens =
            (*tokens + now.duration_since(*at).as_secs_f64() * self.per_second).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// `POST /inbox`, `/accounts/{name}/inbox`, `/video-channels/{name}/inbox`.
pub(crate) async fn receive(State(fed): State<Arc<Federation>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = match to_bytes(body, MAX_INBOX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                "The activity is larger than the inbox accepts",
            );
        }
    };
    let json: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return problem(
                StatusCode::BAD_REQUEST,
                &format!("The body is not JSON: {e}"),
            );
        }
    };
    if let Some(keyword) = crate::jsonld::forbidden_keyword(&json) {
        return problem(
            StatusCode::BAD_REQUEST,
            &format!("JSON-LD {keyword} is not accepted"),
        );
    }
    let activity = match Activity::parse(&json) {
        Ok(a) => a,
        Err(e) => return problem(StatusCode::BAD_REQUEST, &e),
    };
    let sender_host = sender_host(&parts.headers).unwrap_or_else(|| activity.actor_host());
    // A blocked server costs no signature check and no fetch.
    if fed.is_blocked(&activity.actor) {
        return problem(StatusCode::FORBIDDEN, "This server or account is blocked");
    }
    // Counted per sending host and address: the host comes from the unverified keyId, so
    // a forger naming another server only uses up its own address's share.
    let address = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_default();
    if !fed.inbox_limiter.allow(&format!("{sender_host} {address}")) {
        return problem(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many activities from this host, try again later",
        );
    }
    let target = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let incoming = IncomingRequest {
        method: parts.method.as_str(),
        target,
        headers: &parts.headers,
        body: &body,
    };
    let verified = match verify_request(&incoming, &ActorKeys(&fed), Utc::now()).await {
        Ok(v) => v,
        Err(e) => {
            tracing::info!(actor = %activity.actor, "inbox: refused a signature: {e}");
            return problem(StatusCode::FORBIDDEN, &format!("Invalid signature: {e}"));
        }
    };
    if verified.owner != activity.actor {
        tracing::info!(
            signer = %verified.owner,
            actor = %activity.actor,
            "inbox: refused an activity signed by another actor"
        );
        return problem(
            StatusCode::FORBIDDEN,
            "The activity's actor is not the one who signed it",
        );
    }
    let Ok(permit) = fed.inbox_work.clone().try_acquire_owned() else {
        return problem(
            StatusCode::TOO_MANY_REQUESTS,
            "The inbox is busy, try again later",
        );
    };
    let fed = fed.clone();
    tokio::spawn(async move {
        let id = activity.id.clone();
        if let Err(e) = activities::process(&fed, activity).await {
            tracing::info!(activity = %id, "inbox: activity not applied: {e}");
        }
        drop(permit);
    });
    StatusCode::NO_CONTENT.into_response()
}

/// The host of the signature's `keyId`, before it is verified: only for rate limiting.
fn sender_host(headers: &axum::http::HeaderMap) -> Option<String> {
    let value = headers
        .get("signature")
        .or_else(|| headers.get("authorization"))?
        .to_str()
        .ok()?;
    let start = value.find("keyId=\"")? + "keyId=\"".len();
    let key_id = &value[start..];
    let key_id = &key_id[..key_id.find('"')?];
    match KeyId::parse(key_id).ok()? {
        KeyId::Url { actor, .. } => crate::host_of(&actor),
        KeyId::Acct { host, .. } => Some(host),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_gets_its_burst_then_its_rate() {
        let limiter = HostLimiter::new(1.0, 3.0);
        assert!((0..3).all(|_| limiter.allow("a.example")));
        assert!(!limiter.allow("a.example"));
        // Another host has its own bucket.
        assert!(limiter.allow("b.example"));
    }

    #[test]
    fn the_sender_host_comes_from_the_key_id() {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(
            "signature",
            "keyId=\"https://tube.example:8443/accounts/peertube#main-key\",headers=\"(request-target)\""
                .parse()
                .expect("header"),
        );
        assert_eq!(sender_host(&headers).as_deref(), Some("tube.example:8443"));
        assert_eq!(sender_host(&axum::http::HeaderMap::new()), None);
    }
}
