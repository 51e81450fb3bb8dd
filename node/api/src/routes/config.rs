//! Instance configuration, about page, statistics and the value lists.

use axum::Json;
use axum::extract::State;
use peerbox_catalog::Privacy;
use serde_json::{Map, Value, json};

use crate::SharedState;
use crate::error::ApiResult;
use crate::validate::{CATEGORIES, LANGUAGES, LICENCES};

/// What `GET /api/v1/config` answers: the keys PeerTube clients read first.
pub async fn config(State(state): State<SharedState>) -> Json<Value> {
    let s = &state.settings;
    Json(json!({
        "serverVersion": "8.2.0",
        "serverCommit": null,
        "software": { "name": "peerbox", "version": env!("CARGO_PKG_VERSION") },
        "instance": {
            "name": state.instance_name(),
            "shortDescription": state.instance_short_description(),
            "isNSFW": false,
            "defaultNSFWPolicy": "display",
            "defaultClientRoute": "/videos/trending",
            "customizations": { "javascript": "", "css": "" },
            "avatars": [],
            "banners": [],
            "logo": [],
        },
        "search": {
            "remoteUri": { "users": true, "anonymous": false },
            "searchIndex": { "enabled": false, "url": "", "disableLocalSearch": false, "isDefaultSearch": false },
        },
        "plugin": { "registered": [], "registeredExternalAuths": [], "registeredIdAndPassAuths": [] },
        "theme": { "registered": [], "builtIn": [], "default": "default" },
        "email": { "enabled": false },
        "contactForm": { "enabled": false },
        "signup": {
            "allowed": false,
            "allowedForCurrentIP": false,
            "requiresEmailVerification": false,
            "requiresApproval": false,
            "minimumAge": 16,
        },
        "transcoding": {
            "hls": { "enabled": true },
            "web_videos": { "enabled": false },
            "enabledResolutions": [144, 240, 360, 480, 720, 1080],
            "profile": "default",
            "availableProfiles": ["default"],
            "remoteRunners": { "enabled": false },
        },
        "live": { "enabled": false, "allowReplay": false, "rtmp": { "port": 1935 }, "transcoding": { "enabled": false } },
        "import": { "videos": { "http": { "enabled": false }, "torrent": { "enabled": false } } },
        "autoBlacklist": { "videos": { "ofUsers": { "enabled": false } } },
        "video": {
            "image": { "size": { "max": 8 * 1024 * 1024 }, "extensions": [".png", ".jpg", ".jpeg", ".webp"] },
            "file": { "extensions": [".mp4", ".ogv", ".webm", ".mkv", ".mov", ".m4v", ".avi", ".flv", ".ts", ".mpg", ".mpeg", ".3gp", ".mp3", ".ogg", ".flac", ".wav", ".m4a", ".opus"] },
        },
        "videoCaption": { "file": { "size": { "max": 20 * 1024 * 1024 }, "extensions": [".vtt", ".srt"] } },
        "user": { "videoQuota": s.users.video_quota, "videoQuotaDaily": s.users.video_quota_daily },
        "trending": { "videos": { "intervalDays": 7, "algorithms": { "enabled": ["most-viewed"], "default": "most-viewed" } } },
        "tracker": { "enabled": s.tracker.enabled },
        "federation": { "enabled": false },
        "followings": { "instance": { "autoFollowIndex": { "indexUrl": "" } } },
        "broadcastMessage": { "enabled": false, "message": "", "level": "info", "dismissable": false },
        "webrtc": { "stunServers": [] },
        "defaults": {
            "publish": { "downloadEnabled": true, "commentsPolicy": 1, "privacy": 1, "licence": null },
            "p2p": { "webapp": { "enabled": true }, "embed": { "enabled": true } },
            "player": { "autoPlay": true },
        },
        "client": {
            "videos": {
                "miniature": { "preferAuthorDisplayName": false },
                "resumableUpload": { "maxChunkSize": 100 * 1024 * 1024 },
            },
            "menu": { "login": { "redirectOnSingleExternalAuth": false } },
            "openInApp": {
                "android": { "intent": { "enabled": false, "host": "", "scheme": "", "fallbackUrl": "" } },
                "ios": { "enabled": false, "host": "", "scheme": "", "fallbackUrl": "" },
            },
        },
        "views": { "videos": { "watchingInterval": { "anonymous": 5000, "users": 5000 } } },
        "homepage": { "enabled": false },
        "openTelemetry": { "metrics": { "enabled": false } },
    }))
}

pub async fn about(State(state): State<SharedState>) -> Json<Value> {
    Json(json!({
        "instance": {
            "name": state.instance_name(),
            "shortDescription": state.instance_short_description(),
            "description": state.instance_description(),
            "terms": "",
            "codeOfConduct": "",
            "hardwareInformation": "",
            "creationReason": "",
            "moderationInformation": "",
            "administrator": "",
            "maintenanceLifetime": "",
            "businessModel": "",
            "languages": [],
            "categories": [],
            "avatars": [],
            "banners": [],
        }
    }))
}

pub async fn stats(State(state): State<SharedState>) -> ApiResult<Json<Value>> {
    let st = state.catalog.stats()?;
    let files_size: u64 = state
        .catalog
        .videos()?
        .iter()
        .filter_map(|v| v.source.as_ref().map(|s| s.size))
        .sum();
    Ok(Json(json!({
        "totalUsers": st.users,
        "totalDailyActiveUsers": 0,
        "totalWeeklyActiveUsers": 0,
        "totalMonthlyActiveUsers": 0,
        "totalModerators": 0,
        "totalAdmins": 1,
        "totalLocalVideos": st.local_videos,
        "totalLocalVideoViews": st.local_video_views,
        "totalLocalVideoComments": 0,
        "totalLocalVideoFilesSize": files_size,
        "totalVideos": st.local_videos,
        "totalVideoComments": 0,
        "totalLocalVideoChannels": st.local_channels,
        "totalLocalDailyActiveVideoChannels": 0,
        "totalLocalWeeklyActiveVideoChannels": 0,
        "totalLocalMonthlyActiveVideoChannels": 0,
        "totalLocalPlaylists": 0,
        "totalInstanceFollowers": 0,
        "totalInstanceFollowing": 0,
        "videosRedundancy": [],
        "totalActivityPubMessagesProcessed": 0,
        "totalActivityPubMessagesSuccesses": 0,
        "totalActivityPubMessagesErrors": 0,
        "activityPubMessagesProcessedPerSecond": 0,
        "totalActivityPubMessagesWaiting": 0,
    })))
}

fn id_label_map<K: ToString>(items: impl Iterator<Item = (K, &'static str)>) -> Json<Value> {
    Json(Value::Object(
        items
            .map(|(k, l)| (k.to_string(), json!(l)))
            .collect::<Map<_, _>>(),
    ))
}

pub async fn categories() -> Json<Value> {
    id_label_map(CATEGORIES.iter().copied())
}

pub async fn licences() -> Json<Value> {
    id_label_map(LICENCES.iter().copied())
}

pub async fn languages() -> Json<Value> {
    id_label_map(LANGUAGES.iter().copied())
}

pub async fn privacies() -> Json<Value> {
    id_label_map(Privacy::ALL.iter().map(|p| (p.id(), p.label())))
}
