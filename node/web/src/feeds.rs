//! `/feeds/videos.{xml,rss,rss2,atom,atom1,json,json1}`: the newest public videos as RSS 2.0
//! (with Media RSS), Atom and JSON Feed, filtered by account or channel with PeerTube's
//! query parameters. Every video has its file as an enclosure, so podcast apps can fetch it.

use std::fmt::Write;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use peerbox_catalog::web_profiles::Actor;
use peerbox_catalog::{Channel, Video};
use serde_json::json;

use crate::error::{WebError, WebResult};
use crate::videos::{embed_path, hls_base_path, preview_path, watch_path};
use crate::{Shared, Web, markdown};

/// PeerTube's FEEDS.COUNT.
const COUNT: usize = 20;
/// Podcast apps are better served by a modest rendition than by the largest one.
const ENCLOSURE_MAX_HEIGHT: u32 = 720;

enum Format {
    Rss,
    Atom,
    Json,
}

fn format_of(file: &str) -> Option<Format> {
    match file.strip_prefix("videos.")? {
        "xml" | "rss" | "rss2" => Some(Format::Rss),
        "atom" | "atom1" => Some(Format::Atom),
        "json" | "json1" => Some(Format::Json),
        _ => None,
    }
}

/// XML text: escaped, and without the characters XML 1.0 forbids (a control character in
/// a title would otherwise make the whole feed unreadable).
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// One playable file of a video.
struct MediaFile {
    url: String,
    mime: &'static str,
    size: u64,
    height: u32,
    fps: u32,
}

struct Item {
    video: Video,
    channel: Channel,
    files: Vec<MediaFile>,
    watch_url: String,
    id_url: String,
    summary: String,
    content_html: String,
    image: Option<String>,
}

impl Item {
    fn enclosure(&self) -> Option<&MediaFile> {
        self.files
            .iter()
            .find(|f| f.height <= ENCLOSURE_MAX_HEIGHT)
            .or(self.files.last())
    }
}

fn source_mime(ext: &str) -> &'static str {
    match ext {
        ".mp4" | ".m4v" => "video/mp4",
        ".webm" => "video/webm",
        ".ogv" => "video/ogg",
        ".mkv" => "video/x-matroska",
        ".mov" => "video/quicktime",
        _ => "application/octet-stream",
    }
}

/// HLS renditions (fragmented MP4, largest first); the kept source until transcoding ends.
fn media_files(web: &Web, v: &Video) -> Vec<MediaFile> {
    match &v.outputs {
        Some(o) if !o.hls.files.is_empty() => {
            let mut files: Vec<MediaFile> = o
                .hls
                .files
                .iter()
                .map(|f| MediaFile {
                    url: web.url(&format!("{}/{}", hls_base_path(v), f.fragmented)),
                    mime: if f.resolution == 0 {
                        "audio/mp4"
                    } else {
                        "video/mp4"
                    },
                    size: f.size,
                    height: f.height,
                    fps: f.fps,
                })
                .collect();
            files.sort_by_key(|f| std::cmp::Reverse(f.height));
            files
        }
        _ => v
            .source
            .iter()
            .map(|s| MediaFile {
                url: web.url(&format!("/static/web-videos/{}-0{}", v.uuid, s.extension)),
                mime: source_mime(&s.extension),
                size: s.size,
                height: 0,
                fps: 0,
            })
            .collect(),
    }
}

/// What the feed is about: the whole node, one account or one channel.
struct Scope {
    title: String,
    description: String,
    html_url: String,
    icon: Option<String>,
    channels: Option<Vec<u64>>,
}

