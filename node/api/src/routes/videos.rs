//! Reading, changing and deleting videos.

use axum::Json;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use peerbox_catalog::{User, Video, VideoRef};
use serde_json::{Value, json};

use super::list::{AnyVideo, Listable, QueryPairs, filter_videos, paginate};
use crate::auth::{AuthUser, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::remote::remote_video_details_json;
use crate::validate::{Fields, apply_video_fields};
use crate::{AppState, SharedState};

impl AppState {
    /// The video a path names, if it exists and `viewer` may see it.
    fn visible_video(
        &self,
        id: &str,
        viewer: Option<&User>,
        headers: &HeaderMap,
    ) -> ApiResult<Video> {
        let r = VideoRef::parse(id)
            .ok_or_else(|| ApiError::invalid_param("id", "Should have a valid id"))?;
        let video = self
            .catalog
            .video(r)?
            .ok_or_else(|| ApiError::not_found("Video not found"))?;
        self.check_can_see(viewer, &video, r.is_uuid(), headers)?;
        Ok(video)
    }

    /// The video a path names: this node's, if `viewer` may see it, or else one received by
    /// federation.
    fn visible_or_remote_video(
        &self,
        id: &str,
        viewer: Option<&User>,
        headers: &HeaderMap,
    ) -> ApiResult<AnyVideo> {
        let r = VideoRef::parse(id)
            .ok_or_else(|| ApiError::invalid_param("id", "Should have a valid id"))?;
        if let Some(video) = self.catalog.video(r)? {
            self.check_can_see(viewer, &video, r.is_uuid(), headers)?;
            return Ok(AnyVideo::Local(video));
        }
        self.remote_video_named(r)?
            .map(AnyVideo::Remote)
            .ok_or_else(|| ApiError::not_found("Video not found"))
    }

    /// Every video of this node and every one received by federation (unless the query
    /// asks for local ones only); lists filter them.
    fn local_and_remote_videos(&self, q: &QueryPairs) -> ApiResult<Vec<AnyVideo>> {
        let mut all: Vec<AnyVideo> = self
            .catalog
            .videos()?
            .into_iter()
            .map(AnyVideo::Local)
            .collect();
        if q.one("isLocal") != Some("true") {
            let (remote, _) = self.catalog.remote_videos(0, usize::MAX)?;
            all.extend(remote.into_iter().map(AnyVideo::Remote));
        }
        Ok(all)
    }

    /// The video a path names, if `user` may change it.
    fn managed_video(&self, id: &str, user: &User) -> ApiResult<Video> {
        let r = VideoRef::parse(id)
            .ok_or_else(|| ApiError::invalid_param("id", "Should have a valid id"))?;
        let video = self
            .catalog
            .video(r)?
            .ok_or_else(|| ApiError::not_found("Video not found"))?;
        if !self.can_manage(user, &video)? {
            return Err(ApiError::forbidden(
                "Cannot manage a video of another user.",
            ));
        }
        Ok(video)
    }

    /// A channel `user` may publish in.
    pub fn check_own_channel(&self, user: &User, channel_id: u64) -> ApiResult<()> {
        let channel = self.catalog.channel(channel_id)?;
        match channel {
            Some(c) if c.account_id == user.account_id || user.role.manages_all_videos() => Ok(()),
            _ => Err(ApiError::bad_request(
                "Unknown video \"video channel\" for this account.",
            )),
        }
    }
}

pub async fn list(
    State(state): State<SharedState>,
    Viewer(viewer): Viewer,
    q: QueryPairs,
) -> ApiResult<Json<Value>> {
    let videos = filter_videos(state.local_and_remote_videos(&q)?, viewer.as_ref(), &q)?;
    Ok(Json(paginate(videos, &q, |v| v.to_json(&state))?))
}

/// PeerTube matches the words of a search against names and tags.
fn matches_search(video: &impl Listable, needle: &str) -> bool {
    let facets = video.facets();
    let name = facets.name.to_lowercase();
    let words: Vec<&str> = needle.split_whitespace().collect();
    name.contains(needle)
        || (!words.is_empty() && words.iter().all(|w| name.contains(w)))
        || facets
            .tags
            .iter()
            .any(|t| t.to_lowercase() == needle || words.contains(&t.to_lowercase().as_str()))
}

/// PeerTube looks a search that is a URL up rather than matching words.
pub(super) fn is_uri_search(search: &str) -> bool {
    search.starts_with("http://") || search.starts_with("https://")
}

/// `host[:port]` (lowercased) and path (without query or fragment) of an http(s) URL.
pub(super) fn url_parts(url: &str) -> Option<(String, &str)> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
    let path = path.split(['?', '#']).next().unwrap_or(path);
    (!authority.is_empty()).then(|| (authority.to_ascii_lowercase(), path))
}

