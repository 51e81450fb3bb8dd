//! Videos received by federation, on this node's watch page and embed: shown as local
//! videos are, but played from their origin's files and in their origin's swarm (its
//! master playlist as swarm id, its tracker), with their channel linked at the origin.
//!
//! Everything here came from another server and is untrusted: text is escaped by maud,
//! only http(s) URLs are linked or loaded, and the page's Content-Security-Policy lets in
//! the origin's servers only for images, media and connections, never for scripts.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use peerbox_catalog::{RemoteActor, RemoteVideo, VideoRef, short_uuid};
use serde_json::json;

use crate::error::WebResult;
use crate::page::{self, CSP_EMBED, CSP_PAGES, Meta};
use crate::session::Session;
use crate::videos::{duration, views};
use crate::watch::{PlayerParams, embed_document, player_element};
use crate::{Web, markdown};

impl Web {
    /// The remote video a page URL names by UUID or shortUUID (numbers name local videos).
    pub fn remote_video(&self, id: &str) -> WebResult<Option<RemoteVideo>> {
        match VideoRef::parse(id) {
            Some(VideoRef::Uuid(uuid)) => Ok(self.catalog().remote_video_by_uuid(uuid)?),
            _ => Ok(None),
        }
    }
}

/// An http(s) URL, or nothing: remote URLs end up in `href` and `src` attributes.
fn web_url(url: &str) -> Option<&str> {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://")).then_some(url)
}

/// `scheme://host[:port]` of a URL, for a Content-Security-Policy source: only the
/// schemes a player uses and a plain host, so that nothing a remote server wrote can add
/// a directive or widen one.
fn csp_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if !matches!(scheme.as_str(), "https" | "http" | "wss" | "ws") {
        return None;
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let plain = |c: char| c.is_ascii_alphanumeric() || ".-:[]".contains(c);
    (!host.is_empty() && host.chars().all(plain))
        .then(|| format!("{scheme}://{}", host.to_ascii_lowercase()))
}

/// The origin's WebSocket tracker: PeerTube serves it at the same path on every instance,
/// and its viewers announce the video's swarm there.
fn origin_tracker(v: &RemoteVideo) -> Option<String> {
    let origin = csp_origin(&v.url)?;
    let socket = match origin.strip_prefix("http://") {
        Some(host) => format!("ws://{host}"),
        None => origin.replacen("https://", "wss://", 1),
    };
    Some(format!("{socket}/tracker/socket"))
}

/// `host[:port]` of a URL, as PeerTube shows where things come from.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#'])
        .next()
        .unwrap_or_default()
        .to_string()
}

