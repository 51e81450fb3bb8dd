//! Rows of the catalog. They are stored as JSON values so that adding an optional field
//! needs no migration; a migration is needed only when a meaning changes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// PeerTube's roles, with its numeric ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Role {
    Administrator,
    Moderator,
    User,
}

impl Role {
    pub fn id(self) -> u8 {
        match self {
            Role::Administrator => 0,
            Role::Moderator => 1,
            Role::User => 2,
        }
    }

    pub fn from_id(id: u64) -> Option<Role> {
        match id {
            0 => Some(Role::Administrator),
            1 => Some(Role::Moderator),
            2 => Some(Role::User),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Administrator => "Administrator",
            Role::Moderator => "Moderator",
            Role::User => "User",
        }
    }

    /// Administrators and moderators may see and manage every video (PeerTube's
    /// SEE_ALL_VIDEOS, UPDATE_ANY_VIDEO and REMOVE_ANY_VIDEO rights).
    pub fn manages_all_videos(self) -> bool {
        matches!(self, Role::Administrator | Role::Moderator)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: u64,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub role: Role,
    /// Bytes; -1 means unlimited, as in PeerTube.
    pub video_quota: i64,
    pub video_quota_daily: i64,
    pub account_id: u64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub email: String,
    pub password: String,
    pub role: Role,
    pub video_quota: i64,
    pub video_quota_daily: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    pub id: u64,
    pub user_id: u64,
    pub name: String,
    pub display_name: String,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Channel {
    pub id: u64,
    pub account_id: u64,
    pub name: String,
    pub display_name: String,
    pub description: Option<String>,
    pub support: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
pub struct ChannelChanges {
    pub display_name: Option<String>,
    pub description: Option<Option<String>>,
    pub support: Option<Option<String>>,
}

/// PeerTube's five privacy levels, with its numeric ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Privacy {
    Public,
    Unlisted,
    Private,
    Internal,
    PasswordProtected,
}

impl Privacy {
    pub const ALL: [Privacy; 5] = [
        Privacy::Public,
        Privacy::Unlisted,
        Privacy::Private,
        Privacy::Internal,
        Privacy::PasswordProtected,
    ];

    pub fn id(self) -> u8 {
        match self {
            Privacy::Public => 1,
            Privacy::Unlisted => 2,
            Privacy::Private => 3,
            Privacy::Internal => 4,
            Privacy::PasswordProtected => 5,
        }
    }

    pub fn from_id(id: u64) -> Option<Privacy> {
        Privacy::ALL.into_iter().find(|p| u64::from(p.id()) == id)
    }

    pub fn label(self) -> &'static str {
        match self {
            Privacy::Public => "Public",
            Privacy::Unlisted => "Unlisted",
            Privacy::Private => "Private",
            Privacy::Internal => "Internal",
            Privacy::PasswordProtected => "Password protected",
        }
    }
}

/// PeerTube's video states (only those a node without live streams reaches).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum VideoState {
    Published,
    ToTranscode,
    TranscodingFailed,
}

impl VideoState {
    pub fn id(self) -> u8 {
        match self {
            VideoState::Published => 1,
            VideoState::ToTranscode => 2,
            VideoState::TranscodingFailed => 7,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            VideoState::Published => "Published",
            VideoState::ToTranscode => "To transcode",
            VideoState::TranscodingFailed => "Transcoding failed",
        }
    }
}

/// The file a user uploaded, kept as the video's source.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceFile {
    /// Path relative to the data dir.
    pub path: String,
    /// The name the uploader's file had.
    pub original_name: String,
    /// Lower-case extension with its dot, e.g. ".mp4".
    pub extension: String,
    pub size: u64,
    pub mime_type: String,
    /// BitTorrent v1 infohash (hex) of the file's torrent, once it is written.
    #[serde(default)]
    pub info_hash: Option<String>,
}