fn scope(web: &Web, raw: Option<&str>) -> WebResult<(Scope, bool)> {
    let mut account = None;
    let mut channel = None;
    let mut by_views = false;
    let local_name = |n: &str| -> String {
        match n.split_once('@') {
            Some((name, host)) if host.eq_ignore_ascii_case(web.host()) => name.to_string(),
            Some(_) => String::new(),
            None => n.to_string(),
        }
    };
    let catalog = web.catalog();
    for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "accountId" => {
                account = Some(
                    v.parse()
                        .ok()
                        .and_then(|id| catalog.account(id).transpose())
                        .transpose()?
                        .ok_or(WebError::NotFound)?,
                );
            }
            "accountName" => {
                account = Some(
                    catalog
                        .account_by_name(&local_name(&v))?
                        .ok_or(WebError::NotFound)?,
                );
            }
            "videoChannelId" => {
                channel = Some(
                    v.parse()
                        .ok()
                        .and_then(|id| catalog.channel(id).transpose())
                        .transpose()?
                        .ok_or(WebError::NotFound)?,
                );
            }
            "videoChannelName" => {
                channel = Some(
                    catalog
                        .channel_by_name(&local_name(&v))?
                        .ok_or(WebError::NotFound)?,
                );
            }
            "sort" => {
                by_views = matches!(
                    v.trim_start_matches('-'),
                    "views" | "trending" | "hot" | "best"
                )
            }
            _ => {}
        }
    }
    let avatar = |actor| {
        catalog
            .actor_profile(actor)
            .ok()
            .and_then(|p| p.avatar)
            .map(|a| web.url(&format!("/web/avatars/{a}")))
    };
    let scope = match (channel, account) {
        (Some(c), _) => Scope {
            title: c.display_name.clone(),
            description: markdown::plain(c.description.as_deref().unwrap_or(""), 500),
            html_url: web.url(&format!("/c/{}", c.name)),
            icon: avatar(Actor::Channel(c.id)),
            channels: Some(vec![c.id]),
        },
        (None, Some(a)) => Scope {
            title: a.display_name.clone(),
            description: markdown::plain(a.description.as_deref().unwrap_or(""), 500),
            html_url: web.url(&format!("/a/{}", a.name)),
            icon: avatar(Actor::Account(a.id)),
            channels: Some(
                catalog
                    .channels_of_account(a.id)?
                    .iter()
                    .map(|c| c.id)
                    .collect(),
            ),
        },
        (None, None) => Scope {
            title: web.instance_name(),
            description: web.instance_short_description(),
            html_url: web.url("/"),
            icon: None,
            channels: None,
        },
    };
    Ok((scope, by_views))
}

fn items(web: &Web, scope: &Scope, by_views: bool) -> WebResult<Vec<Item>> {
    // Feeds are read anonymously: only what anyone may list.
    let mut videos: Vec<Video> = web
        .listed_videos(None)?
        .into_iter()
        .filter(|v| {
            scope
                .channels
                .as_ref()
                .is_none_or(|c| c.contains(&v.attributes.channel_id))
        })
        .collect();
    if by_views {
        videos.sort_by_key(|v| std::cmp::Reverse(v.views));
    }
    let mut out = Vec::new();
    for v in videos.into_iter().take(COUNT) {
        let owned = web.owned(v)?;
        let v = owned.video;
        let description = v.attributes.description.clone().unwrap_or_default();
        out.push(Item {
            files: media_files(web, &v),
            watch_url: web.url(&watch_path(&v)),
            id_url: web.url(&format!("/videos/watch/{}", v.uuid)),
            summary: markdown::plain(&description, 250),
            content_html: markdown::render(&description).into_string(),
            image: preview_path(&v)
                .or_else(|| web.thumbnail_path(&v))
                .map(|p| web.url(&p)),
            channel: owned.channel,
            video: v,
        });
    }
    Ok(out)
}

