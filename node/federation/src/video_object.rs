//! PeerTube's ActivityPub `Video` object, both ways: the object a local published video is
//! sent and served as, in PeerTube 8's shape (so that PeerTube and Mastodon show it and
//! PeerTube plays it from our files, in our swarm), and the reading of a remote one with
//! PeerTube's acceptance rules into the catalog's `RemoteVideo`.
//!
//! Plain functions: no HTTP and no catalog access. Checking that the object was fetched from
//! (or sent by) its own host is the caller's job; `same_host` compares as PeerTube does.

use chrono::{DateTime, SecondsFormat, Utc};
use peerbox_catalog::{RemoteFile, RemoteHls, RemoteVideo, short_uuid};
use serde_json::{Map, Value, json};
use thiserror::Error;
use url::Url;
use uuid::Uuid;

use crate::actors;

/// ActivityStreams' public collection, as PeerTube writes it.
const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";
/// The compact form some servers write.
const PUBLIC_COMPACT: &str = "as:Public";

/// PeerTube's comments policies.
const COMMENTS_ENABLED: u8 = 1;
const COMMENTS_REQUIRE_APPROVAL: u8 = 3;

/// PeerTube's limits (`CONSTRAINTS_FIELDS`), in characters.
const NAME_LENGTH: std::ops::RangeInclusive<usize> = 3..=120;
const TAG_LENGTH: std::ops::RangeInclusive<usize> = 2..=30;
const DESCRIPTION_MIN: usize = 3;
const DESCRIPTION_MAX: usize = 10_000;
const URL_LENGTH: std::ops::RangeInclusive<usize> = 3..=2000;
const INFOHASH_LENGTH: std::ops::RangeInclusive<usize> = 10..=100;

/// Media types PeerTube takes as a video file link (`MIMETYPES.AP_VIDEO`).
const VIDEO_FILE_TYPES: [&str; 4] = ["video/mp4", "video/ogg", "video/webm", "audio/mp4"];
/// Media types PeerTube takes as an image (`MIMETYPES.IMAGE`).
const IMAGE_TYPES: [&str; 5] = [
    "image/png",
    "image/gif",
    "image/webp",
    "image/jpg",
    "image/jpeg",
];
const HLS_TYPE: &str = "application/x-mpegURL";
const TORRENT_TYPE: &str = "application/x-bittorrent";
const MAGNET_TYPE: &str = "application/x-bittorrent;x-scheme-handler/magnet";

/// PeerTube's `@context` for videos: its base context plus the Video terms.
pub fn video_context() -> Value {
    // The collection context is exactly PeerTube's base (ActivityStreams, security,
    // RsaSignature2017).
    let mut context = actors::collection_context()
        .as_array()
        .cloned()
        .unwrap_or_default();
    let typed = |kind: &str, id: &str| json!({ "@type": kind, "@id": id });
    let number = |id: &str| typed("sc:Number", id);
    let boolean = |id: &str| typed("sc:Boolean", id);
    let link = |id: &str| json!({ "@id": id, "@type": "@id" });
    let terms = [
        ("pt", json!("https://joinpeertube.org/ns#")),
        ("sc", json!("http://schema.org/")),
        ("Hashtag", json!("as:Hashtag")),
        ("category", json!("sc:category")),
        ("licence", json!("sc:license")),
        ("subtitleLanguage", json!("sc:subtitleLanguage")),
        ("automaticallyGenerated", json!("pt:automaticallyGenerated")),
        ("sensitive", json!("as:sensitive")),
        ("language", json!("sc:inLanguage")),
        ("identifier", json!("sc:identifier")),
        ("isLiveBroadcast", json!("sc:isLiveBroadcast")),
        ("liveSaveReplay", boolean("pt:liveSaveReplay")),
        ("permanentLive", boolean("pt:permanentLive")),
        ("latencyMode", number("pt:latencyMode")),
        ("dvrWindow", typed("sc:Duration", "pt:dvrWindow")),
        ("Infohash", json!("pt:Infohash")),
        ("SensitiveTag", json!("pt:SensitiveTag")),
        ("tileWidth", number("pt:tileWidth")),
        ("tileHeight", number("pt:tileHeight")),
        ("tileDuration", number("pt:tileDuration")),
        ("aspectRatio", typed("sc:Float", "pt:aspectRatio")),
        ("uuid", typed("sc:identifier", "pt:uuid")),
        ("originallyPublishedAt", json!("sc:datePublished")),
        ("schedules", json!("sc:eventSchedule")),
        ("startDate", json!("sc:startDate")),
        ("embedUrl", json!("sc:embedUrl")),
        ("uploadDate", json!("sc:uploadDate")),
        ("hasParts", json!("sc:hasParts")),
        ("playerSettings", json!("pt:playerSettings")),
        ("views", number("pt:views")),
        ("downloads", number("pt:downloads")),
        ("state", number("pt:state")),
        ("size", number("pt:size")),
        ("fps", number("pt:fps")),
        ("canReply", json!("pt:canReply")),
        ("commentsPolicy", number("pt:commentsPolicy")),
        ("downloadEnabled", boolean("pt:downloadEnabled")),
        ("waitTranscoding", boolean("pt:waitTranscoding")),
        ("support", typed("sc:Text", "pt:support")),
        ("likes", link("as:likes")),
        ("dislikes", link("as:dislikes")),
        ("shares", link("as:shares")),
        ("comments", link("as:comments")),
        ("PropertyValue", json!("sc:PropertyValue")),
        ("value", json!("sc:value")),
    ];
    let terms: Map<String, Value> = terms
        .into_iter()
        .map(|(term, value)| (term.to_string(), value))
        .collect();
    context.push(Value::Object(terms));
    Value::Array(context)
}

/// A local video's ActivityPub id (PeerTube's `/videos/watch/{uuid}`).
pub fn video_url(base: &str, uuid: Uuid) -> String {
    format!("{base}/videos/watch/{uuid}")
}

/// Who a video is addressed to. Only public and unlisted videos federate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Public,
    Unlisted,
}

/// A category, licence or language: its id and its label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Labelled<K> {
    pub id: K,
    pub label: String,
}

/// A thumbnail or preview the node serves (`/lazy-static/thumbnails/…`,
/// `/lazy-static/previews/…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub url: String,
    pub width: u32,
    pub height: u32,
}

/// One HLS rendition, with the URLs the REST API gives it (`streamingPlaylists[].files[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileForFederation {
    /// PeerTube's resolution id: the smaller side, 0 for audio only.
    pub resolution: u32,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub size: u64,
    /// The fragmented MP4 (`fileUrl`).
    pub url: String,
    /// `torrentUrl` and `magnetUri`: none until the torrent is written.
    pub torrent_url: Option<String>,
    pub magnet_uri: Option<String>,
}

/// The video's HLS playlist, with the URLs the REST API gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HlsForFederation {
    /// The master playlist (`playlistUrl`).
    pub playlist_url: String,
    pub segments_sha256_url: String,
    /// Hex infohashes of the player's swarms, from the master playlist URL
    /// (`peerbox_p2p::hls_infohashes(playlist_url, files.len())`).
    pub infohashes: Vec<String>,
    pub files: Vec<FileForFederation>,
}

/// What the Video object of a local published video is made of.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoForFederation {
    /// The node's public URL, without a trailing slash.
    pub base_url: String,
    pub uuid: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub support: Option<String>,
    /// Seconds.
    pub duration: u64,
    pub tags: Vec<String>,
    pub category: Option<Labelled<u32>>,
    pub licence: Option<Labelled<u32>>,
    pub language: Option<Labelled<String>>,
    pub nsfw: bool,
    /// PeerTube's comments policy: 1 enabled, 2 disabled, 3 requires approval.
    pub comments_policy: u8,
    pub download_enabled: bool,
    pub wait_transcoding: bool,
    /// PeerTube's state id (1: published).
    pub state: u8,
    pub audience: Audience,
    pub views: u64,
    pub published_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub originally_published_at: Option<DateTime<Utc>>,
    /// The owner account's actor URL; the video is addressed to its followers, as PeerTube
    /// does (a channel's followers get it from the channel's Announce).
    pub account_url: String,
    pub channel_url: String,
    /// The video's icons: PeerTube refuses a video that has none.
    pub thumbnail: Option<Image>,
    pub preview: Option<Image>,
    pub hls: Option<HlsForFederation>,
    /// The tracker URLs the REST API lists (`trackerUrls`).
    pub trackers: Vec<String>,
}