/// What an uploader chooses about a video; shared by creation and by the upload session
/// that precedes it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VideoAttributes {
    pub name: String,
    pub channel_id: u64,
    pub description: Option<String>,
    pub support: Option<String>,
    pub tags: Vec<String>,
    pub category: Option<u32>,
    pub licence: Option<u32>,
    pub language: Option<String>,
    pub privacy: Privacy,
    pub passwords: Vec<String>,
    pub nsfw: bool,
    pub comments_policy: u8,
    pub download_enabled: bool,
    pub wait_transcoding: bool,
    pub originally_published_at: Option<DateTime<Utc>>,
}

impl VideoAttributes {
    /// A video named `name` in `channel_id` with PeerTube's defaults for everything else:
    /// no description, support or tags, comments and downloads on, waiting for transcoding.
    pub fn new(name: impl Into<String>, channel_id: u64, privacy: Privacy) -> VideoAttributes {
        VideoAttributes {
            name: name.into(),
            channel_id,
            description: None,
            support: None,
            tags: Vec::new(),
            category: None,
            licence: None,
            language: None,
            privacy,
            passwords: Vec::new(),
            nsfw: false,
            comments_policy: 1,
            download_enabled: true,
            wait_transcoding: true,
            originally_published_at: None,
        }
    }
}

/// One rendition of a video's HLS playlist: a fragmented MP4 and its media playlist.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HlsFile {
    /// PeerTube's resolution id: the height, or 0 for audio only.
    pub resolution: u32,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub size: u64,
    /// File names inside the video's HLS folder.
    pub playlist: String,
    pub fragmented: String,
    /// BitTorrent v1 infohash (hex) of the fragmented MP4's torrent, once written.
    #[serde(default)]
    pub info_hash: Option<String>,
}

/// A video's HLS output, under `media/streaming-playlists/hls/{uuid}/`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HlsPlaylist {
    pub master: String,
    pub segments_sha256: String,
    pub files: Vec<HlsFile>,
}

/// What a finished transcoding job gives a video.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TranscodedOutputs {
    pub hls: HlsPlaylist,
    /// File names under `media/thumbnails/` and `media/previews/`.
    pub thumbnail: Option<String>,
    pub preview: Option<String>,
    /// Seconds.
    pub duration: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Video {
    pub id: u64,
    pub uuid: Uuid,
    pub attributes: VideoAttributes,
    pub state: VideoState,
    pub source: Option<SourceFile>,
    #[serde(default)]
    pub outputs: Option<TranscodedOutputs>,
    /// Why processing failed, for the uploader.
    #[serde(default)]
    pub error: Option<String>,
    pub duration: u64,
    pub views: u64,
    pub likes: u64,
    pub dislikes: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub published_at: DateTime<Utc>,
}

impl Video {
    pub fn short_uuid(&self) -> String {
        crate::short_uuid(&self.uuid)
    }
}

/// A video about to be created from a finished upload.
#[derive(Debug, Clone)]
pub struct NewVideo {
    pub uuid: Uuid,
    pub attributes: VideoAttributes,
    pub source: SourceFile,
}

/// A resumable upload in progress. Its bytes are in `uploads/{id}` under the data dir; the
/// file's length is the number of bytes received.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Upload {
    pub id: String,
    pub user_id: u64,
    pub attributes: VideoAttributes,
    pub original_name: String,
    pub mime_type: String,
    pub size: u64,
    /// Chosen when the upload starts so that a finished upload can be recognised after a
    /// crash between moving its file and recording the video.
    pub video_uuid: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_activity: DateTime<Utc>,
    /// Set when the upload has finished and became this video; kept for a while so that a
    /// client whose last response was lost gets the same answer again.
    #[serde(default)]
    pub video_id: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobState {
    Pending,
    Active,
    Completed,
    Failed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub id: u64,
    /// PeerTube's job type, e.g. "video-transcoding".
    pub kind: String,
    pub video_id: u64,
    pub state: JobState,
    pub attempts: u32,
    pub progress: Option<u8>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// A retried job waits until then (backoff).
    #[serde(default)]
    pub run_after: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuotaUsed {
    pub total: u64,
    pub daily: u64,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    pub users: u64,
    pub local_videos: u64,
    pub local_video_views: u64,
    pub local_channels: u64,
}