fn atom_date(d: &DateTime<Utc>) -> String {
    d.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn media_rss(web: &Web, out: &mut String, item: &Item) {
    let v = &item.video;
    let _ = write!(out, "<media:group>");
    for f in &item.files {
        let _ = write!(
            out,
            "<media:content url=\"{}\" type=\"{}\" medium=\"video\" fileSize=\"{}\" duration=\"{}\"",
            esc(&f.url),
            f.mime,
            f.size,
            v.duration
        );
        if f.height > 0 {
            let _ = write!(out, " height=\"{}\" framerate=\"{}\"", f.height, f.fps);
        }
        out.push_str("/>");
    }
    out.push_str("</media:group>");
    let _ = write!(
        out,
        "<media:title type=\"plain\">{}</media:title><media:description type=\"plain\">{}</media:description><media:player url=\"{}\"/><media:rating scheme=\"urn:simple\">{}</media:rating>",
        esc(&v.attributes.name),
        esc(&item.summary),
        esc(&web.url(&embed_path(v))),
        if v.attributes.nsfw {
            "adult"
        } else {
            "nonadult"
        }
    );
    if let Some(i) = &item.image {
        let _ = write!(out, "<media:thumbnail url=\"{}\"/>", esc(i));
    }
}

fn rss(web: &Web, scope: &Scope, self_url: &str, items: &[Item]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\" xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:atom=\"http://www.w3.org/2005/Atom\" xmlns:media=\"http://search.yahoo.com/mrss/\"><channel>",
    );
    let updated = items
        .first()
        .map_or_else(Utc::now, |i| i.video.published_at);
    let _ = write!(
        out,
        "<title>{}</title><link>{}</link><description>{}</description><lastBuildDate>{}</lastBuildDate><generator>Peerbox</generator><docs>https://validator.w3.org/feed/docs/rss2.html</docs><atom:link href=\"{}\" rel=\"self\" type=\"application/rss+xml\"/>",
        esc(&scope.title),
        esc(&scope.html_url),
        esc(&scope.description),
        updated.to_rfc2822(),
        esc(self_url)
    );
    if let Some(icon) = &scope.icon {
        let _ = write!(
            out,
            "<image><url>{}</url><title>{}</title><link>{}</link></image>",
            esc(icon),
            esc(&scope.title),
            esc(&scope.html_url)
        );
    }
    for item in items {
        let v = &item.video;
        let _ = write!(
            out,
            "<item><title>{}</title><link>{}</link><guid isPermaLink=\"false\">{}</guid><pubDate>{}</pubDate><description>{}</description><content:encoded>{}</content:encoded><dc:creator>{}</dc:creator>",
            esc(&v.attributes.name),
            esc(&item.watch_url),
            esc(&item.id_url),
            v.published_at.to_rfc2822(),
            // Readers take an RSS description as HTML: the text is escaped as HTML first.
            esc(&maud::html! { (item.summary) }.into_string()),
            esc(&item.content_html),
            esc(&item.channel.display_name)
        );
        for t in &v.attributes.tags {
            let _ = write!(out, "<category>{}</category>", esc(t));
        }
        if let Some(f) = item.enclosure() {
            let _ = write!(
                out,
                "<enclosure url=\"{}\" type=\"{}\" length=\"{}\"/>",
                esc(&f.url),
                f.mime,
                f.size
            );
        }
        media_rss(web, &mut out, item);
        out.push_str("</item>");
    }
    out.push_str("</channel></rss>\n");
    out
}

