//! Videos received by federation, as PeerTube's API shows the videos of followed instances:
//! their metadata from the catalog, their files, torrents and swarm at their origin.
//!
//! Nothing of a remote video is cached here yet, so every media URL is the origin's own:
//! players fetch the origin's playlist and join the origin's swarm.

use peerbox_catalog::{Privacy, RemoteActor, RemoteFile, RemoteVideo, VideoRef, short_uuid};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::AppState;
use crate::error::ApiResult;
use crate::format::{date, labelled, merge, truncated};
use crate::validate::{CATEGORIES, COMMENTS_POLICIES, LANGUAGES, LICENCES};

/// Numeric ids of remote videos and actors lie in `[2^52, 2^53)`: far above the counters
/// of local rows, and still integers JavaScript clients read exactly. PeerTube clients name
/// videos by UUID; the number only has to be stable and not look like a local video's.
const REMOTE_ID_BASE: u64 = 1 << 52;

/// A remote video's numeric id: the low 52 bits of its UUID (random in a v4 UUID) above
/// `REMOTE_ID_BASE`.
pub(crate) fn remote_video_id(uuid: &Uuid) -> u64 {
    REMOTE_ID_BASE | (uuid.as_u128() as u64 & (REMOTE_ID_BASE - 1))
}

/// A remote actor's numeric id, from a hash of its ActivityPub id.
pub fn remote_actor_id(url: &str) -> u64 {
    let digest = Sha256::digest(url.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    REMOTE_ID_BASE | (u64::from_be_bytes(first) & (REMOTE_ID_BASE - 1))
}

/// Scheme and `host[:port]` of an absolute URL.
fn origin_of(url: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    (!scheme.is_empty() && !host.is_empty()).then_some((scheme, host))
}

/// The path (and query) of an absolute URL.
fn path_of(url: &str) -> Option<&str> {
    let (scheme, host) = origin_of(url)?;
    let start = scheme.len() + "://".len() + host.len();
    Some(match url.get(start..)? {
        "" => "/",
        path => path,
    })
}

/// The origin's tracker, WebSocket first as for local videos: PeerTube runs it at the same
/// paths on every instance.
fn origin_trackers(v: &RemoteVideo) -> Vec<String> {
    let Some((scheme, host)) = origin_of(&v.url) else {
        return Vec::new();
    };
    let ws = if scheme == "http" { "ws" } else { "wss" };
    vec![
        format!("{ws}://{host}/tracker/socket"),
        format!("{scheme}://{host}/tracker/announce"),
    ]
}

fn privacy_json(id: u8) -> Value {
    match Privacy::ALL.into_iter().find(|p| p.id() == id) {
        Some(p) => json!({ "id": id, "label": p.label() }),
        None => json!({ "id": id, "label": "Unknown" }),
    }
}

/// An image hosted by the origin. PeerTube gives a path under its own `/lazy-static` cache
/// and the absolute URL; with no cache here the path is the origin's, so clients that use
/// `fileUrl` (PeerTube's own) show it and the others miss the image as they would with none.
fn origin_image(url: &str, actor: &RemoteActor) -> Value {
    json!({
        "width": null,
        "height": null,
        "path": path_of(url),
        "fileUrl": url,
        "createdAt": date(&actor.fetched_at),
        "updatedAt": date(&actor.fetched_at),
    })
}

impl AppState {
    /// The stored actor at `url`; a read failure is logged and shown as an unknown actor,
    /// since a video without its owner is still worth listing.
    fn stored_remote_actor(&self, url: &str) -> Option<RemoteActor> {
        self.catalog.remote_actor(url).unwrap_or_else(|e| {
            tracing::warn!("reading remote actor {url}: {e}");
            None
        })
    }

    /// PeerTube's account or channel summary of a remote actor. An actor not fetched yet is
    /// named after the last segment of its URL, as PeerTube's URLs end with the name.
    fn remote_actor_summary(&self, url: &str, actor: Option<&RemoteActor>) -> Value {
        let Some(a) = actor else {
            let name = url.trim_end_matches('/').rsplit('/').next().unwrap_or(url);
            return json!({
                "id": remote_actor_id(url),
                "name": name,
                "displayName": name,
                "url": url,
                "host": origin_of(url).map(|(_, host)| host),
                "avatars": [],
            });
        };
        let avatars: Vec<Value> = a.avatar_url.iter().map(|u| origin_image(u, a)).collect();
        json!({
            "id": remote_actor_id(&a.url),
            "name": a.preferred_username,
            "displayName": a.name,
            "url": a.url,
            "host": a.host,
            "avatars": avatars,
        })
    }

    /// The full account or channel of a remote actor, as video details show them.
    pub(crate) fn remote_actor_json(&self, url: &str) -> Value {
        let actor = self.stored_remote_actor(url);
        let mut json = self.remote_actor_summary(url, actor.as_ref());
        let fetched = actor.as_ref().map(|a| date(&a.fetched_at));
        merge(
            &mut json,
            json!({
                "description": actor.as_ref().and_then(|a| a.summary.clone()),
                "isLocal": false,
                "followingCount": 0,
                "followersCount": 0,
                "createdAt": fetched,
                "updatedAt": fetched,
                "banners": [],
            }),
        );
        json
    }

    /// The remote video a path names: by UUID or shortUUID, or by the number
    /// `remote_video_json` gives it (a public video only, as numbers can be guessed).
    pub(crate) fn remote_video_named(&self, r: VideoRef) -> ApiResult<Option<RemoteVideo>> {
        match r {
            VideoRef::Uuid(uuid) => Ok(self.catalog.remote_video_by_uuid(uuid)?),
            VideoRef::Id(id) if id >= REMOTE_ID_BASE => {
                let (all, _) = self.catalog.remote_videos(0, usize::MAX)?;
                Ok(all
                    .into_iter()
                    .find(|v| v.privacy == Privacy::Public.id() && remote_video_id(&v.uuid) == id))
            }
            VideoRef::Id(_) => Ok(None),
        }
    }
}

/// A remote video as PeerTube's lists show it (`isLocal: false`, `url` its ActivityPub id).
///
/// Thumbnails: PeerTube gives a `/lazy-static/thumbnails/...` path served from its cache of
/// the origin's image. Nothing is cached here, so `thumbnailPath` is the path of the
/// origin's image and `thumbnailUrl` its absolute URL: PeerTube's web client shows
/// `thumbnailUrl` when given (it ignores it when the path is null, hence no null path);
/// clients that prefix the path with this node's address get a missing image, as they
/// would with no thumbnail. The preview (the player's poster) is the same image, the only
/// one a federated video names here.
pub fn remote_video_json(state: &AppState, v: &RemoteVideo) -> Value {
    let short = short_uuid(&v.uuid);
    let thumbnail = v.thumbnail_url.as_deref();
    let thumbnail_path = thumbnail.and_then(path_of);
    let embed_url =
        origin_of(&v.url).map(|(scheme, host)| format!("{scheme}://{host}/videos/embed/{short}"));
    let account = state.stored_remote_actor(&v.account_url);
    let channel = state.stored_remote_actor(&v.channel_url);
    json!({
        "id": remote_video_id(&v.uuid),
        "uuid": v.uuid,
        "shortUUID": short,
        "url": v.url,
        "name": v.name,
        "category": labelled(CATEGORIES, v.category),
        "licence": labelled(LICENCES, v.licence),
        "language": labelled(LANGUAGES, v.language.as_deref()),
        "privacy": privacy_json(v.privacy),
        "nsfw": v.nsfw,
        "nsfwFlags": 0,
        "nsfwSummary": null,
        "truncatedDescription": truncated(&v.description),
        "description": truncated(&v.description),
        "isLocal": false,
        "duration": v.duration,
        "aspectRatio": null,
        "views": v.views,
        "viewers": 0,
        "likes": v.likes,
        "dislikes": v.dislikes,
        "thumbnailPath": thumbnail_path,
        "thumbnailUrl": thumbnail,
        "previewPath": thumbnail_path,
        "previewUrl": thumbnail,
        "thumbnails": [],
        // This node's embed page knows only local videos; the origin's plays it.
        "embedPath": format!("/videos/embed/{short}"),
        "embedUrl": embed_url,
        // PeerTube dates a remote video's creation by its publication.
        "createdAt": date(&v.published_at),
        "updatedAt": date(&v.updated_at),
        "publishedAt": date(&v.published_at),
        "originallyPublishedAt": null,
        "isLive": v.is_live,
        "state": { "id": 1, "label": "Published" },
        "waitTranscoding": false,
        "blacklisted": false,
        "account": state.remote_actor_summary(&v.account_url, account.as_ref()),
        "channel": state.remote_actor_summary(&v.channel_url, channel.as_ref()),
    })
}

/// A remote video with everything PeerTube's VideoDetails has: its HLS playlist and files
/// exactly at the origin's URLs, so that the player joins the origin's swarm.
pub(crate) fn remote_video_details_json(state: &AppState, v: &RemoteVideo) -> Value {
    let mut json = remote_video_json(state, v);
    let comments_policy = if v.comments_enabled { 1 } else { 2 };
    let mut channel = state.remote_actor_json(&v.channel_url);
    merge(
        &mut channel,
        json!({
            "support": null,
            "ownerAccount": state.remote_actor_json(&v.account_url),
        }),
    );
    merge(
        &mut json,
        json!({
            "description": v.description,
            "support": null,
            "tags": v.tags,
            "commentsPolicy": labelled(COMMENTS_POLICIES, Some(comments_policy)),
            "commentsEnabled": v.comments_enabled,
            "downloadEnabled": v.download_enabled,
            "inputFileUpdatedAt": null,
            "trackerUrls": origin_trackers(v),
            "files": [],
            "streamingPlaylists": streaming_playlists(v),
            "account": state.remote_actor_json(&v.account_url),
            "channel": channel,
        }),
    );
    json
}

fn streaming_playlists(v: &RemoteVideo) -> Value {
    let Some(hls) = &v.hls else {
        return json!([]);
    };
    let id = remote_video_id(&v.uuid);
    // Highest resolution first, as PeerTube lists files.
    let mut files: Vec<&RemoteFile> = hls.files.iter().collect();
    files.sort_by_key(|f| std::cmp::Reverse(f.resolution));
    let files: Vec<Value> = files
        .into_iter()
        .enumerate()
        .map(|(i, f)| remote_file_json(v, f, id + 1 + i as u64))
        .collect();
    json!([{
        "id": id,
        "type": 1,
        "playlistUrl": hls.playlist_url,
        "segmentsSha256Url": hls.segments_sha256_url,
        "redundancies": [],
        "files": files,
    }])
}

/// One HLS file of a remote video. `id` only tells the files of one video apart.
fn remote_file_json(v: &RemoteVideo, f: &RemoteFile, id: u64) -> Value {
    let label = match f.resolution {
        0 => "Audio only".to_string(),
        r => format!("{r}p"),
    };
    // The origin's download route serves the file under its own name.
    let download =
        origin_of(&v.url)
            .zip(f.file_url.rsplit('/').next())
            .map(|((scheme, host), name)| {
                format!("{scheme}://{host}/download/streaming-playlists/hls/videos/{name}")
            });
    json!({
        "id": id,
        "resolution": { "id": f.resolution, "label": label },
        "width": null,
        "height": null,
        "size": f.size,
        "fps": f.fps,
        "fileUrl": f.file_url,
        "fileDownloadUrl": download,
        "playlistUrl": f.file_url.strip_suffix("-fragmented.mp4").map(|stem| format!("{stem}.m3u8")),
        "metadataUrl": null,
        "hasAudio": true,
        "hasVideo": f.resolution != 0,
        "storage": null,
        "magnetUri": f.magnet_uri,
        // PeerTube proxies remote torrents; with no proxy here, the origin serves them.
        "torrentUrl": f.torrent_url,
        "torrentDownloadUrl": f.torrent_url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_ids_are_stable_safe_integers_above_local_ones() {
        let uuid = Uuid::parse_str("9c9de5e8-0a1e-484a-b099-e80766180a6d").expect("uuid");
        let id = remote_video_id(&uuid);
        assert_eq!(id, remote_video_id(&uuid));
        assert!(id >= REMOTE_ID_BASE);
        assert!(id < (1 << 53), "beyond JavaScript's exact integers");
        let actor = remote_actor_id("https://tube.example/accounts/alice");
        assert!((REMOTE_ID_BASE..1 << 53).contains(&actor));
        assert_ne!(actor, remote_actor_id("https://tube.example/accounts/bob"));
    }

    #[test]
    fn origins_and_paths() {
        assert_eq!(
            origin_of("https://tube.example:8443/videos/watch/x"),
            Some(("https", "tube.example:8443"))
        );
        assert_eq!(origin_of("tube.example/x"), None);
        assert_eq!(
            path_of("https://tube.example/lazy-static/thumbnails/a.jpg"),
            Some("/lazy-static/thumbnails/a.jpg")
        );
        assert_eq!(path_of("https://tube.example"), Some("/"));
    }
}