/// The id in a watch page path: `/videos/watch/{id}` or `/w/{id}`.
fn watch_id(path: &str) -> Option<&str> {
    let id = path
        .strip_prefix("/videos/watch/")
        .or_else(|| path.strip_prefix("/w/"))?
        .trim_end_matches('/');
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

impl AppState {
    /// The video a URL names, as PeerTube's search answers a URL: one of this node's (if the
    /// viewer may see it), one already received, or, for signed-in users only (PeerTube's
    /// `search.remoteUri`), one fetched from its origin now. Whatever fails finds nothing.
    async fn video_at_url(
        &self,
        url: &str,
        viewer: Option<&User>,
        headers: &HeaderMap,
    ) -> ApiResult<Option<AnyVideo>> {
        let Some((host, path)) = url_parts(url) else {
            return Ok(None);
        };
        let named = watch_id(path).and_then(VideoRef::parse);
        if host.eq_ignore_ascii_case(self.settings.public_host()) {
            let Some(r) = named else { return Ok(None) };
            return Ok(self
                .catalog
                .video(r)?
                .filter(|v| self.check_can_see(viewer, v, r.is_uuid(), headers).is_ok())
                .map(AnyVideo::Local));
        }
        let stored = match named {
            Some(VideoRef::Uuid(uuid)) => self.catalog.remote_video_by_uuid(uuid)?,
            _ => self.catalog.remote_video(url)?,
        };
        if let Some(v) = stored.filter(|v| url_parts(&v.url).is_some_and(|(h, _)| h == host)) {
            return Ok(Some(AnyVideo::Remote(v)));
        }
        let (Some(_), Some(lookup)) = (viewer, self.remote_lookup()) else {
            return Ok(None);
        };
        match lookup.video(url).await {
            Ok(id) => Ok(self.catalog.remote_video(&id)?.map(AnyVideo::Remote)),
            Err(e) => {
                tracing::info!("search: no video fetched from {url}: {e}");
                Ok(None)
            }
        }
    }
}

pub async fn search(
    State(state): State<SharedState>,
    Viewer(viewer): Viewer,
    headers: HeaderMap,
    q: QueryPairs,
) -> ApiResult<Json<Value>> {
    let search = q.one("search").unwrap_or("").trim();
    if is_uri_search(search) {
        let found = state
            .video_at_url(search, viewer.as_ref(), &headers)
            .await?;
        let data: Vec<Value> = found
            .iter()
            .map(|v| v.to_json(&state))
            .collect::<ApiResult<_>>()?;
        return Ok(Json(json!({ "total": data.len(), "data": data })));
    }
    let needle = search.to_lowercase();
    let found = state
        .local_and_remote_videos(&q)?
        .into_iter()
        .filter(|v| matches_search(v, &needle))
        .collect();
    let videos = filter_videos(found, viewer.as_ref(), &q)?;
    Ok(Json(paginate(videos, &q, |v| v.to_json(&state))?))
}

pub async fn get(
    State(state): State<SharedState>,
    Viewer(viewer): Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let video = match state.visible_or_remote_video(&id, viewer.as_ref(), &headers)? {
        AnyVideo::Local(video) => video,
        AnyVideo::Remote(remote) => return Ok(Json(remote_video_details_json(&state, &remote))),
    };
    let mut json = state.video_details_json(&video)?;
    if let Some(user) = &viewer
        && state.can_manage(user, &video)?
    {
        crate::format::add_owner_fields(&mut json, &video);
    }
    Ok(Json(json))
}

pub async fn description(
    State(state): State<SharedState>,
    Viewer(viewer): Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let description = match state.visible_or_remote_video(&id, viewer.as_ref(), &headers)? {
        AnyVideo::Local(video) => video.attributes.description,
        AnyVideo::Remote(remote) => remote.description,
    };
    Ok(Json(json!({ "description": description })))
}

/// Metadata fields from a JSON, urlencoded or multipart body (PeerTube's web client sends
/// multipart because a thumbnail may come along).
async fn body_fields(state: &SharedState, req: Request) -> ApiResult<Fields> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if content_type.starts_with("multipart/form-data") {
        let mut multipart = Multipart::from_request(req, state)
            .await
            .map_err(|e| ApiError::bad_request(e.body_text()))?;
        let mut pairs = Vec::new();
        while let Some(field) = multipart
            .next_field()
            .await
            .map_err(|e| ApiError::bad_request(e.body_text()))?
        {
            let name = field.name().unwrap_or("").to_string();
            if field.file_name().is_some() {
                continue; // images are handled with the media pipeline
            }
            pairs.push((
                name,
                field
                    .text()
                    .await
                    .map_err(|e| ApiError::bad_request(e.body_text()))?,
            ));
        }
        return Ok(Fields::from_multipart(pairs));
    }
    let bytes = axum::body::to_bytes(req.into_body(), 1024 * 1024)
        .await
        .map_err(|_| ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large"))?;
    if content_type.starts_with("application/x-www-form-urlencoded") {
        return Ok(Fields::from_multipart(
            form_urlencoded::parse(&bytes).into_owned().collect(),
        ));
    }
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("Invalid JSON body: {e}")))?;
    Ok(Fields(value.as_object().cloned().ok_or_else(|| {
        ApiError::bad_request("Body should be a JSON object")
    })?))
}

