//! Reading, changing and deleting videos.

use axum::Json;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use peerbox_catalog::{User, Video, VideoRef};
use serde_json::{Value, json};

use super::list::{QueryPairs, filter_videos, paginate};
use crate::auth::{AuthUser, Viewer};
use crate::error::{ApiError, ApiResult};
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
    let videos = filter_videos(state.catalog.videos()?, viewer.as_ref(), &q)?;
    Ok(Json(paginate(videos, &q, |v| state.video_json(v))?))
}

/// PeerTube matches the words of a search against names and tags.
fn matches_search(video: &Video, needle: &str) -> bool {
    let name = video.attributes.name.to_lowercase();
    let words: Vec<&str> = needle.split_whitespace().collect();
    name.contains(needle)
        || (!words.is_empty() && words.iter().all(|w| name.contains(w)))
        || video
            .attributes
            .tags
            .iter()
            .any(|t| t.to_lowercase() == needle || words.contains(&t.to_lowercase().as_str()))
}

pub async fn search(
    State(state): State<SharedState>,
    Viewer(viewer): Viewer,
    q: QueryPairs,
) -> ApiResult<Json<Value>> {
    let needle = q.one("search").unwrap_or("").trim().to_lowercase();
    let found = state
        .catalog
        .videos()?
        .into_iter()
        .filter(|v| matches_search(v, &needle))
        .collect();
    let videos = filter_videos(found, viewer.as_ref(), &q)?;
    Ok(Json(paginate(videos, &q, |v| state.video_json(v))?))
}

pub async fn get(
    State(state): State<SharedState>,
    Viewer(viewer): Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let video = state.visible_video(&id, viewer.as_ref(), &headers)?;
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
    let video = state.visible_video(&id, viewer.as_ref(), &headers)?;
    Ok(Json(json!({ "description": video.attributes.description })))
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
    let video = state.visible_video(&id, viewer.as_ref(), &headers)?;
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