fn atom(web: &Web, scope: &Scope, self_url: &str, items: &[Item]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\" xmlns:media=\"http://search.yahoo.com/mrss/\">",
    );
    let updated = items
        .first()
        .map_or_else(Utc::now, |i| i.video.published_at);
    let _ = write!(
        out,
        "<id>{}</id><title type=\"text\">{}</title><subtitle type=\"text\">{}</subtitle><updated>{}</updated><generator>Peerbox</generator><link rel=\"alternate\" type=\"text/html\" href=\"{}\"/><link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>",
        esc(self_url),
        esc(&scope.title),
        esc(&scope.description),
        atom_date(&updated),
        esc(&scope.html_url),
        esc(self_url)
    );
    if let Some(icon) = &scope.icon {
        let _ = write!(out, "<icon>{}</icon>", esc(icon));
    }
    for item in items {
        let v = &item.video;
        let _ = write!(
            out,
            "<entry><title type=\"text\">{}</title><id>{}</id><link rel=\"alternate\" type=\"text/html\" href=\"{}\"/><published>{}</published><updated>{}</updated><author><name>{}</name><uri>{}</uri></author><summary type=\"text\">{}</summary><content type=\"html\">{}</content>",
            esc(&v.attributes.name),
            esc(&item.id_url),
            esc(&item.watch_url),
            atom_date(&v.published_at),
            atom_date(&v.updated_at),
            esc(&item.channel.display_name),
            esc(&web.url(&format!("/c/{}", item.channel.name))),
            esc(&item.summary),
            esc(&item.content_html)
        );
        for t in &v.attributes.tags {
            let _ = write!(out, "<category term=\"{}\"/>", esc(t));
        }
        if let Some(f) = item.enclosure() {
            let _ = write!(
                out,
                "<link rel=\"enclosure\" type=\"{}\" length=\"{}\" href=\"{}\"/>",
                f.mime,
                f.size,
                esc(&f.url)
            );
        }
        media_rss(web, &mut out, item);
        out.push_str("</entry>");
    }
    out.push_str("</feed>\n");
    out
}

fn json_feed(web: &Web, scope: &Scope, self_url: &str, items: &[Item]) -> String {
    let items: Vec<_> = items
        .iter()
        .map(|item| {
            let v = &item.video;
            let author = json!({
                "name": item.channel.display_name,
                "url": web.url(&format!("/c/{}", item.channel.name)),
            });
            let attachments: Vec<_> = item
                .enclosure()
                .map(|f| {
                    json!({
                        "url": f.url,
                        "mime_type": f.mime,
                        "size_in_bytes": f.size,
                        "duration_in_seconds": v.duration,
                    })
                })
                .into_iter()
                .collect();
            json!({
                "id": item.id_url,
                "url": item.watch_url,
                "title": v.attributes.name,
                "content_html": item.content_html,
                "summary": item.summary,
                "image": item.image,
                "date_published": atom_date(&v.published_at),
                "date_modified": atom_date(&v.updated_at),
                "author": author,
                "authors": [author],
                "tags": v.attributes.tags,
                "attachments": attachments,
            })
        })
        .collect();
    json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": scope.title,
        "home_page_url": scope.html_url,
        "feed_url": self_url,
        "description": scope.description,
        "icon": scope.icon,
        "items": items,
    })
    .to_string()
}

pub async fn feed(
    State(web): State<Shared>,
    Path(file): Path<String>,
    RawQuery(raw): RawQuery,
) -> WebResult<Response> {
    let format = format_of(&file).ok_or(WebError::NotFound)?;
    let (scope, by_views) = scope(&web, raw.as_deref())?;
    let items = items(&web, &scope, by_views)?;
    let self_url = match &raw {
        Some(q) => web.url(&format!("/feeds/{file}?{q}")),
        None => web.url(&format!("/feeds/{file}")),
    };
    let (kind, body) = match format {
        Format::Rss => (
            "application/rss+xml; charset=utf-8",
            rss(&web, &scope, &self_url, &items),
        ),
        Format::Atom => (
            "application/atom+xml; charset=utf-8",
            atom(&web, &scope, &self_url, &items),
        ),
        Format::Json => (
            "application/feed+json; charset=utf-8",
            json_feed(&web, &scope, &self_url, &items),
        ),
    };
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ),
            (
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            ),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_text_is_escaped_and_valid() {
        assert_eq!(
            esc("<script>\"a\" & 'b'</script>\u{0}\u{8}ok\n"),
            "&lt;script&gt;&quot;a&quot; &amp; &apos;b&apos;&lt;/script&gt;ok\n"
        );
    }

    #[test]
    fn formats() {
        assert!(matches!(format_of("videos.xml"), Some(Format::Rss)));
        assert!(matches!(format_of("videos.atom1"), Some(Format::Atom)));
        assert!(matches!(format_of("videos.json"), Some(Format::Json)));
        assert!(format_of("videos.html").is_none());
        assert!(format_of("video-comments.xml").is_none());
    }
}