pub async fn update(
    State(state): State<SharedState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult<StatusCode> {
    let video = state.managed_video(&id, &user)?;
    let fields = body_fields(&state, req).await?;
    let mut attrs = video.attributes.clone();
    apply_video_fields(&fields, &mut attrs)?;
    if attrs.channel_id != video.attributes.channel_id {
        state.check_own_channel(&user, attrs.channel_id)?;
    }
    state
        .catalog
        .update_video(video.id, |v| v.attributes = attrs)?;
    // A video made private stops being seeded.
    state.files_changed.notify_one();
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/videos/{id}/source`: the file as uploaded, for its owner and administrators.
pub async fn source(
    State(state): State<SharedState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let video = state.managed_video(&id, &user)?;
    let source = video
        .source
        .as_ref()
        .ok_or_else(|| ApiError::not_found("Video source not found"))?;
    Ok(Json(json!({
        "inputFilename": source.original_name,
        "fileDownloadUrl": format!("{}/download/original-video-files/{}{}", state.settings.public_url(), video.uuid, source.extension),
        "size": source.size,
        "resolution": { "id": null, "label": "Unknown" },
        "width": null,
        "height": null,
        "fps": null,
        "createdAt": crate::format::date(&video.created_at),
    })))
}

/// A viewer counts once per video per hour, as PeerTube counts views per address.
const VIEW_LIFETIME: std::time::Duration = std::time::Duration::from_secs(3600);

/// `POST /api/v1/videos/{id}/views`: the player reports that someone watched.
pub async fn view(
    State(state): State<SharedState>,
    Viewer(viewer): Viewer,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let video = match state.visible_video(&id, viewer.as_ref(), &headers) {
        Ok(video) => video,
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            // A remote video's views are counted at its origin.
            let remote = VideoRef::parse(&id)
                .map(|r| state.remote_video_named(r))
                .transpose()?
                .flatten()
                .ok_or(e)?;
            let id = crate::remote::remote_video_id(&remote.uuid);
            if state.views.first_in_a_while(peer.ip(), id, VIEW_LIFETIME)
                && let Some(hook) = state.remote_lookup()
            {
                hook.viewed(&remote.url);
            }
            return Ok(StatusCode::NO_CONTENT);
        }
        Err(e) => return Err(e),
    };
    if state
        .views
        .first_in_a_while(peer.ip(), video.id, VIEW_LIFETIME)
    {
        state.catalog.count_view(video.id)?;
    }
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete(
    State(state): State<SharedState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let video = state.managed_video(&id, &user)?;
    let video = state.catalog.delete_video(video.id)?;
    state.remove_video_files(&video).await;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use chrono::{DateTime, Duration, Utc};
    use peerbox_catalog::{
        Catalog, NewUser, NewVideo, Privacy, RemoteActor, RemoteActorKind, RemoteFile, RemoteHls,
        RemoteVideo, Role, SourceFile, VideoAttributes, VideoState, short_uuid,
    };
    use serde_json::Value;
    use tower::ServiceExt;
    use uuid::Uuid;

    use crate::{ApiSettings, AppState, SharedState};

    const ORIGIN: &str = "https://tube.example";

    /// A node with two public local videos, published 3 h and 1 h ago, and two videos
    /// received from `ORIGIN`: a public one published 2 h ago and an unlisted one.
    struct Node {
        state: SharedState,
        remote: RemoteVideo,
        unlisted: RemoteVideo,
        _dir: tempfile::TempDir,
    }

    fn node() -> Node {
        let dir = tempfile::tempdir().expect("temp dir");
        let catalog =
            Arc::new(Catalog::open(&dir.path().join("catalog.redb")).expect("open catalog"));
        let settings = ApiSettings {
            public_url: "http://peerbox.test".into(),
            ota: crate::OtaSettings {
                config: dir.path().join("no-updater.toml"),
            },
            ..ApiSettings::default()
        };
        let state = AppState::new(catalog, settings, dir.path().to_path_buf()).expect("state");
        let now = Utc::now();
        add_local_video(&state, "Local old", now - Duration::hours(3));
        add_local_video(&state, "Local new", now - Duration::hours(1));
        for (kind, name) in [
            (RemoteActorKind::Person, "bob"),
            (RemoteActorKind::Group, "bob_channel"),
        ] {
            state
                .catalog
                .upsert_remote_actor(&remote_actor(kind, name))
                .expect("remote actor");
        }
        let remote = remote_video("Remote middle", Privacy::Public, now - Duration::hours(2));
        let unlisted = remote_video("Remote unlisted", Privacy::Unlisted, now);
        for v in [&remote, &unlisted] {
            state.catalog.upsert_remote_video(v).expect("remote video");
        }
        Node {
            state,
            remote,
            unlisted,
            _dir: dir,
        }
    }

    fn add_local_video(state: &AppState, name: &str, published_at: DateTime<Utc>) {
        let username = name.to_lowercase().replace(' ', "_");
        let user = state
            .catalog
            .create_user(NewUser {
                username: username.clone(),
                email: format!("{username}@peerbox.test"),
                password: "a long enough password".into(),
                role: Role::User,
                video_quota: -1,
                video_quota_daily: -1,
            })
            .expect("user");
        let channel = state
            .catalog
            .channels_of_account(user.account_id)
            .expect("channels")
            .remove(0);
        let uuid = Uuid::new_v4();
        let video = state
            .catalog
            .create_video(
                NewVideo {
                    uuid,
                    attributes: VideoAttributes::new(name, channel.id, Privacy::Public),
                    source: SourceFile {
                        path: format!("media/{uuid}.mp4"),
                        original_name: "clip.mp4".into(),
                        extension: ".mp4".into(),
                        size: 1000,
                        mime_type: "video/mp4".into(),
                        info_hash: None,
                    },
                },
                None,
            )
            .expect("video");
        state
            .catalog
            .update_video(video.id, |v| {
                v.state = VideoState::Published;
                v.published_at = published_at;
            })
            .expect("publish");
    }

    fn remote_actor(kind: RemoteActorKind, name: &str) -> RemoteActor {
        let url = match kind {
            RemoteActorKind::Group => format!("{ORIGIN}/video-channels/{name}"),
            _ => format!("{ORIGIN}/accounts/{name}"),
        };
        RemoteActor {
            kind,
            preferred_username: name.into(),
            host: "tube.example".into(),
            name: format!("{name} display name"),
            summary: Some(format!("All about {name}")),
            inbox: format!("{url}/inbox"),
            shared_inbox: Some(format!("{ORIGIN}/inbox")),
            outbox: Some(format!("{url}/outbox")),
            followers: Some(format!("{url}/followers")),
            following: Some(format!("{url}/following")),
            public_key_id: format!("{url}#main-key"),
            public_key_pem: "-----BEGIN PUBLIC KEY-----".into(),
            // bob owns every channel.
            attributed_to: (kind == RemoteActorKind::Group)
                .then(|| format!("{ORIGIN}/accounts/bob")),
            avatar_url: Some(format!("{ORIGIN}/lazy-static/avatars/{name}.png")),
            profile_url: Some(url.clone()),
            fetched_at: Utc::now(),
            url,
        }
    }

    fn remote_video(name: &str, privacy: Privacy, published_at: DateTime<Utc>) -> RemoteVideo {
        let uuid = Uuid::new_v4();
        let base = format!("{ORIGIN}/static/streaming-playlists/hls/{uuid}");
        let file = |resolution: u32| RemoteFile {
            resolution,
            fps: 30,
            size: 1_000_000 * u64::from(resolution),
            file_url: format!("{base}/{uuid}-{resolution}-fragmented.mp4"),
            torrent_url: Some(format!(
                "{ORIGIN}/lazy-static/torrents/{uuid}-{resolution}-hls.torrent"
            )),
            magnet_uri: Some(format!(
                "magnet:?xs={ORIGIN}%2Flazy-static%2Ftorrents%2F{uuid}-{resolution}-hls.torrent&xt=urn:btih:{resolution:040}"
            )),
        };
        RemoteVideo {
            url: format!("{ORIGIN}/videos/watch/{uuid}"),
            uuid,
            name: name.into(),
            description: Some(format!("The whole description of {name}.")),
            duration: 42,
            channel_url: format!("{ORIGIN}/video-channels/bob_channel"),
            account_url: format!("{ORIGIN}/accounts/bob"),
            watch_url: format!("{ORIGIN}/w/{}", short_uuid(&uuid)),
            thumbnail_url: Some(format!("{ORIGIN}/lazy-static/thumbnails/{uuid}.jpg")),
            privacy: privacy.id(),
            language: Some("fr".into()),
            category: Some(15),
            licence: Some(1),
            nsfw: false,
            comments_enabled: true,
            download_enabled: true,
            tags: vec!["Federation".into()],
            views: 7,
            likes: 2,
            dislikes: 0,
            is_live: false,
            hls: Some(RemoteHls {
                playlist_url: format!("{base}/master.m3u8"),
                segments_sha256_url: Some(format!("{base}/segments-sha256.json")),
                infohashes: vec!["ab".repeat(20)],
                files: vec![file(480), file(720)],
            }),
            published_at,
            updated_at: published_at,
            fetched_at: Utc::now(),
        }
    }

    /// Status, content type and JSON body of a GET through the node's router.
    async fn get(state: &SharedState, uri: &str) -> (StatusCode, String, Value) {
        let response = crate::router(state.clone(), Router::new())
            .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
            .await
            .expect("response");
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
        (status, content_type, json)
    }

    /// `(name, isLocal)` of each video of a list, and its total.
    async fn names(state: &SharedState, uri: &str) -> (Vec<(String, bool)>, u64) {
        let (status, _, json) = get(state, uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {json}");
        let data = json["data"].as_array().expect("data").iter();
        let names = data
            .map(|v| {
                let name = v["name"].as_str().expect("name").to_string();
                (name, v["isLocal"].as_bool().expect("isLocal"))
            })
            .collect();
        (names, json["total"].as_u64().expect("total"))
    }

    fn owned(list: &[(&str, bool)]) -> Vec<(String, bool)> {
        list.iter().map(|(n, l)| (n.to_string(), *l)).collect()
    }

    #[tokio::test]
    async fn the_list_merges_local_and_remote_videos_newest_first() {
        let node = node();
        let (names, total) = names(&node.state, "/api/v1/videos").await;
        assert_eq!(total, 3, "the unlisted remote video is not listed");
        assert_eq!(
            names,
            owned(&[
                ("Local new", true),
                ("Remote middle", false),
                ("Local old", true)
            ])
        );

        let (_, _, json) = get(&node.state, "/api/v1/videos").await;
        let remote = &json["data"][1];
        assert_eq!(remote["url"], node.remote.url.as_str());
        assert_eq!(remote["uuid"], node.remote.uuid.to_string());
        assert_eq!(remote["shortUUID"], short_uuid(&node.remote.uuid));
        assert_eq!(remote["account"]["name"], "bob");
        assert_eq!(remote["account"]["host"], "tube.example");
        assert_eq!(remote["channel"]["name"], "bob_channel");
        assert_eq!(remote["channel"]["displayName"], "bob_channel display name");
        assert_eq!(
            remote["channel"]["avatars"][0]["fileUrl"],
            format!("{ORIGIN}/lazy-static/avatars/bob_channel.png")
        );
        assert_eq!(remote["category"]["label"], "Science & Technology");
        assert_eq!(remote["language"]["label"], "French");
        assert_eq!(remote["privacy"]["label"], "Public");
        assert_eq!(
            remote["thumbnailUrl"],
            format!("{ORIGIN}/lazy-static/thumbnails/{}.jpg", node.remote.uuid)
        );
        assert_eq!(
            remote["thumbnailPath"],
            format!("/lazy-static/thumbnails/{}.jpg", node.remote.uuid)
        );
        let id = remote["id"].as_u64().expect("numeric id");
        assert!(id > json["data"][0]["id"].as_u64().expect("local id"));
        // Every key a local video has, a remote one has too.
        let local = json["data"][0].as_object().expect("local video");
        for key in local.keys() {
            assert!(remote.get(key).is_some(), "remote video lacks {key}");
        }
    }

    #[tokio::test]
    async fn lists_filter_sort_and_page_across_local_and_remote() {
        let node = node();
        let state = &node.state;
        let (names_local, total) = names(state, "/api/v1/videos?isLocal=true").await;
        assert_eq!(total, 2);
        assert!(names_local.iter().all(|(_, local)| *local));
        let (names_remote, total) = names(state, "/api/v1/videos?isLocal=false").await;
        assert_eq!(
            (names_remote, total),
            (owned(&[("Remote middle", false)]), 1)
        );

        let (page, total) = names(state, "/api/v1/videos?start=1&count=1").await;
        assert_eq!((page, total), (owned(&[("Remote middle", false)]), 3));
        let (oldest_first, _) = names(state, "/api/v1/videos?sort=publishedAt").await;
        assert_eq!(
            oldest_first,
            owned(&[
                ("Local old", true),
                ("Remote middle", false),
                ("Local new", true)
            ])
        );
        let (by_name, _) = names(state, "/api/v1/videos?sort=-name").await;
        assert_eq!(by_name[0].0, "Remote middle");

        for query in [
            "categoryOneOf=15",
            "languageOneOf=fr",
            "tagsOneOf=federation",
        ] {
            let (found, total) = names(state, &format!("/api/v1/videos?{query}")).await;
            assert_eq!(
                (found, total),
                (owned(&[("Remote middle", false)]), 1),
                "{query}"
            );
        }
        let (_, total) = names(state, "/api/v1/videos?nsfw=true").await;
        assert_eq!(total, 0);
    }

    #[tokio::test]
    async fn a_remote_video_has_the_origins_playlist_torrents_and_tracker() {
        let node = node();
        let v = &node.remote;
        let (status, _, json) = get(&node.state, &format!("/api/v1/videos/{}", v.uuid)).await;
        assert_eq!(status, StatusCode::OK, "{json}");
        assert_eq!(json["isLocal"], false);
        assert_eq!(json["url"], v.url.as_str());
        assert_eq!(
            json["description"],
            "The whole description of Remote middle."
        );
        assert_eq!(json["tags"][0], "Federation");
        assert_eq!(json["files"], serde_json::json!([]));
        assert_eq!(
            json["trackerUrls"],
            serde_json::json!([
                "wss://tube.example/tracker/socket",
                "https://tube.example/tracker/announce"
            ])
        );
        let hls = v.hls.as_ref().expect("hls");
        let playlist = &json["streamingPlaylists"][0];
        assert_eq!(playlist["type"], 1);
        assert_eq!(playlist["playlistUrl"], hls.playlist_url.as_str());
        assert_eq!(
            playlist["segmentsSha256Url"],
            hls.segments_sha256_url.as_deref().expect("sha256 url")
        );
        let best = &playlist["files"][0];
        let file = &hls.files[1];
        assert_eq!(best["resolution"]["id"], 720);
        assert_eq!(best["resolution"]["label"], "720p");
        assert_eq!(best["fileUrl"], file.file_url.as_str());
        assert_eq!(
            best["torrentUrl"],
            file.torrent_url.as_deref().expect("torrent")
        );
        assert_eq!(
            best["magnetUri"],
            file.magnet_uri.as_deref().expect("magnet")
        );
        assert_eq!(
            best["playlistUrl"],
            format!(
                "{ORIGIN}/static/streaming-playlists/hls/{}/{}-720.m3u8",
                v.uuid, v.uuid
            )
        );
        assert_eq!(playlist["files"][1]["resolution"]["id"], 480);
        assert_eq!(json["channel"]["ownerAccount"]["name"], "bob");
        assert_eq!(json["account"]["description"], "All about bob");

        // By shortUUID, by its number, and its description alone.
        let (status, _, by_short) = get(
            &node.state,
            &format!("/api/v1/videos/{}", short_uuid(&v.uuid)),
        )
        .await;
        assert_eq!((status, &by_short["uuid"]), (StatusCode::OK, &json["uuid"]));
        let (status, _, by_id) = get(&node.state, &format!("/api/v1/videos/{}", json["id"])).await;
        assert_eq!((status, &by_id["uuid"]), (StatusCode::OK, &json["uuid"]));
        let (status, _, description) = get(
            &node.state,
            &format!("/api/v1/videos/{}/description", v.uuid),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(description["description"], json["description"]);
    }

    #[tokio::test]
    async fn an_unlisted_remote_video_is_reached_by_uuid_only() {
        let node = node();
        let uuid = node.unlisted.uuid;
        let (status, _, json) = get(&node.state, &format!("/api/v1/videos/{uuid}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(json["privacy"]["label"], "Unlisted");
        let (status, content_type, _) =
            get(&node.state, &format!("/api/v1/videos/{}", json["id"])).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(content_type.starts_with("application/problem+json"));
    }

    #[tokio::test]
    async fn search_finds_remote_videos_and_unknown_ones_are_404() {
        let node = node();
        let state = &node.state;
        for words in ["middle", "remote%20middle", "federation"] {
            let uri = format!("/api/v1/search/videos?search={words}");
            let (found, total) = names(state, &uri).await;
            assert_eq!(
                (found, total),
                (owned(&[("Remote middle", false)]), 1),
                "{words}"
            );
        }
        let (found, _) = names(state, "/api/v1/search/videos?search=local").await;
        assert_eq!(found.len(), 2);

        for id in [Uuid::new_v4().to_string(), short_uuid(&Uuid::new_v4())] {
            for path in [
                format!("/api/v1/videos/{id}"),
                format!("/api/v1/videos/{id}/description"),
            ] {
                let (status, content_type, json) = get(state, &path).await;
                assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
                assert!(
                    content_type.starts_with("application/problem+json"),
                    "{path}"
                );
                assert_eq!(json["status"], 404);
            }
        }
    }

    /// `(total, names)` of a search answer.
    async fn search(state: &SharedState, path: &str, search: &str) -> (u64, Vec<String>) {
        let query: String = form_urlencoded::byte_serialize(search.as_bytes()).collect();
        let (status, _, json) = get(state, &format!("{path}?search={query}")).await;
        assert_eq!(status, StatusCode::OK, "{search}: {json}");
        let names = json["data"].as_array().expect("data").iter();
        let names = names.map(|v| v["name"].as_str().unwrap_or_default().to_string());
        (json["total"].as_u64().expect("total"), names.collect())
    }

    #[tokio::test]
    async fn a_url_search_finds_the_video_it_names_or_nothing() {
        let node = node();
        let state = &node.state;
        let v = &node.remote;
        let short = short_uuid(&v.uuid);
        let videos = "/api/v1/search/videos";
        for url in [
            v.url.clone(),
            format!("{ORIGIN}/w/{short}"),
            format!("{ORIGIN}/w/{short}?start=30"),
            format!("{ORIGIN}/videos/watch/{}", v.uuid),
        ] {
            let found = search(state, videos, &url).await;
            assert_eq!(found, (1, vec!["Remote middle".to_string()]), "{url}");
        }
        // An unlisted video is found by its URL, as anyone with the link sees it.
        let unlisted = search(state, videos, &node.unlisted.url).await;
        assert_eq!(unlisted.0, 1);
        let (_, _, list) = get(state, "/api/v1/videos?isLocal=true").await;
        let local = list["data"][0]["uuid"].as_str().expect("uuid");
        let found = search(
            state,
            videos,
            &format!("http://peerbox.test/videos/watch/{local}"),
        )
        .await;
        assert_eq!(found, (1, vec!["Local new".to_string()]));
        // Unknown ids, the same id on another server, and garbage find nothing; no one is
        // signed in, so nothing is fetched.
        for url in [
            format!("{ORIGIN}/w/{}", short_uuid(&Uuid::new_v4())),
            format!("https://elsewhere.example/videos/watch/{}", v.uuid),
            "https://".to_string(),
            "https:// /w/ ".to_string(),
            "http://peerbox.test/w/nothing".to_string(),
        ] {
            assert_eq!(search(state, videos, &url).await, (0, vec![]), "{url}");
        }
    }

    #[tokio::test]
    async fn a_handle_search_finds_the_channel_it_names_or_nothing() {
        let node = node();
        let state = &node.state;
        let channels = "/api/v1/search/video-channels";
        for handle in [
            "bob_channel@tube.example",
            "@bob_channel@tube.example",
            "https://tube.example/video-channels/bob_channel",
        ] {
            let query: String = form_urlencoded::byte_serialize(handle.as_bytes()).collect();
            let (status, _, json) = get(state, &format!("{channels}?search={query}")).await;
            assert_eq!(status, StatusCode::OK, "{handle}: {json}");
            assert_eq!(json["total"], 1, "{handle}: {json}");
            let channel = &json["data"][0];
            assert_eq!(channel["name"], "bob_channel", "{json}");
            assert_eq!(channel["host"], "tube.example", "{json}");
            assert_eq!(channel["isLocal"], false, "{json}");
            assert_eq!(channel["ownerAccount"]["name"], "bob", "{json}");
            // The same number as in the videos of the channel.
            let (_, _, video) = get(state, &format!("/api/v1/videos/{}", node.remote.uuid)).await;
            assert_eq!(channel["id"], video["channel"]["id"], "{json}");
        }
        // An account is not a channel; unknown handles find nothing without a signed-in user.
        for handle in [
            "bob@tube.example",
            "nobody@tube.example",
            "a@b@c",
            "https://tube.example/c/x",
        ] {
            assert_eq!(search(state, channels, handle).await.0, 0, "{handle}");
        }
    }
}
