//! The watch page (`/w/{shortUUID}`, `/videos/watch/{uuid}`) and the embed
//! (`/videos/embed/{id}`) with PeerTube's embed URL parameters; those of videos received by
//! federation are drawn by `remote`.

use axum::Form;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};
use peerbox_catalog::access::{Access, access, can_manage};
use peerbox_catalog::web_profiles::Actor;
use peerbox_catalog::{Privacy, Video, VideoState};
use serde::Deserialize;
use serde_json::json;

use crate::error::{WebError, WebResult};
use crate::page::{self, CSP_EMBED, Meta};
use crate::session::Session;
use crate::videos::{
    Owned, duration, embed_path, master_playlist_path, preview_path, private_media, views,
    watch_path,
};
use crate::{Shared, Web, markdown, oembed, remote};

/// PeerTube's embed parameters; the watch page takes `start` and `stop` too.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayerParams {
    pub start: Option<u64>,
    pub stop: Option<u64>,
    pub loop_: bool,
    pub autoplay: bool,
    pub muted: bool,
    pub controls: bool,
    pub title: bool,
    pub warning_title: bool,
    pub peertube_link: bool,
    pub p2p: bool,
    pub subtitle: Option<String>,
    pub playback_rate: Option<f64>,
}

impl Default for PlayerParams {
    fn default() -> Self {
        PlayerParams {
            start: None,
            stop: None,
            loop_: false,
            autoplay: false,
            muted: false,
            controls: true,
            title: true,
            warning_title: true,
            peertube_link: true,
            p2p: true,
            subtitle: None,
            playback_rate: None,
        }
    }
}

/// `90`, `1m30s`, `1h2m3s` (PeerTube's timeToInt).
pub fn parse_time(s: &str) -> Option<u64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<f64>() {
        return (n.is_finite() && n >= 0.0).then_some(n as u64);
    }
    let mut total = 0u64;
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: u64 = digits.parse().ok()?;
        digits.clear();
        total += n * match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
    }
    if !digits.is_empty() {
        total += digits.parse::<u64>().ok()?;
    }
    Some(total)
}

fn flag(v: &str) -> Option<bool> {
    match v {
        "1" | "true" => Some(true),
        "0" | "false" => Some(false),
        _ => None,
    }
}

impl PlayerParams {
    pub fn parse(raw: Option<&str>) -> PlayerParams {
        let mut p = PlayerParams::default();
        for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            let f = flag(&v);
            match (k.as_ref(), f) {
                ("start", _) => p.start = parse_time(&v),
                ("stop", _) => p.stop = parse_time(&v),
                ("subtitle", _) => p.subtitle = Some(v.into_owned()).filter(|s| !s.is_empty()),
                ("playbackRate", _) => {
                    p.playback_rate = v.parse().ok().filter(|r: &f64| (0.1..=16.0).contains(r));
                }
                ("loop", Some(b)) => p.loop_ = b,
                ("autoplay", Some(b)) => p.autoplay = b,
                ("muted", Some(b)) => p.muted = b,
                ("controls", Some(b)) => p.controls = b,
                ("title", Some(b)) => p.title = b,
                ("warningTitle", Some(b)) => p.warning_title = b,
                ("peertubeLink", Some(b)) => p.peertube_link = b,
                ("p2p", Some(b)) => p.p2p = b,
                _ => {}
            }
        }
        p
    }
}

/// What the privacy rules let this viewer do with the page.
enum Gate {
    Open(Box<Owned>),
    /// Password-protected; `wrong` when one was given and did not match.
    Password {
        owned: Box<Owned>,
        wrong: bool,
    },
    NeedsLogin,
}

fn gate(web: &Web, session: &Session, id: &str, password: Option<&str>) -> WebResult<Gate> {
    let (video, r) = web.video_by_ref(id)?;
    let owned = Box::new(web.owned(video)?);
    match access(
        &owned.video,
        owned.account.id,
        session.user.as_ref(),
        r.is_uuid(),
        password,
    ) {
        Access::Allowed => Ok(Gate::Open(owned)),
        Access::NeedsLogin => Ok(Gate::NeedsLogin),
        Access::Forbidden => Err(WebError::Forbidden(
            "This video is private: only its owner can watch it.".into(),
        )),
        Access::NeedsPassword => Ok(Gate::Password {
            owned,
            wrong: false,
        }),
        Access::WrongPassword => Ok(Gate::Password { owned, wrong: true }),
    }
}

