//! The Video object of a local video, filled from the REST API's own description of it, so
//! that followers get exactly the URLs the API gives (the swarm of the HLS playlist is named
//! by its URL: one character apart and viewers here and there would not meet).

use peerbox_catalog::{Privacy, Video};
use serde_json::Value;

use crate::Federation;
use crate::video_object::{
    Audience, FileForFederation, HlsForFederation, Image, Labelled, VideoForFederation,
    video_object,
};

/// Thumbnail and preview sizes the media workers make (PeerTube's).
const THUMBNAIL_SIZE: (u32, u32) = (280, 157);
const PREVIEW_SIZE: (u32, u32) = (850, 480);

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn number(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn labelled<K>(v: &Value, id: impl Fn(&Value) -> Option<K>) -> Option<Labelled<K>> {
    Some(Labelled {
        id: id(&v["id"])?,
        label: text(&v["label"]).unwrap_or_default(),
    })
}

fn hls(details: &Value) -> Option<HlsForFederation> {
    let playlist = details["streamingPlaylists"].get(0)?;
    let playlist_url = text(&playlist["playlistUrl"])?;
    let files: Vec<FileForFederation> = playlist["files"]
        .as_array()?
        .iter()
        .map(|f| FileForFederation {
            resolution: number(&f["resolution"]["id"]) as u32,
            width: number(&f["width"]) as u32,
            height: number(&f["height"]) as u32,
            fps: number(&f["fps"]) as u32,
            size: number(&f["size"]),
            url: text(&f["fileUrl"]).unwrap_or_default(),
            torrent_url: text(&f["torrentUrl"]),
            magnet_uri: text(&f["magnetUri"]),
        })
        .collect();
    let infohashes = peerbox_p2p::hls_infohashes(&playlist_url, files.len())
        .iter()
        .map(hex::encode)
        .collect();
    Some(HlsForFederation {
        segments_sha256_url: text(&playlist["segmentsSha256Url"]).unwrap_or_default(),
        playlist_url,
        infohashes,
        files,
    })
}

impl Federation {
    /// The Video object followers get for `video` (published, public or unlisted).
    pub(crate) fn local_video_object(&self, video: &Video) -> Result<Value, String> {
        let details = self.api.video_details_json(video).map_err(|e| e.detail)?;
        let base = self.settings.public_url.clone();
        let image = |path: &Value, (width, height): (u32, u32)| {
            text(path).map(|p| Image {
                url: format!("{base}{p}"),
                width,
                height,
            })
        };
        let a = &video.attributes;
        let for_federation = VideoForFederation {
            base_url: base.clone(),
            uuid: video.uuid,
            name: a.name.clone(),
            description: a.description.clone(),
            support: a.support.clone(),
            duration: video.duration,
            tags: a.tags.clone(),
            category: labelled(&details["category"], |v| v.as_u64().map(|n| n as u32)),
            licence: labelled(&details["licence"], |v| v.as_u64().map(|n| n as u32)),
            language: labelled(&details["language"], text),
            nsfw: a.nsfw,
            comments_policy: a.comments_policy,
            download_enabled: a.download_enabled,
            wait_transcoding: a.wait_transcoding,
            state: number(&details["state"]["id"]) as u8,
            audience: match a.privacy {
                Privacy::Public => Audience::Public,
                _ => Audience::Unlisted,
            },
            views: video.views,
            published_at: video.published_at,
            updated_at: video.updated_at,
            originally_published_at: a.originally_published_at,
            account_url: text(&details["account"]["url"]).ok_or("the video has no account")?,
            channel_url: text(&details["channel"]["url"]).ok_or("the video has no channel")?,
            thumbnail: image(&details["thumbnailPath"], THUMBNAIL_SIZE),
            preview: image(&details["previewPath"], PREVIEW_SIZE),
            hls: hls(&details),
            trackers: details["trackerUrls"]
                .as_array()
                .map(|t| t.iter().filter_map(text).collect())
                .unwrap_or_default(),
        };
        Ok(video_object(&for_federation))
    }
}
