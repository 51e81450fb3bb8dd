//! `GET /services/oembed?url=…`: PeerTube's oEmbed answer for a watch URL of this node, so
//! blogs, chats and Mastodon can embed its public and unlisted videos.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::html;
use peerbox_catalog::access::{Access, access};
use peerbox_catalog::{Privacy, Video};
use serde_json::{Value, json};

use crate::videos::{embed_path, preview_path};
use crate::{Shared, Web};

/// PeerTube's EMBED_SIZE and PREVIEWS_SIZE.
pub const EMBED_WIDTH: u32 = 560;
pub const EMBED_HEIGHT: u32 = 315;
const PREVIEW_WIDTH: u32 = 850;
const PREVIEW_HEIGHT: u32 = 480;

/// The iframe other sites paste: attributes escaped by the template, so a title cannot
/// break out of it.
pub fn iframe(web: &Web, v: &Video, width: u32, height: u32) -> String {
    iframe_with_query(web, v, width, height, "")
}

fn iframe_with_query(web: &Web, v: &Video, width: u32, height: u32, query: &str) -> String {
    let src = format!("{}{query}", web.url(&embed_path(v)));
    html! {
        iframe width=(width) height=(height)
            sandbox="allow-same-origin allow-scripts allow-popups allow-forms"
            title=(v.attributes.name) src=(src) style="border: 0px;" allow="fullscreen" {}
    }
    .into_string()
}

fn problem(status: StatusCode, detail: &str) -> Box<Response> {
    let mut resp = (
        status,
        Json(json!({
            "type": "about:blank",
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": detail,
        })),
    )
        .into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    Box::new(resp)
}

/// The video id named by a watch URL of this node, and the embed parameters it carries.
fn watched_id<'a>(web: &Web, url: &'a str) -> Option<(&'a str, &'a str)> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let (host, path) = rest.split_once('/')?;
    if !host.eq_ignore_ascii_case(web.host()) {
        return None;
    }
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let id = path
        .strip_prefix("w/")
        .or_else(|| path.strip_prefix("videos/watch/"))?;
    (!id.is_empty() && !id.contains('/')).then_some((id, query))
}

/// Only the player parameters of the watch URL are passed on to the embed.
fn embed_query(query: &str) -> String {
    const KEEP: &[&str] = &[
        "start",
        "stop",
        "loop",
        "autoplay",
        "muted",
        "controls",
        "title",
        "warningTitle",
        "peertubeLink",
        "p2p",
        "subtitle",
        "playbackRate",
    ];
    let mut out = form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if KEEP.contains(&k.as_ref()) {
            out.append_pair(&k, &v);
            any = true;
        }
    }
    if any {
        format!("?{}", out.finish())
    } else {
        String::new()
    }
}

fn answer(web: &Web, raw: Option<&str>) -> Result<Value, Box<Response>> {
    let mut url = None;
    let (mut max_width, mut max_height) = (None, None);
    for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "url" => url = Some(v.into_owned()),
            "maxwidth" => max_width = v.parse::<u32>().ok(),
            "maxheight" => max_height = v.parse::<u32>().ok(),
            "format" if v != "json" => {
                return Err(problem(
                    StatusCode::NOT_IMPLEMENTED,
                    "Requested format is not implemented on server.",
                ));
            }
            _ => {}
        }
    }
    let url = url.ok_or_else(|| problem(StatusCode::BAD_REQUEST, "Should have a valid url"))?;
    let (id, query) = watched_id(web, &url)
        .ok_or_else(|| problem(StatusCode::BAD_REQUEST, "Invalid embed URL"))?;
    let not_found = || problem(StatusCode::NOT_FOUND, "Video not found");
    let r = peerbox_catalog::VideoRef::parse(id).ok_or_else(not_found)?;
    let video = web
        .catalog()
        .video(r)
        .map_err(|e| problem(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?
        .ok_or_else(not_found)?;
    let owned = web.owned(video).map_err(|_| not_found())?;
    let v = &owned.video;
    // Only what anyone may watch from the link is embeddable.
    let public = matches!(v.attributes.privacy, Privacy::Public | Privacy::Unlisted)
        && access(v, owned.account.id, None, r.is_uuid(), None) == Access::Allowed;
    if !public {
        return Err(problem(
            StatusCode::FORBIDDEN,
            "Video is not publicly available",
        ));
    }
    let width = max_width.map_or(EMBED_WIDTH, |m| m.min(EMBED_WIDTH));
    let height = max_height.map_or(EMBED_HEIGHT, |m| m.min(EMBED_HEIGHT));
    let mut json = json!({
        "type": "video",
        "version": "1.0",
        "html": iframe_with_query(web, v, width, height, &embed_query(query)),
        "width": width,
        "height": height,
        "title": v.attributes.name,
        "author_name": owned.channel.display_name,
        "author_url": web.url(&format!("/video-channels/{}", owned.channel.name)),
        "provider_name": "PeerTube",
        "provider_url": web.public_url(),
    });
    // A consumer that wants a smaller picture than the preview gets none, as in PeerTube.
    let too_small = max_width.is_some_and(|w| w < PREVIEW_WIDTH)
        || max_height.is_some_and(|h| h < PREVIEW_HEIGHT);
    if let (Some(p), false) = (preview_path(v), too_small)
        && let Value::Object(map) = &mut json
    {
        map.insert("thumbnail_url".into(), json!(web.url(&p)));
        map.insert("thumbnail_width".into(), json!(PREVIEW_WIDTH));
        map.insert("thumbnail_height".into(), json!(PREVIEW_HEIGHT));
    }
    Ok(json)
}

pub async fn oembed(State(web): State<Shared>, RawQuery(raw): RawQuery) -> Response {
    let mut resp = match answer(&web, raw.as_deref()) {
        Ok(json) => Json(json).into_response(),
        Err(resp) => *resp,
    };
    // Any site may ask, as PeerTube allows.
    resp.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embed_query_keeps_player_parameters_only() {
        assert_eq!(embed_query(""), "");
        assert_eq!(
            embed_query("start=10&utm=x&autoplay=1"),
            "?start=10&autoplay=1"
        );
        assert_eq!(embed_query("title=%3Cb%3E"), "?title=%3Cb%3E");
    }
}