fn player(
    web: &Web,
    session: &Session,
    v: &Video,
    params: &PlayerParams,
    password: Option<&str>,
    resume: bool,
) -> Markup {
    let Some(src) = master_playlist_path(v) else {
        return processing_notice(web, session, v);
    };
    let hls = v.outputs.as_ref().map(|o| &o.hls);
    // The token goes only to pages whose media need it.
    let token = private_media(v)
        .then_some(session.access_token.as_deref())
        .flatten();
    let media = json!({
        "src": src,
        "uuid": v.uuid,
        "duration": v.duration,
        "token": token,
        "password": password,
        "segmentsSha256Url": hls.map(|h| format!("{}/{}", crate::videos::hls_base_path(v), h.segments_sha256)),
        // PeerTube's swarm id: the master playlist's public URL, whatever address the page
        // was reached at, so that every viewer joins the swarm the tracker knows.
        "swarmId": web.url(&src),
        "trackerUrls": web.ctx.tracker_urls,
    });
    player_element(web, media, preview_path(v).as_deref(), params, resume)
}

/// The player: `media` (source, swarm, trackers) and the viewer's parameters become the
/// JSON that player.js reads.
pub(crate) fn player_element(
    web: &Web,
    mut media: serde_json::Value,
    poster: Option<&str>,
    params: &PlayerParams,
    resume: bool,
) -> Markup {
    let viewer = json!({
        "start": params.start,
        "stop": params.stop,
        "loop": params.loop_,
        "autoplay": params.autoplay,
        "muted": params.muted,
        "controls": params.controls,
        "p2p": params.p2p,
        "subtitle": params.subtitle,
        "playbackRate": params.playback_rate,
        "resume": resume,
        "iceServers": ice_servers(&web.ctx.stun_servers),
        "captions": [],
    });
    if let (Some(config), serde_json::Value::Object(viewer)) = (media.as_object_mut(), viewer) {
        config.extend(viewer);
    }
    html! {
        div.player tabindex="0" aria-label="Video player" data-config=(media.to_string()) {
            video playsinline preload="metadata" poster=[poster] {}
            p.player-status role="status" aria-live="polite" {}
            div.player-menus {}
            @if params.controls {
                div.player-p2p {}
            }
        }
    }
}

/// RTCPeerConnection's `iceServers`: none by default, so that browsers connect to each other
/// only over addresses they have (a home LAN needs no STUN), and tell nobody else.
fn ice_servers(urls: &[String]) -> serde_json::Value {
    urls.iter()
        .filter(|u| !u.trim().is_empty())
        .map(|u| json!({ "urls": u.trim() }))
        .collect()
}

fn processing_notice(web: &Web, session: &Session, v: &Video) -> Markup {
    let manager = session.user.as_ref().is_some_and(|u| {
        web.catalog()
            .channel(v.attributes.channel_id)
            .ok()
            .flatten()
            .is_some_and(|c| can_manage(u, c.account_id))
    });
    html! {
        div.player.notice role="status" {
            @match v.state {
                VideoState::ToTranscode => p { "This video is being processed. It will play here once it is ready." },
                VideoState::TranscodingFailed => {
                    p { "Processing this video failed." }
                    @if manager {
                        @if let Some(e) = &v.error { p.error { (e) } }
                    }
                },
                VideoState::Published => p { "This video has no playable files." },
            }
        }
    }
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1000.0 && unit < UNITS.len() - 1 {
        size /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{size:.1} {}", UNITS[unit])
    }
}

