//! JSON shapes of PeerTube's API: videos, accounts, channels, users.

use chrono::{DateTime, SecondsFormat, Utc};
use peerbox_catalog::{Account, Channel, HlsFile, Privacy, User, Video};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiResult;
use crate::validate::{CATEGORIES, COMMENTS_POLICIES, LANGUAGES, LICENCES, label_of};

pub fn date(d: &DateTime<Utc>) -> String {
    d.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn labelled<K: PartialEq + Copy + serde::Serialize>(
    list: &[(K, &'static str)],
    key: Option<K>,
) -> Value {
    match key.and_then(|k| label_of(list, k).map(|l| (k, l))) {
        Some((k, l)) => json!({ "id": k, "label": l }),
        None => json!({ "id": null, "label": "Unknown" }),
    }
}

/// PeerTube truncates descriptions in lists to 250 characters.
pub(crate) fn truncated(description: &Option<String>) -> Value {
    match description {
        Some(d) if d.chars().count() > 250 => {
            json!(format!("{}...", d.chars().take(247).collect::<String>()))
        }
        Some(d) => json!(d),
        None => Value::Null,
    }
}

/// The file name shared by a video's source file, its web path and its torrent.
pub fn source_stem(video: &Video) -> String {
    format!("{}-0", video.uuid)
}

/// PeerTube's name for the torrent of an HLS fragmented MP4.
pub fn hls_torrent_name(video: &Video, file: &HlsFile) -> String {
    format!("{}-{}-hls.torrent", video.uuid, file.resolution)
}

impl AppState {
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.settings.public_url(), path)
    }

    fn host(&self) -> &str {
        self.settings.public_host()
    }

    pub fn account_summary(&self, a: &Account) -> Value {
        json!({
            "id": a.id,
            "name": a.name,
            "displayName": a.display_name,
            "url": self.url(&format!("/accounts/{}", a.name)),
            "host": self.host(),
            "avatars": [],
        })
    }

    pub fn account_json(&self, a: &Account) -> Value {
        let mut v = self.account_summary(a);
        let extra = json!({
            "userId": a.user_id,
            "description": a.description,
            "followingCount": 0,
            "followersCount": 0,
            "createdAt": date(&a.created_at),
            "updatedAt": date(&a.updated_at),
            "banners": [],
        });
        merge(&mut v, extra);
        v
    }

    pub fn channel_summary(&self, c: &Channel) -> Value {
        json!({
            "id": c.id,
            "name": c.name,
            "displayName": c.display_name,
            "url": self.url(&format!("/video-channels/{}", c.name)),
            "host": self.host(),
            "avatars": [],
        })
    }

    pub fn channel_json(&self, c: &Channel) -> ApiResult<Value> {
        let owner = self.catalog.account(c.account_id)?;
        let mut v = self.channel_summary(c);
        merge(
            &mut v,
            json!({
                "description": c.description,
                "support": c.support,
                "isLocal": true,
                "ownerAccount": owner.map(|a| self.account_json(&a)),
                "followingCount": 0,
                "followersCount": 0,
                "createdAt": date(&c.created_at),
                "updatedAt": date(&c.updated_at),
                "banners": [],
            }),
        );
        Ok(v)
    }

    pub fn user_json(&self, u: &User) -> ApiResult<Value> {
        let account = self.catalog.account(u.account_id)?;
        let channels = self
            .catalog
            .channels_of_account(u.account_id)?
            .iter()
            .map(|c| self.channel_json(c))
            .collect::<ApiResult<Vec<_>>>()?;
        Ok(json!({
            "id": u.id,
            "username": u.username,
            "email": u.email,
            "emailVerified": true,
            "role": { "id": u.role.id(), "label": u.role.label() },
            "videoQuota": u.video_quota,
            "videoQuotaDaily": u.video_quota_daily,
            "account": account.map(|a| self.account_json(&a)),
            "videoChannels": channels,
            "nsfwPolicy": "display",
            "p2pEnabled": true,
            "autoPlayVideo": true,
            "videosHistoryEnabled": true,
            "blocked": false,
            "blockedReason": null,
            "adminFlags": 0,
            "pluginAuth": null,
            "theme": "instance-default",
            "twoFactorEnabled": false,
            "createdAt": date(&u.created_at),
        }))
    }

    /// The source file as PeerTube lists a web video file. Its torrent fields stay null until
    /// the torrent is written (PeerTube clients poll for `torrentUrl` after an upload).
    fn source_files(&self, video: &Video) -> Value {
        let Some(source) = &video.source else {
            return json!([]);
        };
        let stem = source_stem(video);
        let name = format!("{stem}{}", source.extension);
        let private = !matches!(
            video.attributes.privacy,
            Privacy::Public | Privacy::Unlisted
        );
        let file_url = if private {
            self.url(&format!("/static/web-videos/private/{name}"))
        } else {
            self.url(&format!("/static/web-videos/{name}"))
        };
        let torrent = self.torrent_fields(
            video,
            &format!("{stem}.torrent"),
            source.info_hash.as_deref(),
            &file_url,
        );
        let mut json = json!({
            "id": video.id,
            "resolution": { "id": 0, "label": "Source" },
            "size": source.size,
            "fps": -1,
            "width": null,
            "height": null,
            "fileUrl": file_url,
            "fileDownloadUrl": self.url(&format!("/download/web-videos/{name}")),
            "metadataUrl": null,
            "hasAudio": null,
            "hasVideo": null,
            "storage": 0,
        });
        merge(&mut json, torrent);
        json!([json])
    }

    /// `torrentUrl`, `torrentDownloadUrl` and `magnetUri` of a file, null until its torrent
    /// is written (PeerTube clients poll for `torrentUrl` after an upload). The magnet names
    /// the file as a web seed unless only signed-in viewers may fetch it, as PeerTube does.
    fn torrent_fields(
        &self,
        video: &Video,
        torrent_name: &str,
        info_hash: Option<&str>,
        file_url: &str,
    ) -> Value {
        let info_hash = info_hash.and_then(|h| <[u8; 20]>::try_from(hex::decode(h).ok()?).ok());
        let Some(info_hash) = info_hash else {
            return json!({ "magnetUri": null, "torrentUrl": null, "torrentDownloadUrl": null });
        };
        let torrent_url = self.url(&format!("/lazy-static/torrents/{torrent_name}"));
        let web_seeds = match is_private_media(video) {
            true => Vec::new(),
            false => vec![file_url.to_string()],
        };
        let magnet = peerbox_p2p::magnet_uri(
            &torrent_url,
            &info_hash,
            &video.attributes.name,
            &self.torrent_trackers(),
            &web_seeds,
        );
        json!({
            "magnetUri": magnet,
            "torrentUrl": torrent_url,
            "torrentDownloadUrl": self.url(&format!("/download/torrents/{torrent_name}")),
        })
    }

    /// Where a video's HLS files are served: private ones under `private/`, as in PeerTube.
    pub fn hls_base_url(&self, video: &Video) -> String {
        let private = if is_private_media(video) {
            "private/"
        } else {
            ""
        };
        self.url(&format!(
            "/static/streaming-playlists/hls/{private}{}",
            video.uuid
        ))
    }

    fn streaming_playlists(&self, video: &Video) -> Value {
        let Some(outputs) = &video.outputs else {
            return json!([]);
        };
        let base = self.hls_base_url(video);
        let files: Vec<Value> = outputs
            .hls
            .files
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let label = if f.resolution == 0 { "Audio only".to_string() } else { format!("{}p", f.resolution) };
                let file_url = format!("{base}/{}", f.fragmented);
                let torrent = self.torrent_fields(video, &hls_torrent_name(video, f), f.info_hash.as_deref(), &file_url);
                let mut json = json!({
                    "id": video.id * 100 + i as u64,
                    "resolution": { "id": f.resolution, "label": label },
                    "width": f.width,
                    "height": f.height,
                    "size": f.size,
                    "fps": f.fps,
                    "fileUrl": file_url,
                    "fileDownloadUrl": self.url(&format!("/download/streaming-playlists/hls/videos/{}", f.fragmented)),
                    "playlistUrl": format!("{base}/{}", f.playlist),
                    "metadataUrl": null,
                    "hasAudio": true,
                    "hasVideo": f.resolution != 0,
                    "storage": 0,
                });
                merge(&mut json, torrent);
                json
            })
            .collect();
        json!([{
            "id": video.id,
            "type": 1,
            "playlistUrl": format!("{base}/{}", outputs.hls.master),
            "segmentsSha256Url": format!("{base}/{}", outputs.hls.segments_sha256),
            "redundancies": [],
            "files": files,
        }])
    }

    /// The owner's chosen thumbnail, or the one made from the video.
    fn thumbnail_name(&self, v: &Video) -> Option<String> {
        let custom = self.catalog.custom_thumbnail(v.uuid).ok().flatten();
        custom.or_else(|| v.outputs.as_ref().and_then(|o| o.thumbnail.clone()))
    }

    /// A video as PeerTube's lists show it.
    pub fn video_json(&self, v: &Video) -> ApiResult<Value> {
        let channel = self.catalog.channel(v.attributes.channel_id)?;
        let account = match &channel {
            Some(c) => self.catalog.account(c.account_id)?,
            None => None,
        };
        let a = &v.attributes;
        Ok(json!({
            "id": v.id,
            "uuid": v.uuid,
            "shortUUID": v.short_uuid(),
            "url": self.url(&format!("/videos/watch/{}", v.uuid)),
            "name": a.name,
            "category": labelled(CATEGORIES, a.category),
            "licence": labelled(LICENCES, a.licence),
            "language": labelled(LANGUAGES, a.language.as_deref()),
            "privacy": { "id": a.privacy.id(), "label": a.privacy.label() },
            "nsfw": a.nsfw,
            "nsfwFlags": 0,
            "nsfwSummary": null,
            "truncatedDescription": truncated(&a.description),
            "description": truncated(&a.description),
            "isLocal": true,
            "duration": v.duration,
            "aspectRatio": null,
            "views": v.views,
            "viewers": 0,
            "likes": v.likes,
            "dislikes": v.dislikes,
            "thumbnailPath": self.thumbnail_name(v).map(|t| format!("/lazy-static/thumbnails/{t}")),
            "previewPath": v.outputs.as_ref().and_then(|o| o.preview.as_ref()).map(|p| format!("/lazy-static/previews/{p}")),
            "thumbnails": [],
            "embedPath": format!("/videos/embed/{}", v.short_uuid()),
            "createdAt": date(&v.created_at),
            "updatedAt": date(&v.updated_at),
            "publishedAt": date(&v.published_at),
            "originallyPublishedAt": a.originally_published_at.as_ref().map(date),
            "isLive": false,
            "state": { "id": v.state.id(), "label": v.state.label() },
            "waitTranscoding": a.wait_transcoding,
            "blacklisted": false,
            "account": account.map(|a| self.account_summary(&a)),
            "channel": channel.map(|c| self.channel_summary(&c)),
        }))
    }

    /// A single video with everything PeerTube's VideoDetails has.
    pub fn video_details_json(&self, v: &Video) -> ApiResult<Value> {
        let mut json = self.video_json(v)?;
        let channel = self.catalog.channel(v.attributes.channel_id)?;
        let account = match &channel {
            Some(c) => self.catalog.account(c.account_id)?,
            None => None,
        };
        let a = &v.attributes;
        merge(
            &mut json,
            json!({
                "description": a.description,
                "support": a.support,
                "tags": a.tags,
                "commentsPolicy": labelled(COMMENTS_POLICIES, Some(a.comments_policy)),
                "commentsEnabled": a.comments_policy != 2,
                "downloadEnabled": a.download_enabled,
                "inputFileUpdatedAt": null,
                "trackerUrls": self.torrent_trackers(),
                "files": self.source_files(v),
                "streamingPlaylists": self.streaming_playlists(v),
                "account": account.map(|a| self.account_json(&a)),
                "channel": match channel { Some(c) => Some(self.channel_json(&c)?), None => None },
            }),
        );
        Ok(json)
    }
}

/// Files of videos that need a signed-in or password-holding viewer live under `private/`.
pub(crate) fn is_private_media(video: &Video) -> bool {
    !matches!(
        video.attributes.privacy,
        Privacy::Public | Privacy::Unlisted
    )
}

/// Adds what only a video's owner (or an administrator) is shown: why processing failed
/// (not a PeerTube field; PeerTube shows only the state).
pub fn add_owner_fields(json: &mut Value, video: &Video) {
    if let Some(error) = &video.error {
        merge(json, json!({ "processingError": error }));
    }
}

pub(crate) fn merge(into: &mut Value, extra: Value) {
    if let (Value::Object(into), Value::Object(extra)) = (into, extra) {
        into.extend(extra);
    }
}
