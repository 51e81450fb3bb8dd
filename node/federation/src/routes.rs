//! The HTTP side: WebFinger, host-meta and nodeinfo routes, and a middleware that answers
//! ActivityPub requests on the URLs the web pages also use (`/accounts/{name}`,
//! `/video-channels/{name}`, …), choosing by the `Accept` header as PeerTube does.

use std::cmp::Reverse;
use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use peerbox_catalog::web_profiles::Actor as Owner;
use serde_json::{Value, json};

use crate::Federation;
use crate::actors::{self, Actor, ActorKind, INSTANCE_ACTOR_NAME, Icon};
use crate::discovery::{self, NODEINFO_CONTENT_TYPE, NodeFacts, ResourceError};

const ACTIVITY_JSON: &str = "application/activity+json; charset=utf-8";

pub(crate) fn serve(fed: Arc<Federation>, pages: Router) -> Router {
    let discovery = Router::new()
        .route("/.well-known/webfinger", get(webfinger))
        .route("/.well-known/host-meta", get(host_meta))
        .route("/.well-known/nodeinfo", get(nodeinfo_links))
        .route("/nodeinfo/2.0.json", get(nodeinfo))
        .route("/nodeinfo/{file}", get(unknown_nodeinfo))
        .route("/inbox", post(crate::inbox::receive))
        .route("/accounts/{name}/inbox", post(crate::inbox::receive))
        .route("/video-channels/{name}/inbox", post(crate::inbox::receive))
        .with_state(fed.clone());
    discovery
        .merge(pages)
        .layer(axum::middleware::from_fn_with_state(fed, negotiate))
}

/// An RFC 7807 problem, shaped as PeerTube sends them.
pub(crate) fn problem(status: StatusCode, detail: &str) -> Response {
    let body = json!({
        "type": format!("https://docs.joinpeertube.org/api-rest-reference.html#section/Errors/{}", status.as_u16()),
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
        "docs": "https://docs.joinpeertube.org/api-rest-reference.html",
    });
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json; charset=utf-8"),
    );
    response
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!("federation: {e}");
    problem(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
}

/// JSON with a content type, readable from any origin (PeerTube enables CORS on these).
fn json_response(content_type: &'static str, body: &Value) -> Response {
    let mut response = body.to_string().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

async fn webfinger(
    State(fed): State<Arc<Federation>>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return problem(StatusCode::BAD_REQUEST, "The query string cannot be parsed");
    };
    let Some(resource) = query.get("resource") else {
        return problem(
            StatusCode::BAD_REQUEST,
            "Incorrect request parameters: resource",
        );
    };
    let name = match discovery::acct_name(resource, &fed.settings.public_host) {
        Ok(name) => name,
        Err(e @ (ResourceError::Malformed | ResourceError::OtherHost)) => {
            return problem(
                StatusCode::BAD_REQUEST,
                &format!("Incorrect request parameters: resource ({e})"),
            );
        }
    };
    let base = fed.settings.public_url.as_str();
    let found = match fed.lookup(&Target::Account(name.to_string())) {
        Ok(Some(actor)) => Some(actor),
        Ok(None) => match fed.lookup(&Target::Channel(name.to_string())) {
            Ok(found) => found,
            Err(e) => return internal(e),
        },
        Err(e) => return internal(e),
    };
    let Some(actor) = found else {
        return problem(StatusCode::NOT_FOUND, "Actor not found");
    };
    let page = match actor.kind {
        ActorKind::Person => Some(format!("{base}/a/{}", actor.name)),
        ActorKind::Group => Some(format!("{base}/c/{}", actor.name)),
        ActorKind::Application => None,
    };
    json_response(
        "application/jrd+json; charset=utf-8",
        &discovery::webfinger(resource, &actor.url(base), page.as_deref()),
    )
}