fn date(d: &DateTime<Utc>) -> String {
    d.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The Video object of a local video, as PeerTube 8 builds it, with its audience (`to`,
/// `cc`) as PeerTube adds it; without `@context` (see `video_context`), so that it can be
/// served alone or be the object of a Create or Update.
///
/// Left out: `hasParts` and `playerSettings`, whose URLs the node does not serve (PeerTube
/// fetches them only when present), and the file metadata links (likewise).
pub fn video_object(v: &VideoForFederation) -> Value {
    let id = video_url(&v.base_url, v.uuid);
    let (to, cc) = match v.audience {
        Audience::Public => (
            json!([PUBLIC]),
            json!([format!("{}/followers", v.account_url)]),
        ),
        Audience::Unlisted => (json!([]), json!([PUBLIC])),
    };
    let identifier = |id: String, label: &str| json!({ "identifier": id, "name": label });
    let mut urls = vec![
        // The short watch page first: Mastodon links the first text/html url.
        html_link(format!("{}/w/{}", v.base_url, short_uuid(&v.uuid))),
        html_link(id.clone()),
    ];
    urls.extend(v.hls.as_ref().map(hls_link));
    urls.extend(v.trackers.iter().map(|t| tracker_link(t)));

    let mut o = Map::new();
    let mut put = |key: &str, value: Value| {
        o.insert(key.to_string(), value);
    };
    put("to", to);
    put("cc", cc);
    put("type", json!("Video"));
    put("id", json!(id));
    put("name", json!(v.name));
    put("duration", json!(format!("PT{}S", v.duration)));
    put("uuid", json!(v.uuid.to_string()));
    if let Some(c) = &v.category {
        put("category", identifier(c.id.to_string(), &c.label));
    }
    if let Some(l) = &v.licence {
        put("licence", identifier(l.id.to_string(), &l.label));
    }
    if let Some(l) = &v.language {
        put("language", identifier(l.id.clone(), &l.label));
    }
    put("views", json!(v.views));
    put("sensitive", json!(v.nsfw));
    put("summary", Value::Null);
    put("waitTranscoding", json!(v.wait_transcoding));
    put("state", json!(v.state));
    // PeerTube's way of saying that replies need approval unless comments are open.
    let can_reply = match v.comments_policy {
        COMMENTS_ENABLED => Value::Null,
        _ => json!(PUBLIC),
    };
    put("canReply", can_reply);
    put("commentsPolicy", json!(v.comments_policy));
    put("downloadEnabled", json!(v.download_enabled));
    put("published", json!(date(&v.published_at)));
    put(
        "originallyPublishedAt",
        json!(v.originally_published_at.as_ref().map(date)),
    );
    put("schedules", json!([]));
    put("updated", json!(date(&v.updated_at)));
    let tags: Vec<Value> = v
        .tags
        .iter()
        .map(|t| json!({ "type": "Hashtag", "name": t }))
        .collect();
    put("tag", json!(tags));
    put("mediaType", json!("text/markdown"));
    put("content", json!(v.description));
    put("support", json!(v.support));
    put("subtitleLanguage", json!([]));
    let icons: Vec<Value> = [&v.thumbnail, &v.preview]
        .into_iter()
        .flatten()
        .map(icon)
        .collect();
    put("icon", json!(icons));
    put("aspectRatio", aspect_ratio(v.hls.as_ref()));
    put("url", json!(urls));
    put("likes", json!(format!("{id}/likes")));
    put("dislikes", json!(format!("{id}/dislikes")));
    put("shares", json!(format!("{id}/announces")));
    put("comments", json!(format!("{id}/comments")));
    put("attributedTo", json!([v.account_url, v.channel_url]));
    put("isLiveBroadcast", json!(false));
    put("liveSaveReplay", Value::Null);
    put("permanentLive", Value::Null);
    put("latencyMode", Value::Null);
    Value::Object(o)
}

fn html_link(href: String) -> Value {
    json!({ "type": "Link", "mediaType": "text/html", "href": href })
}

fn tracker_link(url: &str) -> Value {
    let kind = if url.starts_with("http") {
        "http"
    } else {
        "websocket"
    };
    json!({ "type": "Link", "name": format!("tracker-{kind}"), "rel": ["tracker", kind], "href": url })
}

fn icon(image: &Image) -> Value {
    json!({
        "type": "Image",
        "url": image.url,
        "mediaType": image_type(&image.url),
        "width": image.width,
        "height": image.height,
    })
}

/// PeerTube names an image's type from its file extension.
fn image_type(url: &str) -> &'static str {
    let extension = url.rsplit('.').next().map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("png") => "image/png",
        Some("webp") => "image/webp",
        Some("gif") => "image/gif",
        _ => "image/jpeg",
    }
}

/// Width over height of the largest rendition, to 4 decimals as PeerTube rounds it.
fn aspect_ratio(hls: Option<&HlsForFederation>) -> Value {
    let largest = hls.and_then(|h| h.files.iter().max_by_key(|f| f.resolution));
    match largest {
        Some(f) if f.width > 0 && f.height > 0 => {
            let ratio = f64::from(f.width) / f64::from(f.height);
            json!((ratio * 10_000.0).round() / 10_000.0)
        }
        _ => Value::Null,
    }
}

/// The playlist link: the swarm infohashes, the segments' hashes, then each rendition
/// (highest first) with its torrent and magnet.
fn hls_link(hls: &HlsForFederation) -> Value {
    let mut tag: Vec<Value> = hls
        .infohashes
        .iter()
        .map(|h| json!({ "type": "Infohash", "name": h }))
        .collect();
    tag.push(json!({
        "type": "Link",
        "name": "sha256",
        "mediaType": "application/json",
        "href": hls.segments_sha256_url,
    }));
    let mut files: Vec<&FileForFederation> = hls.files.iter().collect();
    files.sort_by_key(|f| std::cmp::Reverse(f.resolution));
    for f in files {
        tag.extend(file_links(f));
    }
    json!({ "type": "Link", "mediaType": HLS_TYPE, "href": hls.playlist_url, "tag": tag })
}

fn file_links(f: &FileForFederation) -> Vec<Value> {
    // PeerTube writes the height, or the resolution when the height is unknown.
    let height = if f.height > 0 { f.height } else { f.resolution };
    let width = (f.width > 0).then_some(f.width);
    let property =
        |name: &str, value: &str| json!({ "type": "PropertyValue", "name": name, "value": value });
    let mut attachment = vec![property("ffprobe_codec_type", "audio")];
    if f.resolution != 0 {
        attachment.push(property("ffprobe_codec_type", "video"));
    }
    attachment.push(property("peertube_format_flag", "fragmented"));
    let mut links = vec![json!({
        "type": "Link",
        "mediaType": "video/mp4",
        "href": f.url,
        "height": height,
        "width": width,
        "size": f.size,
        "fps": f.fps,
        "attachment": attachment,
    })];
    let mut sibling = |media_type: &str, href: &str| {
        links.push(json!({
            "type": "Link",
            "mediaType": media_type,
            "href": href,
            "height": height,
            "width": width,
            "fps": f.fps,
        }));
    };
    if let Some(torrent) = &f.torrent_url {
        sibling(TORRENT_TYPE, torrent);
    }
    if let Some(magnet) = &f.magnet_uri {
        sibling(MAGNET_TYPE, magnet);
    }
    links
}

/// Why a remote Video object is refused: the rule it breaks.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum VideoObjectError {
    #[error("not a Video object")]
    NotAVideo,
    #[error("id is missing or not an http(s) URL")]
    Id,
    #[error("uuid is missing or not a UUID")]
    Uuid,
    #[error("name must have 3 to 120 characters")]
    Name,
    #[error("duration must be an ActivityStreams duration (PT…S)")]
    Duration,
    #[error("published is missing or not a date")]
    Published,
    #[error("updated is missing or not a date")]
    Updated,
    #[error("originallyPublishedAt is not a date")]
    OriginallyPublishedAt,
    #[error("uploadDate is not a date")]
    UploadDate,
    #[error("views must be a non-negative integer")]
    Views,
    #[error("category identifier must be a non-negative integer")]
    Category,
    #[error("licence identifier must be a non-negative integer or an SPDX name")]
    Licence,
    #[error("language identifier must be a string")]
    Language,
    #[error("content must be text/markdown or text/html of at least 3 characters")]
    Content,
    #[error("audience is not an http(s) URL")]
    Audience,
    #[error("embedUrl is not an http(s) URL")]
    EmbedUrl,
    #[error("url must be a list")]
    Urls,
    #[error("no valid icon (thumbnail)")]
    Icons,
    #[error("subtitleLanguage must be a list")]
    Captions,
    #[error("preview must be a list")]
    Storyboard,
    #[error("attributedTo names no actor")]
    AttributedTo,
    #[error("attributedTo names no channel (Group) on the video's host")]
    Channel,
    #[error("attributedTo names no account (Person) on the video's host")]
    Account,
    #[error("url has no text/html link")]
    WatchPage,
    #[error("url has neither an HLS playlist nor a video file")]
    NotPlayable,
    #[error("a magnet link has no valid infohash")]
    Magnet,
    #[error("the video is addressed neither to the public nor as unlisted")]
    NotPublic,
}