/// `policy` with the origins a remote video's page loads from added to its image, media
/// and connection sources.
fn policy_for(policy: &str, v: &RemoteVideo, actors: &[&RemoteActor]) -> String {
    let mut images: Vec<String> = v
        .thumbnail_url
        .iter()
        .filter_map(|u| csp_origin(u))
        .collect();
    images.extend(
        actors
            .iter()
            .filter_map(|a| a.avatar_url.as_deref().and_then(csp_origin)),
    );
    let mut media: Vec<String> = Vec::new();
    if let Some(hls) = &v.hls {
        media.extend(csp_origin(&hls.playlist_url));
        media.extend(hls.segments_sha256_url.as_deref().and_then(csp_origin));
        media.extend(hls.files.iter().filter_map(|f| csp_origin(&f.file_url)));
    }
    let mut connect = media.clone();
    connect.extend(origin_tracker(v).as_deref().and_then(csp_origin));
    for list in [&mut images, &mut media, &mut connect] {
        list.sort();
        list.dedup();
    }
    policy
        .split(';')
        .map(|directive| {
            let directive = directive.trim();
            let extra = match directive.split_whitespace().next() {
                Some("img-src") => &images,
                Some("media-src") => &media,
                Some("connect-src") => &connect,
                _ => return directive.to_string(),
            };
            std::iter::once(directive.to_string())
                .chain(extra.iter().cloned())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Sets the page's policy (and, as the pages' middleware does with its own, no framing).
fn with_policy(mut response: Response, policy: &str, framed: bool) -> Response {
    let headers = response.headers_mut();
    match HeaderValue::from_str(policy) {
        Ok(value) => {
            headers.insert(header::CONTENT_SECURITY_POLICY, value);
        }
        // Cannot happen with `csp_origin`'s sources; the base policy then (nothing loads).
        Err(_) => {
            let base = if framed { CSP_EMBED } else { CSP_PAGES };
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(base),
            );
        }
    }
    if !framed {
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}

/// The player on the origin's master playlist, segment hashes and tracker, so that viewers
/// here share segments with the origin's viewers; a notice when the origin gave no HLS.
fn player(web: &Web, v: &RemoteVideo, params: &PlayerParams, resume: bool) -> Markup {
    let playable = v
        .hls
        .as_ref()
        .filter(|hls| web_url(&hls.playlist_url).is_some());
    let Some(hls) = playable else {
        return html! {
            div.player.notice role="status" {
                p { "This video cannot be played here; its own server may play it." }
            }
        };
    };
    let media = json!({
        "src": hls.playlist_url,
        "uuid": v.uuid,
        "duration": v.duration,
        "token": null,
        "password": null,
        "segmentsSha256Url": hls.segments_sha256_url.as_deref().and_then(web_url),
        // PeerTube's swarm id is the master playlist's URL: the same swarm as the origin's.
        "swarmId": hls.playlist_url,
        "trackerUrls": Vec::from_iter(origin_tracker(v)),
    });
    let poster = v.thumbnail_url.as_deref().and_then(web_url);
    player_element(web, media, poster, params, resume)
}

/// A remote actor's name and the page it links to, also when it was never fetched (then
/// named after its URL's last segment, as PeerTube's URLs end with the name).
struct Shown {
    display_name: String,
    handle: String,
    href: Option<String>,
}

fn shown(url: &str, actor: Option<&RemoteActor>) -> Shown {
    match actor {
        Some(a) => Shown {
            display_name: a.name.clone(),
            handle: format!("{}@{}", a.preferred_username, a.host),
            href: a
                .profile_url
                .as_deref()
                .and_then(web_url)
                .or_else(|| web_url(&a.url))
                .map(str::to_string),
        },
        None => {
            let name = url.trim_end_matches('/').rsplit('/').next().unwrap_or(url);
            Shown {
                display_name: name.to_string(),
                handle: format!("{name}@{}", host_of(url)),
                href: web_url(url).map(str::to_string),
            }
        }
    }
}

pub fn watch_page(
    web: &Web,
    session: &Session,
    v: &RemoteVideo,
    params: &PlayerParams,
) -> Response {
    let stored = |url: &str| web.catalog().remote_actor(url).ok().flatten();
    let (channel_actor, account_actor) = (stored(&v.channel_url), stored(&v.account_url));
    let channel = shown(&v.channel_url, channel_actor.as_ref());
    let account = shown(&v.account_url, account_actor.as_ref());
    let avatar = channel_actor
        .as_ref()
        .and_then(|a| a.avatar_url.as_deref())
        .and_then(web_url);
    let origin_page = web_url(&v.watch_url).or_else(|| web_url(&v.url));
    let origin_host = host_of(&v.url);
    let watch_here = web.url(&format!("/w/{}", short_uuid(&v.uuid)));
    let unlisted = v.privacy != peerbox_catalog::Privacy::Public.id();
    let body = html! {
        article.watch {
            (player(web, v, params, true))
            h1 { (v.name) }
            p.watch-meta {
                (views(v.views)) " · "
                time datetime=(v.published_at.to_rfc3339()) { (v.published_at.format("%Y-%m-%d")) }
                @if v.duration > 0 { " · " (duration(v.duration)) }
                @if unlisted { " · " span.badge { "Unlisted" } }
                @if v.nsfw { " · " span.badge { "Sensitive content" } }
            }
            div.channel-line {
                @if let Some(img) = avatar {
                    img.avatar src=(img) alt="" width="48" height="48";
                }
                div {
                    @match &channel.href {
                        Some(href) => a.channel-name href=(href) rel="noopener" { (channel.display_name) },
                        None => span.channel-name { (channel.display_name) },
                    }
                    " "
                    span.handle { (channel.handle) }
                    span.by { " by "
                        @match &account.href {
                            Some(href) => a href=(href) rel="noopener" { (account.display_name) },
                            None => span { (account.display_name) },
                        }
                    }
                }
            }
            @if let Some(href) = origin_page {
                p.origin { a href=(href) rel="noopener" { "Watch on " (origin_host) } }
            }
            @if let Some(d) = &v.description {
                section.description aria-label="Description" { (markdown::render(d)) }
            }
            @if !v.tags.is_empty() {
                ul.tags aria-label="Tags" {
                    @for t in &v.tags {
                        li { a href={ "/search?tagsOneOf=" (form_urlencoded::byte_serialize(t.as_bytes()).collect::<String>()) } { "#" (t) } }
                    }
                }
            }
            details.share {
                summary { "Share" }
                label for="share-link" { "Link" }
                input #share-link type="text" readonly value=(watch_here);
            }
        }
    };
    let actors: Vec<&RemoteActor> = channel_actor.iter().chain(&account_actor).collect();
    let policy = policy_for(CSP_PAGES, v, &actors);
    let markup = page::page(
        web,
        session,
        Meta {
            title: v.name.clone(),
            description: Some(markdown::plain(v.description.as_deref().unwrap_or(""), 200)),
            // The origin's page is the video's own; search engines index it there.
            canonical: origin_page.map(str::to_string),
            noindex: true,
            scripts: vec!["player.js"],
            ..Meta::default()
        },
        body,
    );
    with_policy(markup.into_response(), &policy, false)
}

/// The embed of a remote video: the same player, framable anywhere, linking to the origin.
pub fn embed(web: &Web, v: &RemoteVideo, params: &PlayerParams) -> Response {
    let origin_page = web_url(&v.watch_url).or_else(|| web_url(&v.url));
    let origin_host = host_of(&v.url);
    let body = html! {
        (player(web, v, params, false))
        @if params.title {
            div.embed-title {
                @match origin_page {
                    Some(href) => a href=(href) target="_blank" rel="noopener" { (v.name) },
                    None => span { (v.name) },
                }
                @if params.warning_title && params.p2p {
                    p.player-warning { "Watching this video may reveal your IP address to others." }
                }
            }
        }
        @if params.peertube_link {
            @if let Some(href) = origin_page {
                a.embed-link href=(href) target="_blank" rel="noopener" { "Watch on " (origin_host) }
            }
        }
    };
    let policy = policy_for(CSP_EMBED, v, &[]);
    with_policy(embed_document(web, &v.name, body), &policy, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_sources_are_plain_origins() {
        assert_eq!(
            csp_origin("https://Tube.example:8443/static/x.m3u8").as_deref(),
            Some("https://tube.example:8443")
        );
        assert_eq!(
            csp_origin("wss://[::1]:9000/tracker/socket").as_deref(),
            Some("wss://[::1]:9000")
        );
        for hostile in [
            "https://tube.example;script-src *",
            "https://tube.example 'unsafe-inline'/x",
            "javascript://tube.example/%0aalert(1)",
            "data://x",
            "https:///x",
            "https://tube.example,evil/x",
        ] {
            assert_eq!(csp_origin(hostile), None, "{hostile}");
        }
        assert_eq!(web_url("javascript:alert(1)"), None);
        assert_eq!(
            web_url("HTTPS://tube.example/w/x"),
            Some("HTTPS://tube.example/w/x")
        );
    }

    /// A page of a router with one hostile remote video, as a browser would get it.
    mod pages {
        use std::sync::Arc;

        use axum::body::Body;
        use axum::http::{Request, StatusCode, header};
        use chrono::{Duration, Utc};
        use peerbox_catalog::{
            Catalog, RemoteActor, RemoteActorKind, RemoteFile, RemoteHls, RemoteVideo, short_uuid,
        };
        use tower::ServiceExt;
        use uuid::Uuid;

        use crate::{WebContext, router};

        const ORIGIN: &str = "https://tube.example:8443";
        const SCRIPT: &str = "<script>alert('x')</script>";

        fn actor(url: &str, kind: RemoteActorKind, name: &str) -> RemoteActor {
            RemoteActor {
                url: url.into(),
                kind,
                preferred_username: name.into(),
                host: "tube.example:8443".into(),
                name: format!("{name} {SCRIPT}"),
                summary: None,
                inbox: format!("{url}/inbox"),
                shared_inbox: None,
                outbox: None,
                followers: None,
                following: None,
                public_key_id: format!("{url}#main-key"),
                public_key_pem: String::new(),
                attributed_to: None,
                avatar_url: Some("https://images.example/avatar.png".into()),
                profile_url: Some("javascript:alert('profile')".into()),
                fetched_at: Utc::now(),
            }
        }

        fn video() -> RemoteVideo {
            let uuid = Uuid::new_v4();
            let hls = format!("{ORIGIN}/static/streaming-playlists/hls/{uuid}");
            RemoteVideo {
                url: format!("{ORIGIN}/videos/watch/{uuid}"),
                uuid,
                name: format!("Garden {SCRIPT}"),
                description: Some(format!(
                    "Bees **and** {SCRIPT} <img src=x onerror=alert(1)>"
                )),
                duration: 75,
                channel_url: format!("{ORIGIN}/video-channels/garden"),
                account_url: format!("{ORIGIN}/accounts/bob"),
                watch_url: format!("{ORIGIN}/w/{}", short_uuid(&uuid)),
                thumbnail_url: Some(format!("{ORIGIN}/lazy-static/thumbnails/{uuid}.jpg")),
                privacy: 1,
                language: None,
                category: None,
                licence: None,
                nsfw: false,
                comments_enabled: true,
                download_enabled: true,
                tags: vec![format!("\"{SCRIPT}")],
                views: 3,
                likes: 0,
                dislikes: 0,
                is_live: false,
                hls: Some(RemoteHls {
                    playlist_url: format!("{hls}/master.m3u8"),
                    segments_sha256_url: Some(format!("{hls}/segments-sha256.json")),
                    infohashes: Vec::new(),
                    files: vec![RemoteFile {
                        resolution: 240,
                        fps: 25,
                        size: 1000,
                        // A server that puts a directive in its URLs gets no source added.
                        file_url: "https://evil.example;script-src 'unsafe-inline'/a.mp4".into(),
                        torrent_url: None,
                        magnet_uri: None,
                    }],
                }),
                published_at: Utc::now(),
                updated_at: Utc::now(),
                fetched_at: Utc::now(),
            }
        }

        async fn get(app: &axum::Router, path: &str) -> (StatusCode, String, String) {
            let req = Request::get(path).body(Body::empty()).expect("request");
            let resp = app.clone().oneshot(req).await.expect("response");
            let policy = resp
                .headers()
                .get(header::CONTENT_SECURITY_POLICY)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let status = resp.status();
            let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
                .await
                .expect("body");
            (status, policy, String::from_utf8_lossy(&body).into_owned())
        }

        #[tokio::test]
        async fn a_remote_video_plays_from_its_origin_and_its_text_stays_text() {
            let dir = tempfile::tempdir().expect("temp dir");
            let catalog = Arc::new(Catalog::open(&dir.path().join("c.redb")).expect("catalog"));
            let v = video();
            catalog
                .upsert_remote_actor(&actor(&v.channel_url, RemoteActorKind::Group, "garden"))
                .expect("channel");
            catalog
                .upsert_remote_actor(&actor(&v.account_url, RemoteActorKind::Person, "bob"))
                .expect("account");
            catalog.upsert_remote_video(&v).expect("video");
            let app = router(WebContext {
                catalog,
                public_url: "https://box.example".into(),
                data_dir: dir.path().to_path_buf(),
                instance_name: "Box".into(),
                instance_short_description: "Ours".into(),
                access_token_lifetime: Duration::hours(1),
                refresh_token_lifetime: Duration::days(14),
                tracker_urls: vec!["wss://box.example/tracker/socket".into()],
                stun_servers: Vec::new(),
                ota_config: dir.path().join("ota.toml"),
            });
            let hls = v.hls.as_ref().expect("hls");
            for path in [
                format!("/w/{}", short_uuid(&v.uuid)),
                format!("/videos/watch/{}", v.uuid),
                format!("/videos/embed/{}", v.uuid),
            ] {
                let (status, policy, html) = get(&app, &path).await;
                assert_eq!(status, StatusCode::OK, "{path}: {html}");
                assert!(!html.contains("<script>alert"), "{path}: {html}");
                assert!(!html.contains("<img src=x"), "{path}: {html}");
                assert!(!html.contains("javascript:"), "{path}: {html}");
                assert!(html.contains(&hls.playlist_url), "{path}: {html}");
                assert!(
                    html.contains("wss://tube.example:8443/tracker/socket"),
                    "{path}: {html}"
                );
                assert!(
                    !html.contains("wss://box.example/tracker"),
                    "{path}: {html}"
                );
                assert!(policy.contains("script-src 'self';"), "{path}: {policy}");
                assert!(!policy.contains("evil"), "{path}: {policy}");
                assert!(!policy.contains("unsafe-inline"), "{path}: {policy}");
                for directive in [
                    "connect-src 'self' https://tube.example:8443 wss://tube.example:8443",
                    "media-src 'self' blob: https://tube.example:8443",
                ] {
                    assert!(policy.contains(directive), "{path}: {policy}");
                }
            }
            let (_, policy, html) = get(&app, &format!("/w/{}", short_uuid(&v.uuid))).await;
            assert!(
                html.contains("<h1>Garden &lt;script&gt;alert('x')&lt;/script&gt;</h1>"),
                "{html}"
            );
            assert!(html.contains("garden@tube.example:8443"), "{html}");
            // The profile link was not http(s): the channel links to its actor URL.
            assert!(
                html.contains(&format!("href=\"{}\"", v.channel_url)),
                "{html}"
            );
            assert!(
                html.contains(&format!("href=\"{}\"", v.watch_url)),
                "{html}"
            );
            assert!(html.contains("Watch on tube.example:8443"), "{html}");
            assert!(
                html.contains("<strong>and</strong>"),
                "the description is markdown: {html}"
            );
            assert!(
                policy.contains(
                    "img-src 'self' data: https://images.example https://tube.example:8443"
                ),
                "{policy}"
            );
            assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        }
    }
}