async fn host_meta(State(fed): State<Arc<Federation>>) -> Response {
    let mut response = discovery::host_meta(&fed.settings.public_url).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xrd+xml; charset=utf-8"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

async fn nodeinfo_links(State(fed): State<Arc<Federation>>) -> Response {
    json_response(
        "application/json; charset=utf-8",
        &discovery::nodeinfo_links(&fed.settings.public_url),
    )
}

async fn nodeinfo(State(fed): State<Arc<Federation>>) -> Response {
    let stats = match fed.catalog.stats() {
        Ok(s) => s,
        Err(e) => return internal(e),
    };
    let setting = |key: &str, default: &str| {
        fed.catalog
            .setting(key)
            .ok()
            .flatten()
            .unwrap_or_else(|| default.to_string())
    };
    let s = &fed.settings;
    let facts = NodeFacts {
        name: setting("instance_name", &s.instance_name),
        short_description: setting("instance_short_description", &s.instance_short_description),
        users: stats.users,
        local_videos: stats.local_videos,
        tracker_enabled: s.tracker_enabled,
        video_quota: s.video_quota,
        video_quota_daily: s.video_quota_daily,
    };
    json_response(NODEINFO_CONTENT_TYPE, &discovery::nodeinfo(&facts))
}

async fn unknown_nodeinfo() -> Response {
    problem(StatusCode::NOT_FOUND, "Nodeinfo schema version not handled")
}

/// Whose document a path asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Account(String),
    Channel(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Document {
    Actor,
    Followers,
    Following,
    Playlists,
    Outbox,
}

/// The ActivityPub routes of PeerTube's `client.ts` and `outbox.ts` that this node serves.
fn ap_route(path: &str) -> Option<(Target, Document)> {
    let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
    let (kind, name, rest) = match segments.as_slice() {
        [kind, name, rest @ ..] if !name.is_empty() => (*kind, name.replace("%40", "@"), rest),
        _ => return None,
    };
    let document = |s: &str| match s {
        "followers" => Some(Document::Followers),
        "following" => Some(Document::Following),
        "playlists" => Some(Document::Playlists),
        "outbox" => Some(Document::Outbox),
        _ => None,
    };
    match (kind, rest) {
        ("accounts" | "account" | "a", [] | ["video-channels"]) => {
            Some((Target::Account(name), Document::Actor))
        }
        ("accounts" | "account", [what]) => Some((Target::Account(name), document(what)?)),
        ("video-channels" | "c", [] | ["videos"]) => Some((Target::Channel(name), Document::Actor)),
        ("video-channels", [what]) => Some((Target::Channel(name), document(what)?)),
        _ => None,
    }
}

/// One media range of an Accept header.
struct Range<'a> {
    kind: &'a str,
    subtype: &'a str,
    params: Vec<(String, String)>,
    q: f32,
}

fn parse_accept(accept: &str) -> Vec<Range<'_>> {
    accept
        .split(',')
        .filter_map(|part| {
            let mut pieces = part.split(';');
            let (kind, subtype) = pieces.next()?.trim().split_once('/')?;
            let mut q = 1.0;
            let mut params = Vec::new();
            for p in pieces {
                let (k, v) = p.split_once('=')?;
                let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().trim_matches('"'));
                match k.as_str() {
                    "q" => q = v.parse().ok()?,
                    _ => params.push((k, v.to_string())),
                }
            }
            Some(Range {
                kind: kind.trim(),
                subtype: subtype.trim(),
                params,
                q,
            })
        })
        .collect()
}

/// Chooses among the types PeerTube offers (`html`, `application/json`, then the
/// ActivityPub types) as its negotiator does: highest q, then the most specific match,
/// then the earliest in the header, then the offer order. True when an ActivityPub type wins.
fn wants_activity_json(headers: &HeaderMap) -> bool {
    const OFFERED: [(&str, &str, Option<&str>, bool); 5] = [
        ("text", "html", None, false),
        ("application", "json", None, false),
        ("application", "activity+json", None, true),
        ("application", "ld+json", None, true),
        (
            "application",
            "ld+json",
            Some("https://www.w3.org/ns/activitystreams"),
            true,
        ),
    ];
    // No Accept header means anything: the page.
    let Some(accept) = headers.get(header::ACCEPT).and_then(|a| a.to_str().ok()) else {
        return false;
    };
    let ranges = parse_accept(accept);
    // (q, specificity, earlier in the header, earlier offer, is ActivityPub)
    type Key = (f32, u8, Reverse<usize>, Reverse<usize>, bool);
    let mut best: Option<Key> = None;
    for (offer, (kind, subtype, profile, is_ap)) in OFFERED.into_iter().enumerate() {
        // The most specific range that matches this offer decides its quality.
        let matched = ranges
            .iter()
            .enumerate()
            .filter_map(|(order, r)| {
                let kind_match = r.kind.eq_ignore_ascii_case(kind);
                let subtype_match = r.subtype.eq_ignore_ascii_case(subtype);
                let params_match = r
                    .params
                    .iter()
                    .all(|(k, v)| k == "profile" && profile == Some(v.as_str()));
                ((kind_match || r.kind == "*")
                    && (subtype_match || r.subtype == "*")
                    && params_match)
                    .then(|| {
                        let specificity = u8::from(kind_match) * 4
                            + u8::from(subtype_match) * 2
                            + u8::from(!r.params.is_empty());
                        (specificity, Reverse(order), r.q)
                    })
            })
            .max_by_key(|(specificity, order, _)| (*specificity, *order));
        let Some((specificity, order, q)) = matched else {
            continue;
        };
        if q <= 0.0 {
            continue;
        }
        let key = (q, specificity, order, Reverse(offer), is_ap);
        let wins = best.is_none_or(|b| {
            key.0 > b.0 || (key.0 == b.0 && (key.1, key.2, key.3) > (b.1, b.2, b.3))
        });
        if wins {
            best = Some(key);
        }
    }
    best.is_some_and(|b| b.4)
}