/// Reads a remote Video object with PeerTube's acceptance rules: what PeerTube refuses is
/// refused, what it drops (invalid tags, links, icons) is dropped, what it defaults is
/// defaulted. On top of them, the video must be playable here (an HLS playlist or a video
/// file, unless it is a live broadcast), have a watch page (its first text/html link) and
/// be public (`as:Public` in `to`) or unlisted (in `cc` only): private videos never
/// federate.
///
/// Not PeerTube's: URLs need no top-level domain (PeerTube waives it only when it runs on
/// localhost itself), and a duration like `PT1H2M3S` is read whole (PeerTube reads its first
/// number).
pub fn parse_video_object(
    doc: &Value,
    now: DateTime<Utc>,
) -> Result<RemoteVideo, VideoObjectError> {
    use VideoObjectError as E;
    if doc.get("type").and_then(Value::as_str) != Some("Video") {
        return Err(E::NotAVideo);
    }
    let tags = hashtags(doc.get("tag"));
    let urls = doc.get("url").and_then(Value::as_array).ok_or(E::Urls)?;
    let owners = attributed_to(doc.get("attributedTo"));
    if !is_list_or_absent(doc.get("subtitleLanguage")) {
        return Err(E::Captions);
    }
    let thumbnail = largest_icon(doc.get("icon")).ok_or(E::Icons)?;
    if !is_list_or_absent(doc.get("preview")) {
        return Err(E::Storyboard);
    }
    let licence = licence(present(doc, "licence"))?;

    let id = present(doc, "id").and_then(ap_url).ok_or(E::Id)?;
    let name = text(doc, "name")
        .filter(|n| NAME_LENGTH.contains(&n.chars().count()))
        .ok_or(E::Name)?;
    let duration = text(doc, "duration")
        .and_then(parse_duration)
        .ok_or(E::Duration)?;
    let uuid = text(doc, "uuid")
        .filter(|u| u.len() == 36)
        .and_then(|u| Uuid::try_parse(u).ok())
        .ok_or(E::Uuid)?;
    let category = match present(doc, "category") {
        None => None,
        Some(c) => Some(
            c.get("identifier")
                .and_then(int)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or(E::Category)?,
        ),
    };
    let language = match present(doc, "language") {
        None => None,
        Some(l) => Some(
            l.get("identifier")
                .and_then(Value::as_str)
                .ok_or(E::Language)?
                .to_string(),
        ),
    };
    let views = doc
        .get("views")
        .and_then(int)
        .and_then(|n| u64::try_from(n).ok())
        .ok_or(E::Views)?;
    let published_at = text(doc, "published")
        .and_then(parse_date)
        .ok_or(E::Published)?;
    let updated_at = text(doc, "updated")
        .and_then(parse_date)
        .ok_or(E::Updated)?;
    let is_date = |v: &Value| v.as_str().and_then(parse_date).is_some();
    if !optional(doc, "originallyPublishedAt", is_date) {
        return Err(E::OriginallyPublishedAt);
    }
    if !optional(doc, "uploadDate", is_date) {
        return Err(E::UploadDate);
    }
    let description = description(doc)?;
    let is_url = |v: &Value| ap_url(v).is_some();
    if !optional(doc, "audience", is_url) {
        return Err(E::Audience);
    }
    if !optional(doc, "embedUrl", is_url) {
        return Err(E::EmbedUrl);
    }
    if owners.is_empty() {
        return Err(E::AttributedTo);
    }
    let (account_url, channel_url) = owners_of(&owners, id)?;

    let watch_url = urls.iter().find_map(watch_page).ok_or(E::WatchPage)?;
    let hls = urls
        .iter()
        .find(|u| is_hls_link(u))
        .map(read_hls)
        .transpose()?;
    let is_live = flag(doc, "isLiveBroadcast", false);
    let has_video_file = urls.iter().any(is_video_file_link);
    if hls.is_none() && !has_video_file && !is_live {
        return Err(E::NotPlayable);
    }
    let privacy = privacy(doc)?;

    // A missing or unknown comments policy is PeerTube's "disabled".
    let comments_enabled = doc.get("commentsPolicy").and_then(int).is_some_and(|p| {
        p == i64::from(COMMENTS_ENABLED) || p == i64::from(COMMENTS_REQUIRE_APPROVAL)
    });
    Ok(RemoteVideo {
        url: id.to_string(),
        uuid,
        name: name.to_string(),
        description,
        duration,
        channel_url,
        account_url,
        watch_url,
        thumbnail_url: Some(thumbnail),
        privacy,
        language,
        category,
        licence,
        nsfw: flag(doc, "sensitive", false),
        comments_enabled,
        download_enabled: flag(doc, "downloadEnabled", true),
        tags,
        views,
        // Counted from the likes and dislikes collections, not carried by the object.
        likes: 0,
        dislikes: 0,
        is_live,
        hls,
        published_at,
        updated_at,
        fetched_at: now,
    })
}

/// Seconds of an ActivityStreams duration. PeerTube takes any string that starts with `PT`
/// and ends with `S`; this reads its hours, minutes and seconds (a fraction of a second is
/// dropped).
pub fn parse_duration(value: &str) -> Option<u64> {
    let body = value.strip_prefix("PT")?.strip_suffix('S')?;
    let digits = |s: &str| -> Option<u64> {
        match !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            true => s.parse().ok(),
            false => None,
        }
    };
    let mut rest = body;
    let mut total: u64 = 0;
    for (unit, seconds) in [('H', 3600), ('M', 60)] {
        if let Some((count, after)) = rest.split_once(unit) {
            total = total.checked_add(digits(count)?.checked_mul(seconds)?)?;
            rest = after;
        }
    }
    let whole = match rest.split_once('.') {
        Some((whole, fraction)) => {
            digits(fraction)?;
            whole
        }
        None => rest,
    };
    total.checked_add(digits(whole)?)
}

/// Whether two URLs have the same host and port, as PeerTube's `checkUrlsSameHost` compares
/// them (an object's id against the URL it was fetched from, an owner against its video).
pub fn same_host(a: &str, b: &str) -> bool {
    match (Url::parse(a), Url::parse(b)) {
        (Ok(a), Ok(b)) => {
            a.host_str().is_some() && a.host_str() == b.host_str() && a.port() == b.port()
        }
        _ => false,
    }
}

/// The value of `key`, unless missing or null (PeerTube's `exists`).
fn present<'a>(doc: &'a Value, key: &str) -> Option<&'a Value> {
    doc.get(key).filter(|v| !v.is_null())
}

fn text<'a>(doc: &'a Value, key: &str) -> Option<&'a str> {
    doc.get(key).and_then(Value::as_str)
}

/// A boolean field, or PeerTube's default when it is not a boolean.
fn flag(doc: &Value, key: &str, default: bool) -> bool {
    doc.get(key).and_then(Value::as_bool).unwrap_or(default)
}

/// Whether an optional field is absent or passes `check`.
fn optional(doc: &Value, key: &str, check: impl Fn(&Value) -> bool) -> bool {
    present(doc, key).is_none_or(check)
}

fn is_list_or_absent(value: Option<&Value>) -> bool {
    matches!(value, None | Some(Value::Null | Value::Array(_)))
}

/// One value or a list of them, as ActivityStreams allows.
fn list(value: Option<&Value>) -> Vec<&Value> {
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one) => vec![one],
    }
}

/// An integer as PeerTube's validator takes one: a JSON number or a string of digits.
fn int(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn parse_date(value: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// An http(s) URL with a host, of PeerTube's length, without whitespace or angle brackets.
fn ap_url(value: &Value) -> Option<&str> {
    let s = value.as_str()?;
    if !URL_LENGTH.contains(&s.chars().count())
        || s.chars().any(|c| c.is_whitespace() || c == '<' || c == '>')
    {
        return None;
    }
    let url = Url::parse(s).ok()?;
    let usable =
        matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty());
    usable.then_some(s)
}

/// Hashtags of 2 to 30 characters; other tags are dropped.
fn hashtags(value: Option<&Value>) -> Vec<String> {
    let Some(Value::Array(tags)) = value else {
        return Vec::new();
    };
    tags.iter()
        .filter(|t| t.get("type").and_then(Value::as_str) == Some("Hashtag"))
        .filter_map(|t| t.get("name").and_then(Value::as_str))
        .filter(|name| TAG_LENGTH.contains(&name.chars().count()))
        .map(str::to_string)
        .collect()
}

/// The URL of the largest valid icon (PeerTube keeps every valid one as a thumbnail).
fn largest_icon(value: Option<&Value>) -> Option<String> {
    list(value)
        .into_iter()
        .filter(|i| i.get("type").and_then(Value::as_str) == Some("Image"))
        .filter(|i| {
            i.get("mediaType")
                .and_then(Value::as_str)
                .is_some_and(|t| IMAGE_TYPES.contains(&t))
        })
        .filter_map(|i| {
            let url = i.get("url").and_then(ap_url)?;
            let width = i.get("width").and_then(int).filter(|w| *w >= 0)?;
            let height = i.get("height").and_then(int).filter(|h| *h >= 0)?;
            Some((width.saturating_mul(height), url))
        })
        .max_by_key(|(area, _)| *area)
        .map(|(_, url)| url.to_string())
}

/// PeerTube's SPDX names for its licences.
fn spdx_licence(name: &str) -> Option<u32> {
    let id = match name {
        "CC-BY-4.0" => 1,
        "CC-BY-SA-4.0" => 2,
        "CC-BY-ND-4.0" => 3,
        "CC-BY-NC-4.0" => 4,
        "CC-BY-NC-SA-4.0" => 5,
        "CC-BY-NC-ND-4.0" => 6,
        "CC0" => 7,
        _ => return None,
    };
    Some(id)
}

/// A numeric licence must be valid; an SPDX name is translated, an unknown one dropped.
fn licence(value: Option<&Value>) -> Result<Option<u32>, VideoObjectError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let identifier = value.get("identifier").ok_or(VideoObjectError::Licence)?;
    match (int(identifier), identifier.as_str()) {
        (Some(n), _) => u32::try_from(n)
            .map(Some)
            .map_err(|_| VideoObjectError::Licence),
        (None, Some(name)) => Ok(spdx_licence(name)),
        (None, None) => Err(VideoObjectError::Licence),
    }
}

/// The description: markdown or HTML, cut to PeerTube's length, of at least 3 characters.
fn description(doc: &Value) -> Result<Option<String>, VideoObjectError> {
    let Some(content) = present(doc, "content") else {
        return Ok(None);
    };
    let content = content.as_str().ok_or(VideoObjectError::Content)?;
    let media_type = text(doc, "mediaType");
    let count = content.chars().count();
    if !matches!(media_type, Some("text/markdown" | "text/html")) || count < DESCRIPTION_MIN {
        return Err(VideoObjectError::Content);
    }
    if count <= DESCRIPTION_MAX {
        return Ok(Some(content.to_string()));
    }
    let mut cut: String = content.chars().take(DESCRIPTION_MAX - 3).collect();
    cut.push_str("...");
    Ok(Some(cut))
}