/// Download links, when the owner allows them. Private media need a bearer token that a
/// plain link cannot carry, so they have none.
fn downloads(v: &Video, manager: bool) -> Markup {
    if !(v.attributes.download_enabled || manager) || private_media(v) {
        return html! {};
    }
    let files = v
        .outputs
        .as_ref()
        .map(|o| o.hls.files.clone())
        .unwrap_or_default();
    html! {
        @if !files.is_empty() || v.source.is_some() {
            details.downloads {
                summary { "Download" }
                ul {
                    @for f in files.iter().rev() {
                        li { a href={ "/download/streaming-playlists/hls/videos/" (f.fragmented) } download {
                            @if f.resolution == 0 { "Audio only" } @else { (f.resolution) "p" }
                            " (" (human_size(f.size)) ")"
                        } }
                    }
                    @if let Some(s) = &v.source {
                        li { a href={ "/download/web-videos/" (v.uuid) "-0" (s.extension) } download {
                            "Original file (" (human_size(s.size)) ")"
                        } }
                    }
                }
            }
        }
    }
}

/// `(name, content)` meta tags and `(type, title, href)` alternate links.
type Social = (
    Vec<(&'static str, String)>,
    Vec<(&'static str, String, String)>,
);

fn social_tags(web: &Web, owned: &Owned) -> Social {
    let v = &owned.video;
    if !matches!(v.attributes.privacy, Privacy::Public | Privacy::Unlisted) {
        return (vec![], vec![]);
    }
    let watch_url = web.url(&watch_path(v));
    let embed_url = web.url(&embed_path(v));
    let description = markdown::plain(v.attributes.description.as_deref().unwrap_or(""), 200);
    let image = preview_path(v)
        .or_else(|| web.thumbnail_path(v))
        .map(|p| web.url(&p));
    let mut social = vec![
        ("og:type", "video.other".to_string()),
        ("og:site_name", web.instance_name()),
        ("og:title", v.attributes.name.clone()),
        ("og:url", watch_url.clone()),
        ("og:description", description.clone()),
        ("og:video:url", embed_url.clone()),
        ("og:video:type", "text/html".into()),
        ("og:video:width", oembed::EMBED_WIDTH.to_string()),
        ("og:video:height", oembed::EMBED_HEIGHT.to_string()),
        ("twitter:card", "player".into()),
        ("twitter:title", v.attributes.name.clone()),
        ("twitter:description", description),
        ("twitter:player", embed_url.clone()),
        ("twitter:player:width", oembed::EMBED_WIDTH.to_string()),
        ("twitter:player:height", oembed::EMBED_HEIGHT.to_string()),
    ];
    if web.secure() {
        social.push(("og:video:secure_url", embed_url));
    }
    if let Some(i) = image {
        social.push(("og:image", i.clone()));
        social.push(("twitter:image", i));
    }
    let oembed_url = format!(
        "{}?url={}",
        web.url("/services/oembed"),
        form_urlencoded::byte_serialize(watch_url.as_bytes()).collect::<String>()
    );
    let alternates = vec![(
        "application/json+oembed",
        v.attributes.name.clone(),
        oembed_url,
    )];
    (social, alternates)
}

fn watch_page(
    web: &Web,
    session: &Session,
    owned: &Owned,
    params: &PlayerParams,
    password: Option<&str>,
) -> Markup {
    let v = &owned.video;
    let a = &v.attributes;
    let manager = session
        .user
        .as_ref()
        .is_some_and(|u| can_manage(u, owned.account.id));
    let avatar = web
        .catalog()
        .actor_profile(Actor::Channel(owned.channel.id))
        .ok()
        .and_then(|p| p.avatar);
    let (social, alternates) = social_tags(web, owned);
    let embed_code = oembed::iframe(web, v, oembed::EMBED_WIDTH, oembed::EMBED_HEIGHT);
    let body = html! {
        article.watch {
            (player(web, session, v, params, password, true))
            h1 { (a.name) }
            p.watch-meta {
                (views(v.views)) " · "
                time datetime=(v.published_at.to_rfc3339()) { (v.published_at.format("%Y-%m-%d")) }
                @if v.duration > 0 { " · " (duration(v.duration)) }
                @if a.privacy != Privacy::Public { " · " span.badge { (a.privacy.label()) } }
                @if a.nsfw { " · " span.badge { "Sensitive content" } }
            }
            div.channel-line {
                @if let Some(img) = &avatar {
                    img.avatar src={ "/web/avatars/" (img) } alt="" width="48" height="48";
                }
                div {
                    a.channel-name href={ "/c/" (owned.channel.name) } { (owned.channel.display_name) }
                    span.by { " by " a href={ "/a/" (owned.account.name) } { (owned.account.display_name) } }
                }
                @if manager {
                    a.button href={ "/videos/manage/" (v.uuid) } { "Edit" }
                }
            }
            @if let Some(d) = &a.description {
                section.description aria-label="Description" { (markdown::render(d)) }
            }
            @if !a.tags.is_empty() {
                ul.tags aria-label="Tags" {
                    @for t in &a.tags {
                        li { a href={ "/search?tagsOneOf=" (form_urlencoded::byte_serialize(t.as_bytes()).collect::<String>()) } { "#" (t) } }
                    }
                }
            }
            @if let Some(s) = &a.support {
                section.support aria-label="Support" { h2 { "Support" } (markdown::render(s)) }
            }
            (downloads(v, manager))
            details.shortcuts {
                summary { "Keyboard shortcuts" }
                p { "With the player focused: "
                    kbd { "Space" } " or " kbd { "k" } " play or pause · "
                    kbd { "←" } " " kbd { "→" } " 5 s back or forward · "
                    kbd { "j" } " " kbd { "l" } " 10 s · "
                    kbd { "↑" } " " kbd { "↓" } " volume · "
                    kbd { "m" } " mute · " kbd { "c" } " captions · " kbd { "f" } " full screen · "
                    kbd { "0" } "–" kbd { "9" } " jump to 0–90 %" }
            }
            @if !private_media(v) {
                details.share {
                    summary { "Share" }
                    label for="share-link" { "Link" }
                    input #share-link type="text" readonly value=(web.url(&watch_path(v)));
                    label for="share-embed" { "Embed code" }
                    textarea #share-embed readonly rows="3" { (embed_code) }
                }
            }
        }
    };
    page::page(
        web,
        session,
        Meta {
            title: a.name.clone(),
            description: Some(markdown::plain(a.description.as_deref().unwrap_or(""), 200)),
            canonical: Some(web.url(&watch_path(v))),
            noindex: a.privacy != Privacy::Public,
            social,
            alternates,
            scripts: vec!["player.js"],
        },
        body,
    )
}

/// Asks for the password without telling anything of the video (the API shows nothing of
/// it either until the password is given).
fn password_page(web: &Web, session: &Session, wrong: bool, path: &str) -> Response {
    let body = html! {
        section.narrow {
            h1 { "Protected video" }
            p { "This video is protected by a password." }
            @if wrong { p.error role="alert" { "Incorrect password." } }
            form method="post" action=(path) {
                label for="video-password" { "Password" }
                input #video-password type="password" name="password" required autocomplete="off";
                button type="submit" { "Watch" }
            }
        }
    };
    let status = if wrong {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::OK
    };
    let meta = Meta {
        title: "Protected video".into(),
        noindex: true,
        ..Meta::default()
    };
    (status, page::page(web, session, meta, body)).into_response()
}

fn watch_response(
    web: &Web,
    session: &Session,
    id: &str,
    path: String,
    raw: Option<&str>,
    password: Option<&str>,
) -> WebResult {
    let params = PlayerParams::parse(raw);
    let gate = match gate(web, session, id, password) {
        // Not one of ours: perhaps one received by federation.
        Err(WebError::NotFound) => {
            return match web.remote_video(id)? {
                Some(v) => Ok(remote::watch_page(web, session, &v, &params)),
                None => Err(WebError::NotFound),
            };
        }
        other => other?,
    };
    match gate {
        Gate::Open(owned) => {
            Ok(watch_page(web, session, &owned, &params, password).into_response())
        }
        Gate::Password { wrong, .. } => Ok(password_page(web, session, wrong, &path)),
        Gate::NeedsLogin => Err(WebError::SignInRequired { return_to: path }),
    }
}

pub async fn watch(
    State(web): State<Shared>,
    session: Session,
    Path(id): Path<String>,
    uri: axum::http::Uri,
    RawQuery(raw): RawQuery,
) -> WebResult {
    watch_response(
        &web,
        &session,
        &id,
        uri.path().to_string(),
        raw.as_deref(),
        None,
    )
}

#[derive(Deserialize)]
pub struct PasswordForm {
    password: String,
}

pub async fn watch_with_password(
    State(web): State<Shared>,
    session: Session,
    Path(id): Path<String>,
    uri: axum::http::Uri,
    Form(form): Form<PasswordForm>,
) -> WebResult {
    watch_response(
        &web,
        &session,
        &id,
        uri.path().to_string(),
        None,
        Some(&form.password),
    )
}

pub(crate) fn embed_document(web: &Web, title: &str, body: Markup) -> Response {
    let meta = Meta {
        title: title.to_string(),
        noindex: true,
        scripts: vec!["player.js"],
        ..Meta::default()
    };
    let doc = html! {
        (DOCTYPE)
        html lang="en" {
            head { (page::head(web, &meta, &web.instance_name())) }
            body.embed { (body) }
        }
    };
    (
        [(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP_EMBED),
        )],
        doc,
    )
        .into_response()
}

fn embed_message(web: &Web, status: StatusCode, message: &str, link: Option<String>) -> Response {
    let instance = web.instance_name();
    let mut resp = embed_document(
        web,
        "Video unavailable",
        html! {
            div.embed-message {
                p { (message) }
                @if let Some(l) = link {
                    p { a href=(l) target="_blank" rel="noopener" { "Open it on " (instance) } }
                }
            }
        },
    );
    *resp.status_mut() = status;
    resp
}

pub async fn embed(
    State(web): State<Shared>,
    session: Session,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> WebResult {
    let params = PlayerParams::parse(raw.as_deref());
    let owned = match gate(&web, &session, &id, None) {
        Ok(Gate::Open(owned)) => owned,
        Ok(Gate::NeedsLogin) => {
            return Ok(embed_message(
                &web,
                StatusCode::UNAUTHORIZED,
                "Sign in to watch this video.",
                Some(web.url(&format!("/videos/watch/{id}"))),
            ));
        }
        Ok(Gate::Password { owned, .. }) => {
            return Ok(embed_message(
                &web,
                StatusCode::FORBIDDEN,
                "This video is protected by a password.",
                Some(web.url(&watch_path(&owned.video))),
            ));
        }
        Err(WebError::NotFound) => {
            if let Some(v) = web.remote_video(&id)? {
                return Ok(remote::embed(&web, &v, &params));
            }
            return Ok(embed_message(
                &web,
                StatusCode::NOT_FOUND,
                "This video does not exist.",
                None,
            ));
        }
        Err(WebError::Forbidden(m)) => {
            return Ok(embed_message(&web, StatusCode::FORBIDDEN, &m, None));
        }
        Err(e) => return Err(e),
    };
    let v = &owned.video;
    let watch_url = web.url(&watch_path(v));
    let instance = web.instance_name();
    let body = html! {
        (player(&web, &session, v, &params, None, false))
        @if params.title {
            div.embed-title {
                a href=(watch_url) target="_blank" rel="noopener" { (v.attributes.name) }
                @if params.warning_title && params.p2p {
                    p.player-warning { "Watching this video may reveal your IP address to others." }
                }
            }
        }
        @if params.peertube_link {
            a.embed-link href=(watch_url) target="_blank" rel="noopener" { "Watch on " (instance) }
        }
    };
    Ok(embed_document(&web, &v.attributes.name, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("90"), Some(90));
        assert_eq!(parse_time("1m30s"), Some(90));
        assert_eq!(parse_time("1h2m3s"), Some(3723));
        assert_eq!(parse_time("2.5"), Some(2));
        assert_eq!(parse_time("1x"), None);
        assert_eq!(parse_time("-3"), None);
    }

    #[test]
    fn embed_parameters() {
        let p = PlayerParams::parse(Some(
            "start=10&stop=1m&loop=1&autoplay=true&muted=1&controls=0&title=0&warningTitle=0&peertubeLink=false&p2p=0&subtitle=fr&playbackRate=1.5",
        ));
        assert_eq!(
            p,
            PlayerParams {
                start: Some(10),
                stop: Some(60),
                loop_: true,
                autoplay: true,
                muted: true,
                controls: false,
                title: false,
                warning_title: false,
                peertube_link: false,
                p2p: false,
                subtitle: Some("fr".into()),
                playback_rate: Some(1.5),
            }
        );
        assert_eq!(
            PlayerParams::parse(Some("controls=maybe")),
            PlayerParams::default()
        );
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(12_345_678), "12.3 MB");
    }
}