/// Answers ActivityPub requests for actors and their collections; everything else goes on
/// to the pages. The outbox is ActivityPub whatever the `Accept` (PeerTube's outbox route
/// has no HTML counterpart).
async fn negotiate(State(fed): State<Arc<Federation>>, req: Request, next: Next) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return next.run(req).await;
    }
    if wants_activity_json(req.headers())
        && let Some(document) = fed.interaction_document(req.uri().path(), req.uri().query())
    {
        return document;
    }
    if let Some(uuid) = req.uri().path().strip_prefix("/videos/watch/")
        && wants_activity_json(req.headers())
    {
        return video_document(&fed, uuid);
    }
    let Some((target, document)) = ap_route(req.uri().path()) else {
        return next.run(req).await;
    };
    if document != Document::Outbox && !wants_activity_json(req.headers()) {
        let mut response = next.run(req).await;
        response
            .headers_mut()
            .append(header::VARY, HeaderValue::from_static("Accept"));
        return response;
    }
    let page = match page_param(req.uri().query()) {
        Ok(page) => page,
        Err(()) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "Incorrect request parameters: page (must be a positive integer)",
            );
        }
    };
    let actor = match fed.lookup(&target) {
        Ok(Some(actor)) => actor,
        Ok(None) => {
            let what = match target {
                Target::Account(_) => "Account not found",
                Target::Channel(_) => "Video channel not found",
            };
            return problem(StatusCode::NOT_FOUND, what);
        }
        Err(e) => return internal(e),
    };
    let base = fed.settings.public_url.as_str();
    let body = match document {
        Document::Actor => actor.document(base),
        other => {
            let suffix = match other {
                Document::Followers => "followers",
                Document::Following => "following",
                Document::Playlists => "playlists",
                _ => "outbox",
            };
            let url = actor.url(base);
            // Playlists are not listed yet: empty.
            let items = match other {
                Document::Followers => fed.follow_urls(&url, true),
                Document::Following => fed.follow_urls(&url, false),
                Document::Outbox => fed.outbox_items(&url),
                Document::Playlists => Vec::new(),
                Document::Actor => Vec::new(),
            };
            actors::collection(&format!("{url}/{suffix}"), &items, page)
        }
    };
    activity_response(&body)
}

/// An ActivityPub document, readable from any origin; its URL also serves a page, hence
/// `Vary: Accept`.
pub(crate) fn activity_response(body: &Value) -> Response {
    let mut response = json_response(ACTIVITY_JSON, body);
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static("Accept"));
    response
}

/// The Video object of a local video that federates; 404 for any other.
fn video_document(fed: &Federation, id: &str) -> Response {
    let video = match peerbox_catalog::VideoRef::parse(id) {
        Some(r) => match fed.catalog.video(r) {
            Ok(v) => v,
            Err(e) => return internal(e),
        },
        None => None,
    };
    let Some(video) = video.filter(|v| fed.federates(v)) else {
        return problem(StatusCode::NOT_FOUND, "Video not found");
    };
    match fed.local_video_object(&video) {
        Ok(mut object) => {
            object["@context"] = crate::video_object::video_context();
            activity_response(&object)
        }
        Err(e) => internal(e),
    }
}

/// `page` of a query string: absent, or a positive integer.
fn page_param(query: Option<&str>) -> Result<Option<u64>, ()> {
    let Some(query) = query else { return Ok(None) };
    for pair in query.split('&') {
        if let Some(value) = pair.strip_prefix("page=") {
            return match value.parse::<u64>() {
                Ok(n) if n >= 1 => Ok(Some(n)),
                _ => Err(()),
            };
        }
    }
    Ok(None)
}