/// An `attributedTo` entry: a bare URL, or an actor whose type says what it is.
enum Owner<'a> {
    Bare(&'a str),
    Group(&'a str),
    Person(&'a str),
}

impl<'a> Owner<'a> {
    fn url(&self) -> &'a str {
        match *self {
            Owner::Bare(u) | Owner::Group(u) | Owner::Person(u) => u,
        }
    }
}

fn attributed_to(value: Option<&Value>) -> Vec<Owner<'_>> {
    list(value)
        .into_iter()
        .filter_map(|entry| {
            if let Some(url) = ap_url(entry) {
                return Some(Owner::Bare(url));
            }
            let url = entry.get("id").and_then(ap_url)?;
            match entry.get("type").and_then(Value::as_str) {
                Some("Group") => Some(Owner::Group(url)),
                Some("Person") => Some(Owner::Person(url)),
                _ => None,
            }
        })
        .collect()
}

/// The account and channel among the owners on the video's host (PeerTube ignores owners
/// elsewhere). Typed entries say which is which; PeerTube 8 sends bare URLs, the account's
/// then the channel's, and the caller confirms their types when it fetches them.
fn owners_of(owners: &[Owner<'_>], id: &str) -> Result<(String, String), VideoObjectError> {
    let (mut account, mut channel, mut bare) = (None, None, Vec::new());
    for owner in owners.iter().filter(|o| same_host(o.url(), id)) {
        match *owner {
            Owner::Person(url) => {
                account.get_or_insert(url);
            }
            Owner::Group(url) => {
                channel.get_or_insert(url);
            }
            Owner::Bare(url) => bare.push(url),
        }
    }
    let mut bare = bare.into_iter();
    let account = account.or_else(|| bare.next());
    let channel = channel.or_else(|| bare.next());
    let channel = channel.ok_or(VideoObjectError::Channel)?;
    let account = account.ok_or(VideoObjectError::Account)?;
    Ok((account.to_string(), channel.to_string()))
}

/// 1 when addressed to the public, 2 when the public is only in copy (unlisted).
fn privacy(doc: &Value) -> Result<u8, VideoObjectError> {
    let public = |key: &str| {
        list(doc.get(key))
            .into_iter()
            .any(|v| matches!(v.as_str(), Some(PUBLIC | PUBLIC_COMPACT)))
    };
    match (public("to"), public("cc")) {
        (true, _) => Ok(1),
        (false, true) => Ok(2),
        (false, false) => Err(VideoObjectError::NotPublic),
    }
}

fn media_type(link: &Value) -> Option<&str> {
    // `mimeType` is how PeerTube wrote it before 1.1.
    link.get("mediaType")
        .or_else(|| link.get("mimeType"))
        .and_then(Value::as_str)
}

fn is_link(link: &Value) -> bool {
    link.get("type").and_then(Value::as_str) == Some("Link")
}

fn height_of(link: &Value) -> Option<i64> {
    link.get("height").and_then(int).filter(|h| *h >= 0)
}

fn watch_page(link: &Value) -> Option<String> {
    let html = is_link(link) && media_type(link) == Some("text/html");
    html.then(|| link.get("href").and_then(ap_url))
        .flatten()
        .map(str::to_string)
}

fn is_hls_link(link: &Value) -> bool {
    media_type(link) == Some(HLS_TYPE)
        && link.get("href").and_then(ap_url).is_some()
        && link.get("tag").is_some_and(Value::is_array)
}

/// PeerTube's rule for a video file link: a URL, a height and a size, and a frame rate of
/// -1 or more when there is one.
fn is_video_file_link(link: &Value) -> bool {
    let fps_ok = match link.get("fps") {
        None | Some(Value::Null) => true,
        Some(fps) => int(fps).is_some_and(|f| f >= -1),
    };
    is_link(link)
        && media_type(link).is_some_and(|t| VIDEO_FILE_TYPES.contains(&t))
        && link.get("href").and_then(ap_url).is_some()
        && height_of(link).is_some()
        && link.get("size").and_then(int).is_some_and(|s| s >= 0)
        && fps_ok
}

/// The playlist's swarm infohashes, segments' hashes and renditions (invalid ones dropped).
fn read_hls(link: &Value) -> Result<RemoteHls, VideoObjectError> {
    let tags: &[Value] = link
        .get("tag")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let infohashes = tags
        .iter()
        .filter(|t| t.get("type").and_then(Value::as_str) == Some("Infohash"))
        .filter_map(|t| t.get("name").and_then(Value::as_str))
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect();
    let segments_sha256_url = tags
        .iter()
        .find(|t| {
            is_link(t)
                && t.get("name").and_then(Value::as_str) == Some("sha256")
                && media_type(t) == Some("application/json")
        })
        .and_then(|t| t.get("href").and_then(ap_url))
        .map(str::to_string);
    let files = tags
        .iter()
        .filter(|t| is_video_file_link(t))
        .map(|f| read_file(f, tags))
        .collect::<Result<_, _>>()?;
    Ok(RemoteHls {
        playlist_url: link
            .get("href")
            .and_then(ap_url)
            .unwrap_or_default()
            .to_string(),
        segments_sha256_url,
        infohashes,
        files,
    })
}

/// A rendition, with the torrent and magnet links of its height.
fn read_file(link: &Value, siblings: &[Value]) -> Result<RemoteFile, VideoObjectError> {
    let height = height_of(link).unwrap_or_default();
    // PeerTube's resolution is the smaller side (portrait videos).
    let width = link.get("width").and_then(int).unwrap_or(i64::MAX);
    let resolution = u32::try_from(height.min(width).max(0)).unwrap_or(u32::MAX);
    let fps = link
        .get("fps")
        .and_then(int)
        .and_then(|f| u32::try_from(f).ok())
        .unwrap_or(0);
    let same_height = |media: &str| {
        siblings
            .iter()
            .find(move |s| media_type(s) == Some(media) && height_of(s) == Some(height))
    };
    let magnet_uri = same_height(MAGNET_TYPE)
        .and_then(|m| m.get("href").and_then(Value::as_str))
        .filter(|href| href.len() >= 5);
    let magnet_source = magnet_uri.map(read_magnet).transpose()?.flatten();
    let torrent_url = same_height(TORRENT_TYPE)
        .and_then(|t| t.get("href").and_then(ap_url))
        .map(str::to_string)
        .or(magnet_source);
    Ok(RemoteFile {
        resolution,
        fps,
        size: link
            .get("size")
            .and_then(int)
            .and_then(|s| u64::try_from(s).ok())
            .unwrap_or_default(),
        file_url: link
            .get("href")
            .and_then(ap_url)
            .unwrap_or_default()
            .to_string(),
        torrent_url,
        magnet_uri: magnet_uri.map(str::to_string),
    })
}

/// Checks a magnet's infohash as PeerTube does (refusing the video when it is invalid) and
/// gives its torrent URL (`xs`), if any.
fn read_magnet(magnet: &str) -> Result<Option<String>, VideoObjectError> {
    let query = magnet
        .strip_prefix("magnet:?")
        .ok_or(VideoObjectError::Magnet)?;
    let mut infohash_ok = false;
    let mut source = None;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "xt" => {
                if let Some(hash) = value.strip_prefix("urn:btih:") {
                    infohash_ok = INFOHASH_LENGTH.contains(&hash.len());
                }
            }
            "xs" if source.is_none() => {
                source = ap_url(&Value::String(value.into_owned())).map(str::to_string);
            }
            _ => {}
        }
    }
    match infohash_ok {
        true => Ok(source),
        false => Err(VideoObjectError::Magnet),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "https://box.example";
    const UUID: &str = "0d9e62ba-2cbd-4b8e-9a0c-6f1f4e8f1a2b";

    fn at(s: &str) -> DateTime<Utc> {
        parse_date(s).expect("test date")
    }

    fn now() -> DateTime<Utc> {
        at("2026-03-01T10:00:00Z")
    }

    fn uuid() -> Uuid {
        Uuid::parse_str(UUID).expect("uuid")
    }

    fn hls_base() -> String {
        format!("{BASE}/static/streaming-playlists/hls/{UUID}")
    }

    fn file(resolution: u32, width: u32, size: u64) -> FileForFederation {
        let base = hls_base();
        let torrent = format!("{BASE}/lazy-static/torrents/{UUID}-{resolution}-hls.torrent");
        FileForFederation {
            resolution,
            width,
            height: resolution,
            fps: 30,
            size,
            url: format!("{base}/{UUID}-{resolution}-fragmented.mp4"),
            magnet_uri: Some(format!(
                "magnet:?xs={}&xt=urn:btih:{}&dn=Walk",
                torrent.replace(':', "%3A").replace('/', "%2F"),
                "ab".repeat(20)
            )),
            torrent_url: Some(torrent),
        }
    }

    fn local() -> VideoForFederation {
        VideoForFederation {
            base_url: BASE.into(),
            uuid: uuid(),
            name: "A walk by the river".into(),
            description: Some("Filmed on a **Sunday**.".into()),
            support: Some("Thanks!".into()),
            duration: 83,
            tags: vec!["river".into(), "walk".into()],
            category: Some(Labelled {
                id: 6,
                label: "Travels".into(),
            }),
            licence: Some(Labelled {
                id: 2,
                label: "Attribution - Share Alike".into(),
            }),
            language: Some(Labelled {
                id: "fr".into(),
                label: "French".into(),
            }),
            nsfw: false,
            comments_policy: 1,
            download_enabled: true,
            wait_transcoding: true,
            state: 1,
            audience: Audience::Public,
            views: 12,
            published_at: at("2026-02-01T08:00:00.250Z"),
            updated_at: at("2026-02-02T09:30:00Z"),
            originally_published_at: None,
            account_url: format!("{BASE}/accounts/alice"),
            channel_url: format!("{BASE}/video-channels/alice_channel"),
            thumbnail: Some(Image {
                url: format!("{BASE}/lazy-static/thumbnails/{UUID}.jpg"),
                width: 280,
                height: 157,
            }),
            preview: Some(Image {
                url: format!("{BASE}/lazy-static/previews/{UUID}.jpg"),
                width: 850,
                height: 480,
            }),
            hls: Some(HlsForFederation {
                playlist_url: format!("{}/master.m3u8", hls_base()),
                segments_sha256_url: format!("{}/segments-sha256.json", hls_base()),
                infohashes: vec!["11".repeat(20), "22".repeat(20)],
                files: vec![file(480, 854, 1_000), file(720, 1280, 2_000)],
            }),
            trackers: vec![
                format!("{}/tracker/socket", BASE.replace("https", "wss")),
                format!("{BASE}/tracker/announce"),
            ],
        }
    }

    /// A PeerTube 8.0 Video object for a public video with one rendition plus audio only, a
    /// caption and a storyboard, written by hand in the shape PeerTube's
    /// `videoModelToActivityPubObject` and `audiencify` give it.
    const PEERTUBE_VIDEO: &str = r#"{
  "@context": [
    "https://www.w3.org/ns/activitystreams",
    "https://w3id.org/security/v1",
    {"RsaSignature2017": "https://w3id.org/security#RsaSignature2017"},
    {
      "pt": "https://joinpeertube.org/ns#",
      "sc": "http://schema.org/",
      "Hashtag": "as:Hashtag",
      "category": "sc:category",
      "licence": "sc:license",
      "subtitleLanguage": "sc:subtitleLanguage",
      "automaticallyGenerated": "pt:automaticallyGenerated",
      "sensitive": "as:sensitive",
      "language": "sc:inLanguage",
      "identifier": "sc:identifier",
      "isLiveBroadcast": "sc:isLiveBroadcast",
      "liveSaveReplay": {"@type": "sc:Boolean", "@id": "pt:liveSaveReplay"},
      "permanentLive": {"@type": "sc:Boolean", "@id": "pt:permanentLive"},
      "latencyMode": {"@type": "sc:Number", "@id": "pt:latencyMode"},
      "dvrWindow": {"@type": "sc:Duration", "@id": "pt:dvrWindow"},
      "Infohash": "pt:Infohash",
      "SensitiveTag": "pt:SensitiveTag",
      "tileWidth": {"@type": "sc:Number", "@id": "pt:tileWidth"},
      "tileHeight": {"@type": "sc:Number", "@id": "pt:tileHeight"},
      "tileDuration": {"@type": "sc:Number", "@id": "pt:tileDuration"},
      "aspectRatio": {"@type": "sc:Float", "@id": "pt:aspectRatio"},
      "uuid": {"@type": "sc:identifier", "@id": "pt:uuid"},
      "originallyPublishedAt": "sc:datePublished",
      "schedules": "sc:eventSchedule",
      "startDate": "sc:startDate",
      "embedUrl": "sc:embedUrl",
      "uploadDate": "sc:uploadDate",
      "hasParts": "sc:hasParts",
      "playerSettings": "pt:playerSettings",
      "views": {"@type": "sc:Number", "@id": "pt:views"},
      "downloads": {"@type": "sc:Number", "@id": "pt:downloads"},
      "state": {"@type": "sc:Number", "@id": "pt:state"},
      "size": {"@type": "sc:Number", "@id": "pt:size"},
      "fps": {"@type": "sc:Number", "@id": "pt:fps"},
      "canReply": "pt:canReply",
      "commentsPolicy": {"@type": "sc:Number", "@id": "pt:commentsPolicy"},
      "downloadEnabled": {"@type": "sc:Boolean", "@id": "pt:downloadEnabled"},
      "waitTranscoding": {"@type": "sc:Boolean", "@id": "pt:waitTranscoding"},
      "support": {"@type": "sc:Text", "@id": "pt:support"},
      "likes": {"@id": "as:likes", "@type": "@id"},
      "dislikes": {"@id": "as:dislikes", "@type": "@id"},
      "shares": {"@id": "as:shares", "@type": "@id"},
      "comments": {"@id": "as:comments", "@type": "@id"},
      "PropertyValue": "sc:PropertyValue",
      "value": "sc:value"
    }
  ],
  "to": ["https://www.w3.org/ns/activitystreams#Public"],
  "cc": ["https://tube.example.org/accounts/chef/followers"],
  "type": "Video",
  "id": "https://tube.example.org/videos/watch/5b2c1f1e-8a6d-4c3e-9e0b-2f4d6a8c0e1f",
  "name": "Cooking pasta",
  "duration": "PT754S",
  "uuid": "5b2c1f1e-8a6d-4c3e-9e0b-2f4d6a8c0e1f",
  "category": {"identifier": "18", "name": "Food"},
  "licence": {"identifier": "1", "name": "Attribution"},
  "language": {"identifier": "it", "name": "Italian"},
  "views": 1503,
  "sensitive": false,
  "summary": null,
  "waitTranscoding": true,
  "state": 1,
  "canReply": null,
  "commentsPolicy": 1,
  "downloadEnabled": true,
  "published": "2025-12-20T18:04:11.512Z",
  "originallyPublishedAt": null,
  "schedules": [],
  "updated": "2026-01-03T07:45:00.003Z",
  "uploadDate": "2025-12-20T17:58:40.101Z",
  "tag": [{"type": "Hashtag", "name": "pasta"}, {"type": "Hashtag", "name": "cooking"}],
  "mediaType": "text/markdown",
  "content": "How I cook *pasta*, step by step.",
  "support": null,
  "subtitleLanguage": [
    {
      "identifier": "it",
      "name": "Italian",
      "automaticallyGenerated": false,
      "url": [
        {
          "type": "Link",
          "mediaType": "text/vtt",
          "href": "https://tube.example.org/lazy-static/video-captions/a1b2-it.vtt"
        }
      ]
    }
  ],
  "icon": [
    {
      "type": "Image",
      "url": "https://tube.example.org/lazy-static/thumbnails/9f1e.jpg",
      "mediaType": "image/jpeg",
      "width": 560,
      "height": 315
    },
    {
      "type": "Image",
      "url": "https://tube.example.org/lazy-static/previews/7a3c.jpg",
      "mediaType": "image/jpeg",
      "width": 1280,
      "height": 720
    }
  ],
  "preview": [
    {
      "type": "Image",
      "rel": ["storyboard"],
      "url": [
        {
          "mediaType": "image/jpeg",
          "href": "https://tube.example.org/lazy-static/storyboards/e4d1.jpg",
          "width": 1920,
          "height": 1080,
          "tileWidth": 192,
          "tileHeight": 108,
          "tileDuration": "PT7S"
        }
      ]
    }
  ],
  "aspectRatio": 1.7778,
  "url": [
    {
      "type": "Link",
      "mediaType": "text/html",
      "href": "https://tube.example.org/w/cqV3xk3Zy8kSSLUwEwhQ3a"
    },
    {
      "type": "Link",
      "mediaType": "text/html",
      "href": "https://tube.example.org/videos/watch/5b2c1f1e-8a6d-4c3e-9e0b-2f4d6a8c0e1f"
    },
    {
      "type": "Link",
      "mediaType": "application/x-mpegURL",
      "href": "https://tube.example.org/static/streaming-playlists/hls/5b2c1f1e-8a6d-4c3e-9e0b-2f4d6a8c0e1f/2bd7e9a4-master.m3u8",
      "tag": [
        {"type": "Infohash", "name": "4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f4f"},
        {"type": "Infohash", "name": "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e"},
        {
          "type": "Link",
          "name": "sha256",
          "mediaType": "application/json",
          "href": "https://tube.example.org/static/streaming-playlists/hls/5b2c1f1e-8a6d-4c3e-9e0b-2f4d6a8c0e1f/0c2a-segments-sha256.json"
        },
        {
          "type": "Link",
          "mediaType": "video/mp4",
          "href": "https://tube.example.org/static/streaming-playlists/hls/5b2c1f1e-8a6d-4c3e-9e0b-2f4d6a8c0e1f/1d3b-720-fragmented.mp4",
          "height": 720,
          "width": 1280,
          "size": 48213344,
          "fps": 30,
          "attachment": [
            {"type": "PropertyValue", "name": "ffprobe_codec_type", "value": "audio"},
            {"type": "PropertyValue", "name": "ffprobe_codec_type", "value": "video"},
            {"type": "PropertyValue", "name": "peertube_format_flag", "value": "fragmented"}
          ]
        },
        {
          "type": "Link",
          "rel": ["metadata", "video/mp4"],
          "mediaType": "application/json",
          "href": "https://tube.example.org/api/v1/videos/5b2c1f1e-8a6d-4c3e-9e0b-2f4d6a8c0e1f/metadata/41",
          "height": 720,
          "width": 1280,
          "fps": 30
        },
        {
          "type": "Link",
          "mediaType": "application/x-bittorrent",
          "href": "https://tube.example.org/lazy-static/torrents/6e5f-720-hls.torrent",
          "height": 720,
          "width": 1280,
          "fps": 30
        },
        {
          "type": "Link",
          "mediaType": "application/x-bittorrent;x-scheme-handler/magnet",
          "href": "magnet:?xs=https%3A%2F%2Ftube.example.org%2Flazy-static%2Ftorrents%2F6e5f-720-hls.torrent&xt=urn:btih:c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3&dn=Cooking+pasta&tr=wss%3A%2F%2Ftube.example.org%3A443%2Ftracker%2Fsocket&tr=https%3A%2F%2Ftube.example.org%2Ftracker%2Fannounce&ws=https%3A%2F%2Ftube.example.org%2Fstatic%2Fstreaming-playlists%2Fhls%2F5b2c1f1e-8a6d-4c3e-9e0b-2f4d6a8c0e1f%2F1d3b-720-fragmented.mp4",
          "height": 720,
          "width": 1280,
          "fps": 30
        },
        {
          "type": "Link",
          "mediaType": "video/mp4",
          "href": "https://tube.example.org/static/streaming-playlists/hls/5b2c1f1e-8a6d-4c3e-9e0b-2f4d6a8c0e1f/8a9b-0-fragmented.mp4",
          "height": 0,
          "width": null,
          "size": 5821440,
          "fps": 0,
          "attachment": [
            {"type": "PropertyValue", "name": "ffprobe_codec_type", "value": "audio"},
            {"type": "PropertyValue", "name": "peertube_format_flag", "value": "fragmented"}
          ]
        },
        {
          "type": "Link",
          "rel": ["metadata", "video/mp4"],
          "mediaType": "application/json",
          "href": "https://tube.example.org/api/v1/videos/5b2c1f1e-8a6d-4c3e-9e0b-2f4d6a8c0e1f/metadata/42",
          "height": 0,
          "width": null,
          "fps": 0
        },
        {
          "type": "Link",
          "mediaType": "application/x-bittorrent",
          "href": "https://tube.example.org/lazy-static/torrents/3c4d-0-hls.torrent",
          "height": 0,
          "width": null,
          "fps": 0
        },
        {
          "type": "Link",
          "mediaType": "application/x-bittorrent;x-scheme-handler/magnet",
          "href": "magnet:?xs=https%3A%2F%2Ftube.example.org%2Flazy-static%2Ftorrents%2F3c4d-0-hls.torrent&xt=urn:btih:c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3&dn=Cooking+pasta&tr=wss%3A%2F%2Ftube.example.org%3A443%2Ftracker%2Fsocket&tr=https%3A%2F%2Ftube.example.org%2Ftracker%2Fannounce&ws=https%3A%2F%2Ftube.example.org%2Fstatic%2Fstreaming-playlists%2Fhls%2F5b2c1f1e-8a6d-4c3e-9e0b-2f4d6a8c0e1f%2F8a9b-0-fragmented.mp4",
          "height": 0,
          "width": null,
          "fps": 0
        }
      ]
    },
    {
      "type": "Link",
      "name": "tracker-http",
      "rel": ["tracker", "http"],
      "href": "https://tube.example.org/tracker/announce"
    },
    {
      "type": "Link",
      "name": "tracker-websocket",
      "rel": ["tracker", "websocket"],
      "href": "wss://tube.example.org:443/tracker/socket"
    }
  ],
  "likes": "https://tube.example.org/videos/watch/5b2c1f1e-8a6d-4c3e-9e0b-2f4d6a8c0e1f/likes",
  "dislikes": "https://tube.example.org/videos/watch/5b2c1f1e-8a6d-4c3e-9e0b-2f4d6a8c0e1f/dislikes",
  "shares": "https://tube.example.org/videos/watch/5b2c1f1e-8a6d-4c3e-9e0b-2f4d6a8c0e1f/announces",
  "comments": "https://tube.example.org/videos/watch/5b2c1f1e-8a6d-4c3e-9e0b-2f4d6a8c0e1f/comments",
  "hasParts": "https://tube.example.org/videos/watch/5b2c1f1e-8a6d-4c3e-9e0b-2f4d6a8c0e1f/chapters",
  "playerSettings": "https://tube.example.org/videos/watch/5b2c1f1e-8a6d-4c3e-9e0b-2f4d6a8c0e1f/player-settings",
  "attributedTo": [
    "https://tube.example.org/accounts/chef",
    "https://tube.example.org/video-channels/chef_kitchen"
  ],
  "isLiveBroadcast": false,
  "liveSaveReplay": null,
  "permanentLive": null,
  "latencyMode": null
}"#;

    fn peertube_fixture() -> Value {
        serde_json::from_str(PEERTUBE_VIDEO).expect("the fixture is JSON")
    }

    fn parse(doc: &Value) -> Result<RemoteVideo, VideoObjectError> {
        parse_video_object(doc, now())
    }

    fn edited(edit: impl FnOnce(&mut Map<String, Value>)) -> Value {
        let mut doc = peertube_fixture();
        if let Value::Object(map) = &mut doc {
            edit(map);
        }
        doc
    }

    /// The fixture's HLS playlist link, to edit.
    fn hls_of(map: &mut Map<String, Value>) -> &mut Value {
        &mut map["url"][2]
    }

    #[test]
    fn a_built_object_reads_back_as_the_same_video() {
        let v = local();
        let id = format!("{BASE}/videos/watch/{UUID}");
        let read = parse(&video_object(&v)).expect("our own object is accepted");
        let hls = hls_base();
        let remote_file = |resolution: u32, size: u64| {
            let f = file(resolution, 0, size);
            RemoteFile {
                resolution,
                fps: 30,
                size,
                file_url: f.url,
                torrent_url: f.torrent_url,
                magnet_uri: f.magnet_uri,
            }
        };
        let expected = RemoteVideo {
            url: id,
            uuid: uuid(),
            name: v.name.clone(),
            description: v.description.clone(),
            duration: 83,
            channel_url: v.channel_url.clone(),
            account_url: v.account_url.clone(),
            watch_url: format!("{BASE}/w/{}", short_uuid(&uuid())),
            thumbnail_url: Some(format!("{BASE}/lazy-static/previews/{UUID}.jpg")),
            privacy: 1,
            language: Some("fr".into()),
            category: Some(6),
            licence: Some(2),
            nsfw: false,
            comments_enabled: true,
            download_enabled: true,
            tags: vec!["river".into(), "walk".into()],
            views: 12,
            likes: 0,
            dislikes: 0,
            is_live: false,
            hls: Some(RemoteHls {
                playlist_url: format!("{hls}/master.m3u8"),
                segments_sha256_url: Some(format!("{hls}/segments-sha256.json")),
                infohashes: vec!["11".repeat(20), "22".repeat(20)],
                files: vec![remote_file(720, 2_000), remote_file(480, 1_000)],
            }),
            published_at: v.published_at,
            updated_at: v.updated_at,
            fetched_at: now(),
        };
        assert_eq!(read, expected);
    }

    #[test]
    fn the_built_object_has_peertube_8s_shape() {
        let doc = video_object(&local());
        let id = format!("{BASE}/videos/watch/{UUID}");
        assert_eq!(doc["type"], "Video");
        assert_eq!(doc["id"], id);
        assert_eq!(doc["uuid"], UUID);
        assert_eq!(doc["duration"], "PT83S");
        assert_eq!(doc["to"], json!([PUBLIC]));
        assert_eq!(
            doc["cc"],
            json!([format!("{BASE}/accounts/alice/followers")])
        );
        assert_eq!(
            doc["category"],
            json!({ "identifier": "6", "name": "Travels" })
        );
        assert_eq!(doc["licence"]["identifier"], "2");
        assert_eq!(
            doc["language"],
            json!({ "identifier": "fr", "name": "French" })
        );
        assert_eq!(doc["tag"][1], json!({ "type": "Hashtag", "name": "walk" }));
        assert_eq!(doc["published"], "2026-02-01T08:00:00.250Z");
        assert_eq!(doc["updated"], "2026-02-02T09:30:00.000Z");
        assert_eq!(doc["originallyPublishedAt"], Value::Null);
        assert_eq!(doc["mediaType"], "text/markdown");
        assert_eq!(doc["content"], "Filmed on a **Sunday**.");
        assert_eq!(doc["support"], "Thanks!");
        assert_eq!(doc["canReply"], Value::Null);
        assert_eq!(doc["commentsPolicy"], 1);
        assert_eq!(doc["isLiveBroadcast"], false);
        assert_eq!(doc["aspectRatio"], 1.7778);
        assert_eq!(doc["likes"], format!("{id}/likes"));
        assert_eq!(doc["shares"], format!("{id}/announces"));
        assert_eq!(doc["comments"], format!("{id}/comments"));
        assert_eq!(
            doc["attributedTo"],
            json!([
                format!("{BASE}/accounts/alice"),
                format!("{BASE}/video-channels/alice_channel")
            ])
        );
        assert_eq!(
            doc["icon"][0],
            json!({
                "type": "Image",
                "url": format!("{BASE}/lazy-static/thumbnails/{UUID}.jpg"),
                "mediaType": "image/jpeg",
                "width": 280,
                "height": 157,
            })
        );
        assert_eq!(doc["icon"][1]["width"], 850);

        let urls = doc["url"].as_array().expect("url list");
        let short = short_uuid(&uuid());
        assert_eq!(
            urls[0],
            json!({ "type": "Link", "mediaType": "text/html", "href": format!("{BASE}/w/{short}") })
        );
        assert_eq!(urls[1]["href"], id);
        let hls = &urls[2];
        assert_eq!(hls["mediaType"], "application/x-mpegURL");
        assert_eq!(hls["href"], format!("{}/master.m3u8", hls_base()));
        let tags = hls["tag"].as_array().expect("playlist tags");
        assert_eq!(
            tags[0],
            json!({ "type": "Infohash", "name": "11".repeat(20) })
        );
        assert_eq!(tags[2]["name"], "sha256");
        assert_eq!(
            tags[2]["href"],
            format!("{}/segments-sha256.json", hls_base())
        );
        // Highest rendition first, each followed by its torrent and magnet.
        let f720 = file(720, 1280, 2_000);
        assert_eq!(tags[3]["mediaType"], "video/mp4");
        assert_eq!(tags[3]["href"], f720.url);
        assert_eq!(tags[3]["height"], 720);
        assert_eq!(tags[3]["width"], 1280);
        assert_eq!(tags[3]["size"], 2_000);
        assert_eq!(tags[3]["fps"], 30);
        assert_eq!(tags[3]["attachment"][1]["value"], "video");
        assert_eq!(tags[3]["attachment"][2]["value"], "fragmented");
        assert_eq!(tags[4]["mediaType"], TORRENT_TYPE);
        assert_eq!(tags[4]["href"], json!(f720.torrent_url));
        assert_eq!(tags[5]["mediaType"], MAGNET_TYPE);
        assert_eq!(tags[5]["href"], json!(f720.magnet_uri));
        assert_eq!(tags[6]["height"], 480);
        assert_eq!(tags.len(), 9);
        assert_eq!(urls[3]["name"], "tracker-websocket");
        assert_eq!(urls[3]["rel"], json!(["tracker", "websocket"]));
        assert_eq!(urls[4]["name"], "tracker-http");
        assert_eq!(urls.len(), 5);
    }

    #[test]
    fn unset_fields_are_left_out_or_null_as_peertube_does() {
        let mut v = local();
        v.category = None;
        v.licence = None;
        v.language = None;
        v.description = None;
        v.comments_policy = 3;
        v.originally_published_at = Some(at("1999-12-31T23:59:59Z"));
        v.hls.as_mut().expect("hls").files[1].torrent_url = None;
        v.hls.as_mut().expect("hls").files[1].magnet_uri = None;
        let doc = video_object(&v);
        assert!(doc.get("category").is_none());
        assert!(doc.get("licence").is_none());
        assert!(doc.get("language").is_none());
        assert_eq!(doc["content"], Value::Null);
        assert_eq!(doc["canReply"], PUBLIC);
        assert_eq!(doc["originallyPublishedAt"], "1999-12-31T23:59:59.000Z");
        // The 720p file without a torrent yet: no torrent or magnet link for it.
        let tags = doc["url"][2]["tag"].as_array().expect("tags");
        assert_eq!(tags[4]["height"], 480);
        assert_eq!(tags.len(), 7);
    }

    #[test]
    fn privacy_maps_to_to_and_cc_and_back() {
        let mut v = local();
        v.audience = Audience::Unlisted;
        let doc = video_object(&v);
        assert_eq!(doc["to"], json!([]));
        assert_eq!(doc["cc"], json!([PUBLIC]));
        assert_eq!(parse(&doc).map(|r| r.privacy), Ok(2));
        let public = video_object(&local());
        assert_eq!(parse(&public).map(|r| r.privacy), Ok(1));

        let compact = edited(|m| {
            m.insert("to".into(), json!("as:Public"));
        });
        assert_eq!(parse(&compact).map(|r| r.privacy), Ok(1));
        let followers_only = edited(|m| {
            m.insert(
                "to".into(),
                json!(["https://tube.example.org/accounts/chef/followers"]),
            );
            m.insert("cc".into(), json!([]));
        });
        assert_eq!(parse(&followers_only), Err(VideoObjectError::NotPublic));
        let unaddressed = edited(|m| {
            m.remove("to");
            m.remove("cc");
        });
        assert_eq!(parse(&unaddressed), Err(VideoObjectError::NotPublic));
    }

    #[test]
    fn a_peertube_8_object_is_read() {
        let video = parse(&peertube_fixture()).expect("PeerTube's object is accepted");
        let hls = "https://tube.example.org/static/streaming-playlists/hls/5b2c1f1e-8a6d-4c3e-9e0b-2f4d6a8c0e1f";
        assert_eq!(
            video.url,
            "https://tube.example.org/videos/watch/5b2c1f1e-8a6d-4c3e-9e0b-2f4d6a8c0e1f"
        );
        assert_eq!(
            video.uuid.to_string(),
            "5b2c1f1e-8a6d-4c3e-9e0b-2f4d6a8c0e1f"
        );
        assert_eq!(video.name, "Cooking pasta");
        assert_eq!(video.duration, 754);
        assert_eq!(
            video.watch_url,
            "https://tube.example.org/w/cqV3xk3Zy8kSSLUwEwhQ3a"
        );
        assert_eq!(video.account_url, "https://tube.example.org/accounts/chef");
        assert_eq!(
            video.channel_url,
            "https://tube.example.org/video-channels/chef_kitchen"
        );
        assert_eq!(
            video.thumbnail_url.as_deref(),
            Some("https://tube.example.org/lazy-static/previews/7a3c.jpg")
        );
        assert_eq!(video.privacy, 1);
        assert_eq!(video.category, Some(18));
        assert_eq!(video.licence, Some(1));
        assert_eq!(video.language.as_deref(), Some("it"));
        assert_eq!(video.tags, vec!["pasta".to_string(), "cooking".to_string()]);
        assert_eq!(video.views, 1503);
        assert_eq!(
            video.description.as_deref(),
            Some("How I cook *pasta*, step by step.")
        );
        assert_eq!(video.published_at, at("2025-12-20T18:04:11.512Z"));
        assert_eq!(video.updated_at, at("2026-01-03T07:45:00.003Z"));
        assert_eq!(video.fetched_at, now());
        assert!(video.comments_enabled && video.download_enabled && !video.nsfw && !video.is_live);

        let playlist = video.hls.expect("HLS playlist");
        assert_eq!(playlist.playlist_url, format!("{hls}/2bd7e9a4-master.m3u8"));
        assert_eq!(
            playlist.segments_sha256_url,
            Some(format!("{hls}/0c2a-segments-sha256.json"))
        );
        assert_eq!(playlist.infohashes, vec!["4f".repeat(20), "5e".repeat(20)]);
        assert_eq!(playlist.files.len(), 2);
        let hd = &playlist.files[0];
        assert_eq!((hd.resolution, hd.fps, hd.size), (720, 30, 48_213_344));
        assert_eq!(hd.file_url, format!("{hls}/1d3b-720-fragmented.mp4"));
        assert_eq!(
            hd.torrent_url.as_deref(),
            Some("https://tube.example.org/lazy-static/torrents/6e5f-720-hls.torrent")
        );
        assert!(
            hd.magnet_uri
                .as_deref()
                .is_some_and(|m| m.contains("6e5f-720-hls.torrent"))
        );
        let audio = &playlist.files[1];
        assert_eq!((audio.resolution, audio.fps, audio.size), (0, 0, 5_821_440));
        assert!(
            audio
                .magnet_uri
                .as_deref()
                .is_some_and(|m| m.contains("3c4d-0-hls.torrent"))
        );
    }

    #[test]
    fn owners_given_as_typed_actors_are_read() {
        // PeerTube before 8 typed its owners, channel last.
        let doc = edited(|m| {
            m.insert(
                "attributedTo".into(),
                json!([
                    { "type": "Group", "id": "https://tube.example.org/video-channels/chef_kitchen" },
                    { "type": "Person", "id": "https://tube.example.org/accounts/chef" }
                ]),
            );
        });
        let video = parse(&doc).expect("accepted");
        assert_eq!(video.account_url, "https://tube.example.org/accounts/chef");
        assert_eq!(
            video.channel_url,
            "https://tube.example.org/video-channels/chef_kitchen"
        );
    }

    #[test]
    fn each_rule_refuses_what_breaks_it() {
        use VideoObjectError as E;
        type Edit = Box<dyn FnOnce(&mut Map<String, Value>)>;
        let remove = |key: &'static str| -> Edit {
            Box::new(move |m| {
                m.remove(key);
            })
        };
        let set = |key: &'static str, value: Value| -> Edit {
            Box::new(move |m| {
                m.insert(key.into(), value);
            })
        };
        let cases: Vec<(&str, Edit, E)> = vec![
            ("no type", remove("type"), E::NotAVideo),
            ("a Note", set("type", json!("Note")), E::NotAVideo),
            ("no id", remove("id"), E::Id),
            ("id not a URL", set("id", json!("video-42")), E::Id),
            (
                "id not http",
                set("id", json!("ftp://tube.example.org/v/1")),
                E::Id,
            ),
            (
                "id with a space",
                set("id", json!("https://tube.example.org/a b")),
                E::Id,
            ),
            ("no uuid", remove("uuid"), E::Uuid),
            ("uuid not a UUID", set("uuid", json!("5b2c1f1e")), E::Uuid),
            (
                "uuid without dashes",
                set("uuid", json!("5b2c1f1e8a6d4c3e9e0b2f4d6a8c0e1f")),
                E::Uuid,
            ),
            ("no name", remove("name"), E::Name),
            ("name too short", set("name", json!("ab")), E::Name),
            (
                "name too long",
                set("name", json!("n".repeat(121))),
                E::Name,
            ),
            ("name not text", set("name", json!(42)), E::Name),
            ("no duration", remove("duration"), E::Duration),
            (
                "duration in seconds",
                set("duration", json!(754)),
                E::Duration,
            ),
            (
                "duration without PT",
                set("duration", json!("754S")),
                E::Duration,
            ),
            (
                "duration in minutes",
                set("duration", json!("PT12M")),
                E::Duration,
            ),
            (
                "duration without number",
                set("duration", json!("PTS")),
                E::Duration,
            ),
            ("no published", remove("published"), E::Published),
            (
                "published not a date",
                set("published", json!("yesterday")),
                E::Published,
            ),
            ("no updated", remove("updated"), E::Updated),
            (
                "updated not a date",
                set("updated", json!(1_700_000_000)),
                E::Updated,
            ),
            (
                "originallyPublishedAt not a date",
                set("originallyPublishedAt", json!("1999")),
                E::OriginallyPublishedAt,
            ),
            (
                "uploadDate not a date",
                set("uploadDate", json!("soon")),
                E::UploadDate,
            ),
            ("no views", remove("views"), E::Views),
            ("negative views", set("views", json!(-1)), E::Views),
            (
                "category not a number",
                set("category", json!({ "identifier": "food", "name": "Food" })),
                E::Category,
            ),
            (
                "category without identifier",
                set("category", json!({ "name": "Food" })),
                E::Category,
            ),
            (
                "negative licence",
                set("licence", json!({ "identifier": "-1", "name": "?" })),
                E::Licence,
            ),
            (
                "licence without identifier",
                set("licence", json!({ "name": "?" })),
                E::Licence,
            ),
            (
                "language not text",
                set("language", json!({ "identifier": 5, "name": "?" })),
                E::Language,
            ),
            ("content too short", set("content", json!("ok")), E::Content),
            ("content empty", set("content", json!("")), E::Content),
            (
                "content of another type",
                set("mediaType", json!("text/plain")),
                E::Content,
            ),
            (
                "content not text",
                set("content", json!(["How I cook"])),
                E::Content,
            ),
            (
                "audience not a URL",
                set("audience", json!("followers")),
                E::Audience,
            ),
            (
                "embedUrl not a URL",
                set("embedUrl", json!("embed me")),
                E::EmbedUrl,
            ),
            ("no url", remove("url"), E::Urls),
            (
                "url not a list",
                set("url", json!("https://tube.example.org/w/x")),
                E::Urls,
            ),
            ("no icon", remove("icon"), E::Icons),
            (
                "icons of no image type",
                set(
                    "icon",
                    json!([{ "type": "Image", "url": "https://tube.example.org/t.svg", "mediaType": "image/svg+xml", "width": 560, "height": 315 }]),
                ),
                E::Icons,
            ),
            (
                "icon without size",
                set(
                    "icon",
                    json!({ "type": "Image", "url": "https://tube.example.org/t.jpg", "mediaType": "image/jpeg" }),
                ),
                E::Icons,
            ),
            (
                "captions not a list",
                set("subtitleLanguage", json!("it")),
                E::Captions,
            ),
            (
                "storyboard not a list",
                set("preview", json!({ "type": "Image" })),
                E::Storyboard,
            ),
            ("no attributedTo", remove("attributedTo"), E::AttributedTo),
            (
                "attributedTo of no actor",
                set(
                    "attributedTo",
                    json!([{ "type": "Note", "id": "https://tube.example.org/n/1" }, "not a url"]),
                ),
                E::AttributedTo,
            ),
            (
                "channel on another host",
                set(
                    "attributedTo",
                    json!([
                        "https://tube.example.org/accounts/chef",
                        "https://elsewhere.example/video-channels/chef_kitchen"
                    ]),
                ),
                E::Channel,
            ),
            (
                "only a channel",
                set(
                    "attributedTo",
                    json!([{ "type": "Group", "id": "https://tube.example.org/video-channels/chef_kitchen" }]),
                ),
                E::Account,
            ),
            (
                "no text/html link",
                Box::new(|m| {
                    if let Some(urls) = m["url"].as_array_mut() {
                        urls.retain(|u| u["mediaType"] != "text/html");
                    }
                }),
                E::WatchPage,
            ),
            (
                "nothing to play",
                Box::new(|m| {
                    if let Some(urls) = m["url"].as_array_mut() {
                        urls.retain(|u| u["mediaType"] == "text/html");
                    }
                }),
                E::NotPlayable,
            ),
            (
                "playlist without tags",
                Box::new(|m| {
                    if let Some(playlist) = hls_of(m).as_object_mut() {
                        playlist.remove("tag");
                    }
                }),
                E::NotPlayable,
            ),
            (
                "magnet without infohash",
                Box::new(|m| hls_of(m)["tag"][6]["href"] = json!("magnet:?xt=urn:btih:abc&dn=x")),
                E::Magnet,
            ),
            (
                "not addressed to the public",
                set("to", json!([])),
                E::NotPublic,
            ),
        ];
        for (case, edit, error) in cases {
            assert_eq!(parse(&edited(edit)), Err(error), "{case}");
        }
    }

    #[test]
    fn what_peertube_drops_or_defaults_is_dropped_or_defaulted() {
        let doc = edited(|m| {
            m.insert(
                "tag".into(),
                json!([
                    { "type": "Hashtag", "name": "x" },
                    { "type": "Hashtag", "name": "t".repeat(31) },
                    { "type": "Hashtag", "name": "kept" },
                    { "type": "Mention", "name": "@chef" },
                    { "type": "SensitiveTag", "name": "violence" }
                ]),
            );
            m.insert("sensitive".into(), json!("yes"));
            m.remove("downloadEnabled");
            m.remove("commentsPolicy");
            m.insert(
                "licence".into(),
                json!({ "identifier": "CC-BY-SA-4.0", "name": "?" }),
            );
            m.insert("category".into(), Value::Null);
            m.insert("content".into(), json!("é".repeat(10_050)));
            m.insert(
                "icon".into(),
                json!({ "type": "Image", "url": "https://cdn.example.net/t.webp", "mediaType": "image/webp", "width": "560", "height": "315" }),
            );
            // A broken rendition among the good ones is dropped, not the video.
            if let Some(tags) = hls_of(m)["tag"].as_array_mut() {
                tags.push(json!({ "type": "Link", "mediaType": "video/mp4", "href": "not a url", "height": 1080, "size": 1 }));
            }
        });
        let video = parse(&doc).expect("accepted");
        assert_eq!(video.tags, vec!["kept".to_string()]);
        assert!(!video.nsfw);
        assert!(video.download_enabled);
        assert!(!video.comments_enabled);
        assert_eq!(video.licence, Some(2));
        assert_eq!(video.category, None);
        assert_eq!(
            video.thumbnail_url.as_deref(),
            Some("https://cdn.example.net/t.webp")
        );
        let description = video.description.expect("description");
        assert_eq!(description.chars().count(), 10_000);
        assert!(description.ends_with("é..."));
        assert_eq!(video.hls.map(|h| h.files.len()), Some(2));

        let unknown_licence = edited(|m| {
            m.insert(
                "licence".into(),
                json!({ "identifier": "WTFPL", "name": "?" }),
            );
            m.insert("commentsPolicy".into(), json!(3));
        });
        let video = parse(&unknown_licence).expect("accepted");
        assert_eq!(video.licence, None);
        assert!(video.comments_enabled);
    }

    #[test]
    fn a_web_video_or_a_live_broadcast_needs_no_playlist() {
        let web_video = edited(|m| {
            m["url"][2] = json!({
                "type": "Link",
                "mediaType": "video/mp4",
                "href": "https://tube.example.org/static/web-videos/5b2c-720.mp4",
                "height": 720,
                "size": 48213344,
                "fps": 30
            });
        });
        let video = parse(&web_video).expect("a web video is playable");
        assert_eq!(video.hls, None);

        let live = edited(|m| {
            m.insert("isLiveBroadcast".into(), json!(true));
            if let Some(urls) = m["url"].as_array_mut() {
                urls.truncate(2);
            }
        });
        assert_eq!(parse(&live).map(|v| v.is_live), Ok(true));
    }

    #[test]
    fn durations_are_read_as_activitystreams_writes_them() {
        for (text, seconds) in [
            ("PT0S", Some(0)),
            ("PT754S", Some(754)),
            ("PT1H2M3S", Some(3723)),
            ("PT2M0S", Some(120)),
            ("PT1.5S", Some(1)),
            ("PT", None),
            ("PTS", None),
            ("PT-5S", None),
            ("PT1M2HS", None),
            ("PT5.S", None),
            ("P1DT2S", None),
            ("PT12M", None),
            ("754", None),
            ("PT99999999999999999999S", None),
        ] {
            assert_eq!(parse_duration(text), seconds, "{text}");
        }
    }

    #[test]
    fn hosts_compare_as_peertube_compares_them() {
        assert!(same_host(
            "https://Tube.Example.org/a",
            "https://tube.example.org:443/b"
        ));
        assert!(same_host(
            "http://127.0.0.1:9001/v",
            "http://127.0.0.1:9001/accounts/a"
        ));
        assert!(!same_host(
            "http://127.0.0.1:9001/v",
            "http://127.0.0.1:9002/v"
        ));
        assert!(!same_host(
            "https://tube.example.org/a",
            "https://evil.example/a"
        ));
        assert!(!same_host(
            "https://evil.example@tube.example.org/",
            "https://evil.example/"
        ));
        assert!(!same_host("not a url", "not a url"));
    }

    #[test]
    fn the_context_has_peertubes_video_terms() {
        let context = video_context();
        assert_eq!(context[0], "https://www.w3.org/ns/activitystreams");
        assert_eq!(
            context[2]["RsaSignature2017"],
            "https://w3id.org/security#RsaSignature2017"
        );
        let terms = &context[3];
        assert_eq!(terms["pt"], "https://joinpeertube.org/ns#");
        assert_eq!(terms["Infohash"], "pt:Infohash");
        assert_eq!(terms["uuid"]["@id"], "pt:uuid");
        assert_eq!(terms["commentsPolicy"]["@type"], "sc:Number");
        assert_eq!(terms["likes"]["@type"], "@id");
        assert_eq!(peertube_fixture()["@context"], context);
    }
}