impl Federation {
    /// The actor a path names, with its key; `None` for an unknown name.
    fn lookup(&self, target: &Target) -> Result<Option<Actor>, crate::KeyError> {
        let base = self.settings.public_url.as_str();
        let local = |name: &str| -> Option<String> {
            match name.split_once('@') {
                None => Some(name.to_string()),
                Some((n, host)) if host.eq_ignore_ascii_case(&self.settings.public_host) => {
                    Some(n.to_string())
                }
                Some(_) => None,
            }
        };
        let avatar = |owner: Owner| -> Result<Option<Icon>, crate::KeyError> {
            let profile = self.catalog.actor_profile(owner)?;
            Ok(profile.avatar.map(|file| Icon::avatar(base, &file)))
        };
        match target {
            Target::Account(name) => {
                let Some(name) = local(name) else {
                    return Ok(None);
                };
                if name.eq_ignore_ascii_case(INSTANCE_ACTOR_NAME) {
                    return Ok(Some(Actor {
                        kind: ActorKind::Application,
                        name: INSTANCE_ACTOR_NAME.into(),
                        display_name: INSTANCE_ACTOR_NAME.into(),
                        summary: None,
                        support: None,
                        published: self.instance_published,
                        icon: None,
                        owner: None,
                        public_key_pem: self.instance_key.public_pem.clone(),
                    }));
                }
                let Some(account) = self.catalog.account_by_name(&name)? else {
                    return Ok(None);
                };
                let owner = Owner::Account(account.id);
                Ok(Some(Actor {
                    kind: ActorKind::Person,
                    public_key_pem: self.public_key_pem(owner)?,
                    icon: avatar(owner)?,
                    name: account.name,
                    display_name: account.display_name,
                    summary: account.description,
                    support: None,
                    published: account.created_at,
                    owner: None,
                }))
            }
            Target::Channel(name) => {
                let Some(name) = local(name) else {
                    return Ok(None);
                };
                let Some(channel) = self.catalog.channel_by_name(&name)? else {
                    return Ok(None);
                };
                let Some(account) = self.catalog.account(channel.account_id)? else {
                    return Ok(None);
                };
                let owner = Owner::Channel(channel.id);
                Ok(Some(Actor {
                    kind: ActorKind::Group,
                    public_key_pem: self.public_key_pem(owner)?,
                    icon: avatar(owner)?,
                    name: channel.name,
                    display_name: channel.display_name,
                    summary: channel.description,
                    support: channel.support,
                    published: channel.created_at,
                    owner: Some(actors::account_url(base, &account.name)),
                }))
            }
        }
    }

    /// The actor's public key, made now if it has none yet (keys are made at creation and at
    /// start, so this only happens to an actor created in between by a tool without keys).
    fn public_key_pem(&self, owner: Owner) -> Result<String, crate::KeyError> {
        match self.catalog.actor_key(owner)? {
            Some(key) => Ok(key.public_pem),
            None => Ok(self
                .catalog
                .add_actor_key(owner, crate::keys::generate()?)?
                .public_pem),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, value.parse().expect("header"));
        h
    }

    #[test]
    fn negotiation_follows_peertube() {
        for (value, ap) in [
            ("application/activity+json", true),
            ("application/ld+json", true),
            (
                "application/ld+json; profile=\"https://www.w3.org/ns/activitystreams\"",
                true,
            ),
            ("application/activity+json, application/ld+json", true),
            ("text/html,application/xhtml+xml,*/*;q=0.8", false),
            ("*/*", false),
            ("application/json", false),
            ("application/json, application/activity+json", false),
            ("application/activity+json, text/html", true),
            ("text/html;q=0.5, application/activity+json", true),
            ("application/activity+json;q=0", false),
            (
                "application/ld+json; profile=\"https://example.org/other\"",
                false,
            ),
            ("image/png", false),
            ("garbage", false),
        ] {
            assert_eq!(wants_activity_json(&accept(value)), ap, "{value}");
        }
        assert!(!wants_activity_json(&HeaderMap::new()));
    }

    #[test]
    fn routes() {
        let account = |n: &str| Target::Account(n.into());
        let channel = |n: &str| Target::Channel(n.into());
        assert_eq!(
            ap_route("/accounts/alice"),
            Some((account("alice"), Document::Actor))
        );
        assert_eq!(
            ap_route("/a/alice"),
            Some((account("alice"), Document::Actor))
        );
        assert_eq!(
            ap_route("/a/alice/video-channels"),
            Some((account("alice"), Document::Actor))
        );
        assert_eq!(
            ap_route("/accounts/alice%40box.example/outbox"),
            Some((account("alice@box.example"), Document::Outbox))
        );
        assert_eq!(
            ap_route("/video-channels/c1/followers"),
            Some((channel("c1"), Document::Followers))
        );
        assert_eq!(
            ap_route("/c/c1/videos"),
            Some((channel("c1"), Document::Actor))
        );
        assert_eq!(ap_route("/c/c1/followers"), None);
        assert_eq!(ap_route("/a/alice/followers"), None);
        assert_eq!(ap_route("/accounts/alice/inbox"), None);
        assert_eq!(ap_route("/accounts/"), None);
        assert_eq!(ap_route("/a/alice/manage"), None);
        assert_eq!(ap_route("/videos/watch/x"), None);
    }

    #[test]
    fn pages() {
        assert_eq!(page_param(None), Ok(None));
        assert_eq!(page_param(Some("x=1")), Ok(None));
        assert_eq!(page_param(Some("x=1&page=3")), Ok(Some(3)));
        assert_eq!(page_param(Some("page=0")), Err(()));
        assert_eq!(page_param(Some("page=abc")), Err(()));
    }
}
