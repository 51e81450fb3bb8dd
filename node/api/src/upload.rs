//! Uploads: PeerTube's legacy multipart upload and its resumable protocol. Bodies stream to
//! files under `uploads/`, never into memory; a finished file is renamed into
//! `media/original-video-files/` and the video is recorded in one catalog transaction.
//! What a crash leaves behind is finished or swept at the next start.

use std::collections::HashSet;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::body::Body;
use axum::extract::{Multipart, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures_util::StreamExt;
use peerbox_catalog::{NewVideo, SourceFile, Upload, User, Video, VideoAttributes};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::files::SOURCES_DIR;
use crate::validate::{Fields, apply_video_fields, default_attributes};
use crate::{AppState, SharedState};

const UPLOADS_DIR: &str = "uploads";
/// Text fields of a multipart upload are metadata; none is legitimately this large.
const MAX_FIELD_BYTES: usize = 64 * 1024;

/// The extensions PeerTube accepts for video and audio uploads.
const EXTENSIONS: &[&str] = &[
    ".mp4", ".ogv", ".webm", ".mkv", ".mov", ".m4v", ".avi", ".flv", ".ts", ".mpg", ".mpeg",
    ".3gp", ".mp3", ".ogg", ".flac", ".wav", ".m4a", ".opus",
];

/// Uploads whose chunk is being received; a second concurrent PUT is refused.
#[derive(Default, Clone)]
pub struct InFlight(Arc<Mutex<HashSet<String>>>);

struct InFlightGuard(InFlight, String);

impl InFlight {
    fn enter(&self, id: &str) -> Option<InFlightGuard> {
        let mut set = self.0.lock().unwrap_or_else(|p| p.into_inner());
        set.insert(id.to_string())
            .then(|| InFlightGuard(self.clone(), id.to_string()))
    }

    fn contains(&self, id: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(id)
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.1);
    }
}

/// A refused upload still has its body on the wire; a client that is busy sending does not
/// read our answer until it is done, so the rest of the body is read and dropped before the
/// answer goes out (up to a bound, past which the connection is closed).
pub async fn drain_unread_body(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    const DRAIN_LIMIT: u64 = 1024 * 1024 * 1024;
    const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(300);
    let (parts, body) = req.into_parts();
    let shared = Arc::new(tokio::sync::Mutex::new(body.into_data_stream()));
    let reader = shared.clone();
    let proxied = Body::from_stream(futures_util::stream::unfold(reader, |r| async move {
        let item = r.lock().await.next().await;
        item.map(|chunk| (chunk, r))
    }));
    let response = next
        .run(axum::extract::Request::from_parts(parts, proxied))
        .await;
    let mut rest = shared.lock().await;
    let mut drained: u64 = 0;
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while let Some(Ok(chunk)) = rest.next().await {
            drained += chunk.len() as u64;
            if drained > DRAIN_LIMIT {
                break;
            }
        }
    })
    .await;
    response
}

/// Deletes a temporary file when dropped, unless it was kept.
struct TempFile(Option<PathBuf>);

impl TempFile {
    fn keep(mut self) -> PathBuf {
        self.0.take().unwrap_or_default()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes a whole file so that readers see the old one or the new one, never half of it.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    sync_dir(dir)
}

fn extension_of(filename: &str) -> ApiResult<String> {
    let ext = Path::new(filename)
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| format!(".{}", e.to_lowercase()))
        .unwrap_or_default();
    if !EXTENSIONS.contains(&ext.as_str()) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "This file is not supported. Please, make sure it is of the following type: {}",
                EXTENSIONS.join(", ")
            ),
        ));
    }
    Ok(ext)
}

fn quota_error() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "The user video quota is exceeded with this video.",
    )
    .with_code("quota_reached")
}

fn size_error() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "This file is too large. It exceeds the maximum file size authorized.",
    )
    .with_code("max_file_size_reached")
}

impl AppState {
    fn uploads_dir(&self) -> PathBuf {
        self.data_dir.join(UPLOADS_DIR)
    }

    fn partial_path(&self, id: &str) -> PathBuf {
        self.uploads_dir().join(id)
    }

    fn source_path(uuid: &Uuid, ext: &str) -> String {
        format!("{SOURCES_DIR}/{uuid}{ext}")
    }

    /// Bytes the user may still upload (None: unlimited), PeerTube's total and daily quotas.
    fn quota_left(&self, user: &User) -> ApiResult<Option<u64>> {
        let used = self.catalog.quota_used(user)?;
        let left =
            |quota: i64, used: u64| (quota >= 0).then(|| (quota as u64).saturating_sub(used));
        Ok(
            match (
                left(user.video_quota, used.total),
                left(user.video_quota_daily, used.daily),
            ) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
        )
    }

    fn check_size(&self, user: &User, size: u64) -> ApiResult<()> {
        if size > self.settings.uploads.max_file_size {
            return Err(size_error());
        }
        if self.quota_left(user)?.is_some_and(|left| size > left) {
            return Err(quota_error());
        }
        Ok(())
    }

    /// Refuses an upload the disk cannot hold, keeping a margin so that the catalog and
    /// the transcoded files still have room.
    fn check_disk_space(&self, size: u64) -> ApiResult<()> {
        const MARGIN: u64 = 256 * 1024 * 1024;
        let free = fs4::available_space(&self.data_dir)?;
        if size.saturating_add(MARGIN) > free {
            return Err(ApiError::insufficient_storage());
        }
        Ok(())
    }

    fn video_attributes(&self, user: &User, fields: &Fields) -> ApiResult<VideoAttributes> {
        let mut attrs = default_attributes();
        if !fields.has("channelId") {
            return Err(ApiError::invalid_param(
                "channelId",
                "Should have correct video channel id",
            ));
        }
        apply_video_fields(fields, &mut attrs)?;
        self.check_own_channel(user, attrs.channel_id)?;
        Ok(attrs)
    }

    /// Moves a complete upload into place and records the video (and, for a resumable
    /// upload, the end of its session) in one transaction.
    async fn publish_upload(
        &self,
        partial: PathBuf,
        uuid: Uuid,
        attributes: VideoAttributes,
        original_name: String,
        mime_type: String,
        upload_id: Option<&str>,
    ) -> ApiResult<Video> {
        let ext = extension_of(&original_name)?;
        let relative = Self::source_path(&uuid, &ext);
        let dest = self.data_dir.join(&relative);
        let size = tokio::task::spawn_blocking({
            let (partial, dest) = (partial.clone(), dest.clone());
            move || -> std::io::Result<u64> {
                let f = File::open(&partial)?;
                f.sync_all()?;
                let size = f.metadata()?.len();
                std::fs::rename(&partial, &dest)?;
                sync_dir(dest.parent().unwrap_or(Path::new(".")))?;
                Ok(size)
            }
        })
        .await
        .map_err(ApiError::internal)??;
        let source = SourceFile {
            path: relative,
            original_name,
            extension: ext,
            size,
            mime_type,
            info_hash: None,
        };
        let video = match self.catalog.create_video(
            NewVideo {
                uuid,
                attributes,
                source,
            },
            upload_id,
        ) {
            Ok(v) => v,
            Err(e) => {
                let _ = std::fs::remove_file(&dest);
                return Err(e.into());
            }
        };
        tracing::info!("video {} uploaded ({size} bytes)", video.uuid);
        self.jobs_queued.notify_waiters();
        Ok(video)
    }
}

fn created_response(video: &Video) -> Json<Value> {
    Json(
        json!({ "video": { "id": video.id, "shortUUID": video.short_uuid(), "uuid": video.uuid } }),
    )
}

/// Torrents take a while on big files; the client polls until `torrentUrl` appears.
fn spawn_torrent(state: &SharedState, video: Video) {
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(e) = state.write_source_torrent(&video).await {
            tracing::warn!("torrent of video {} not written: {e:#}", video.uuid);
        }
    });
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    ApiError::bad_request(format!("Malformed multipart body: {}", e.body_text()))
}

/// `POST /api/v1/videos/upload`: metadata fields and the `videofile` in one multipart body.
pub async fn legacy(
    State(state): State<SharedState>,
    AuthUser(user): AuthUser,
    mut multipart: Multipart,
) -> ApiResult<Json<Value>> {
    let limit = match state.quota_left(&user)? {
        Some(0) => return Err(quota_error()),
        Some(left) => left.min(state.settings.uploads.max_file_size),
        None => state.settings.uploads.max_file_size,
    };
    // The size is known only once the body is in; refuse early when even the margin is gone.
    state.check_disk_space(0)?;
    let mut pairs = Vec::new();
    let mut video_file: Option<(TempFile, String, String)> = None;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or("").to_string();
        match (name.as_str(), field.file_name().map(str::to_string)) {
            ("videofile", Some(filename)) => {
                extension_of(&filename)?;
                let mime = field
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_string();
                let path = state
                    .uploads_dir()
                    .join(format!("legacy-{}.part", Uuid::new_v4()));
                let temp = TempFile(Some(path.clone()));
                let mut file = tokio::fs::File::create(&path).await?;
                let mut received: u64 = 0;
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    received += chunk.len() as u64;
                    if received > limit {
                        return Err(if received > state.settings.uploads.max_file_size {
                            size_error()
                        } else {
                            quota_error()
                        });
                    }
                    file.write_all(&chunk).await?;
                }
                file.flush().await?;
                video_file = Some((temp, filename, mime));
            }
            (_, Some(_)) => while field.chunk().await.map_err(multipart_error)?.is_some() {}, // images: later, with the media pipeline
            _ => {
                let mut value = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    value.extend_from_slice(&chunk);
                    if value.len() > MAX_FIELD_BYTES {
                        return Err(ApiError::invalid_param(&name, "Field is too long"));
                    }
                }
                let value = String::from_utf8(value)
                    .map_err(|_| ApiError::invalid_param(&name, "Should be UTF-8 text"))?;
                pairs.push((name, value));
            }
        }
    }
    let (temp, filename, mime) =
        video_file.ok_or_else(|| ApiError::invalid_param("videofile", "Should have a file"))?;
    let attrs = state.video_attributes(&user, &Fields::from_multipart(pairs))?;
    let size = tokio::fs::metadata(temp.0.as_deref().unwrap_or(Path::new("")))
        .await?
        .len();
    if size == 0 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Video file unreadable.",
        ));
    }
    state.check_size(&user, size)?;
    // The file is on disk now: what is left must still hold the margin.
    state.check_disk_space(0)?;
    let video = state
        .publish_upload(temp.keep(), Uuid::new_v4(), attrs, filename, mime, None)
        .await?;
    spawn_torrent(&state, video.clone());
    Ok(created_response(&video))
}

#[derive(Deserialize)]
pub struct UploadIdQuery {
    upload_id: Option<String>,
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `POST /api/v1/videos/upload-resumable`: announces a file and its metadata.
pub async fn resumable_start(
    State(state): State<SharedState>,
    AuthUser(user): AuthUser,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> ApiResult<Response> {
    let fields = Fields(
        body.as_object()
            .cloned()
            .ok_or_else(|| ApiError::bad_request("Body should be a JSON object"))?,
    );
    let filename = fields
        .string("filename")?
        .filter(|f| !f.is_empty())
        .ok_or_else(|| ApiError::invalid_param("filename", "Should have a valid filename"))?;
    let size: u64 = header_str(&headers, "x-upload-content-length")
        .and_then(|v| v.trim().parse().ok())
        .filter(|&s| s > 0)
        .ok_or_else(|| {
            ApiError::invalid_param("x-upload-content-length", "Should specify the file length")
        })?;
    let mime = header_str(&headers, "x-upload-content-type")
        .ok_or_else(|| {
            ApiError::invalid_param("x-upload-content-type", "Should specify the file mimetype")
        })?
        .to_string();
    let attributes = state.video_attributes(&user, &fields)?;
    extension_of(&filename)?;
    state.check_size(&user, size)?;
    state.check_disk_space(size)?;

    // The same user sending the same file again resumes it, as node-uploadx does.
    let last_modified = fields.string("lastModified")?.unwrap_or_default();
    let digest = Sha256::digest(format!("{}\n{filename}\n{size}\n{last_modified}", user.id));
    let id = format!("{}-{}", user.id, &hex::encode(digest)[..32]);
    if let Some(existing) = state.catalog.upload(&id)?
        && existing.video_id.is_some()
    {
        state.catalog.delete_upload(&id)?;
    }
    let partial = state.partial_path(&id);
    tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&partial)
        .await?;
    let now = Utc::now();
    let (_, created) = state.catalog.start_upload(Upload {
        id: id.clone(),
        user_id: user.id,
        attributes,
        original_name: filename,
        mime_type: mime,
        size,
        video_uuid: Uuid::new_v4(),
        created_at: now,
        last_activity: now,
        video_id: None,
    })?;
    // Answer on the host the client used, when it is one of ours (a LAN alias, say).
    let host = header_str(&headers, "host")
        .filter(|h| state.settings.accepts_host(h))
        .unwrap_or(state.settings.public_host());
    let location = format!("//{host}/api/v1/videos/upload-resumable?upload_id={id}");
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        [(header::LOCATION, location)],
        Json(json!({ "id": id })),
    )
        .into_response())
}

fn session_for(state: &AppState, user: &User, q: &UploadIdQuery) -> ApiResult<Upload> {
    let id = q
        .upload_id
        .as_deref()
        .ok_or_else(|| ApiError::invalid_param("upload_id", "Should have an upload id"))?;
    if !id.starts_with(&format!("{}-", user.id)) {
        return Err(ApiError::forbidden(
            "You cannot send chunks in another user upload",
        ));
    }
    state
        .catalog
        .upload(id)?
        .ok_or_else(|| ApiError::not_found("Upload not found"))
}

/// 308 Resume Incomplete, with the range received so far.
fn incomplete(received: u64) -> Response {
    let mut response = StatusCode::PERMANENT_REDIRECT.into_response();
    if received > 0
        && let Ok(v) = HeaderValue::from_str(&format!("bytes=0-{}", received - 1))
    {
        response.headers_mut().insert(header::RANGE, v);
    }
    response
}

enum ContentRange {
    Status { total: u64 },
    Chunk { start: u64, end: u64, total: u64 },
}

fn parse_content_range(value: Option<&str>) -> ApiResult<ContentRange> {
    let bad = || {
        ApiError::bad_request(
            "Invalid Content-Range: expected \"bytes START-END/TOTAL\" or \"bytes */TOTAL\"",
        )
    };
    let spec = value
        .and_then(|v| v.trim().strip_prefix("bytes "))
        .ok_or_else(bad)?;
    let (range, total) = spec.split_once('/').ok_or_else(bad)?;
    let total: u64 = total.trim().parse().map_err(|_| bad())?;
    if range.trim() == "*" {
        return Ok(ContentRange::Status { total });
    }
    let (start, end) = range.split_once('-').ok_or_else(bad)?;
    let (start, end): (u64, u64) = (
        start.trim().parse().map_err(|_| bad())?,
        end.trim().parse().map_err(|_| bad())?,
    );
    if end < start || end >= total {
        return Err(bad());
    }
    Ok(ContentRange::Chunk { start, end, total })
}

/// `PUT /api/v1/videos/upload-resumable?upload_id=`: one chunk, or a status query.
pub async fn resumable_chunk(
    State(state): State<SharedState>,
    AuthUser(user): AuthUser,
    Query(q): Query<UploadIdQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let upload = session_for(&state, &user, &q)?;
    if let Some(video_id) = upload.video_id {
        // The upload finished already: the client lost our answer and asks again.
        let video = state
            .catalog
            .video(peerbox_catalog::VideoRef::Id(video_id))?
            .ok_or_else(|| ApiError::not_found("Video not found"))?;
        return Ok(created_response(&video).into_response());
    }
    let _guard = state
        .uploads_in_flight
        .enter(&upload.id)
        .ok_or_else(|| ApiError::conflict("Another chunk of this upload is being received"))?;
    let partial = state.partial_path(&upload.id);
    let received = tokio::fs::metadata(&partial)
        .await
        .map(|m| m.len())
        .unwrap_or(0);
    let range = parse_content_range(header_str(&headers, "content-range"))?;
    let total = match range {
        ContentRange::Status { total } | ContentRange::Chunk { total, .. } => total,
    };
    if total != upload.size {
        return Err(ApiError::bad_request(format!(
            "Content-Range total {total} does not match the announced size {}",
            upload.size
        )));
    }
    let ContentRange::Chunk { start, end, .. } = range else {
        return Ok(incomplete(received));
    };
    if start != received {
        let e = ApiError::conflict(format!(
            "Chunk starts at byte {start} but {received} bytes were received; resume from there"
        ));
        let e = if received > 0 {
            e.with_header(header::RANGE, format!("bytes=0-{}", received - 1))
        } else {
            e
        };
        return Err(e);
    }

    let expected = end - start + 1;
    let mut file = tokio::fs::OpenOptions::new()
        .append(true)
        .open(&partial)
        .await?;
    let mut written: u64 = 0;
    let mut stream = body.into_data_stream();
    let mut failure = None;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(bytes) => {
                if written + bytes.len() as u64 > expected {
                    drop(file);
                    truncate(&partial, start).await?;
                    return Err(ApiError::bad_request(
                        "Chunk is longer than its Content-Range",
                    ));
                }
                file.write_all(&bytes).await?;
                written += bytes.len() as u64;
            }
            Err(e) => {
                // The client went away mid-chunk: what arrived is a valid prefix; keep it.
                failure = Some(e);
                break;
            }
        }
    }
    file.flush().await?;
    drop(file);
    state.catalog.touch_upload(&upload.id, Utc::now())?;
    if let Some(e) = failure {
        return Err(ApiError::bad_request(format!(
            "Chunk body interrupted: {e}"
        )));
    }
    let now_received = start + written;
    if now_received < upload.size {
        return Ok(incomplete(now_received));
    }
    let video = state
        .publish_upload(
            partial,
            upload.video_uuid,
            upload.attributes,
            upload.original_name,
            upload.mime_type,
            Some(&upload.id),
        )
        .await?;
    spawn_torrent(&state, video.clone());
    Ok(created_response(&video).into_response())
}

async fn truncate(path: &Path, len: u64) -> std::io::Result<()> {
    tokio::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .await?
        .set_len(len)
        .await
}

/// `DELETE /api/v1/videos/upload-resumable?upload_id=`: cancels and forgets an upload.
pub async fn resumable_cancel(
    State(state): State<SharedState>,
    AuthUser(user): AuthUser,
    Query(q): Query<UploadIdQuery>,
) -> ApiResult<StatusCode> {
    let upload = session_for(&state, &user, &q)?;
    if state.uploads_in_flight.contains(&upload.id) {
        return Err(ApiError::conflict(
            "A chunk of this upload is being received",
        ));
    }
    state.catalog.delete_upload(&upload.id)?;
    remove_if_present(&state.partial_path(&upload.id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match tokio::fs::remove_file(path).await {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Forgets uploads that received nothing for the session lifetime, and finished sessions
/// kept for retries.
pub async fn sweep_abandoned(state: &AppState) -> ApiResult<()> {
    let lifetime = chrono::Duration::from_std(state.settings.uploads.session_lifetime())
        .map_err(ApiError::internal)?;
    let cutoff = Utc::now() - lifetime;
    for upload in state.catalog.uploads()? {
        if upload.last_activity > cutoff || state.uploads_in_flight.contains(&upload.id) {
            continue;
        }
        state.catalog.delete_upload(&upload.id)?;
        if upload.video_id.is_none() {
            remove_if_present(&state.partial_path(&upload.id)).await?;
            tracing::info!("abandoned upload {} swept", upload.id);
        }
    }
    Ok(())
}

/// Run once at start, before serving: finishes uploads that a crash interrupted between
/// moving their file and recording their video, and removes files nobody references.
pub async fn recover_uploads(state: &SharedState) -> anyhow::Result<()> {
    for dir in [UPLOADS_DIR, SOURCES_DIR, "media/torrents"] {
        tokio::fs::create_dir_all(state.data_dir.join(dir)).await?;
    }
    let mut live = HashSet::new();
    for upload in state.catalog.uploads()? {
        live.insert(upload.id.clone());
        if upload.video_id.is_some() {
            continue;
        }
        let partial = state.partial_path(&upload.id);
        let ext = extension_of(&upload.original_name).unwrap_or_default();
        let moved = state
            .data_dir
            .join(AppState::source_path(&upload.video_uuid, &ext));
        if !partial.exists() && moved.metadata().is_ok_and(|m| m.len() == upload.size) {
            // Rename done, transaction not: move it back and record it the normal way.
            tokio::fs::rename(&moved, &partial).await?;
            let video = state
                .publish_upload(
                    partial,
                    upload.video_uuid,
                    upload.attributes,
                    upload.original_name,
                    upload.mime_type,
                    Some(&upload.id),
                )
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.detail))?;
            tracing::info!(
                "finished interrupted upload {} as video {}",
                upload.id,
                video.uuid
            );
        } else if !partial.exists() {
            tokio::fs::File::create(&partial).await?;
        }
    }
    let mut entries = tokio::fs::read_dir(state.uploads_dir()).await?;
    while let Some(entry) = entries.next_entry().await? {
        let name = entry.file_name().to_string_lossy().to_string();
        if !live.contains(&name) {
            tracing::info!("removing leftover upload file {name}");
            remove_if_present(&entry.path()).await?;
        }
    }
    let referenced: HashSet<PathBuf> = state
        .catalog
        .referenced_sources()?
        .into_iter()
        .map(|p| state.data_dir.join(p))
        .collect();
    let mut entries = tokio::fs::read_dir(state.data_dir.join(SOURCES_DIR)).await?;
    while let Some(entry) = entries.next_entry().await? {
        if !referenced.contains(&entry.path()) {
            tracing::info!(
                "removing unreferenced source file {}",
                entry.path().display()
            );
            remove_if_present(&entry.path()).await?;
        }
    }
    let mut entries = tokio::fs::read_dir(state.data_dir.join("media/torrents")).await?;
    while let Some(entry) = entries.next_entry().await? {
        if entry.file_name().to_string_lossy().ends_with(".tmp") {
            remove_if_present(&entry.path()).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_forms() {
        assert!(matches!(
            parse_content_range(Some("bytes */100")).unwrap(),
            ContentRange::Status { total: 100 }
        ));
        assert!(matches!(
            parse_content_range(Some("bytes 0-9/100")).unwrap(),
            ContentRange::Chunk {
                start: 0,
                end: 9,
                total: 100
            }
        ));
        for bad in [
            None,
            Some("bytes 9-0/100"),
            Some("bytes 0-100/100"),
            Some("0-9/100"),
            Some("bytes a-b/c"),
            Some("bytes 0-9"),
        ] {
            assert!(parse_content_range(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn extensions() {
        assert_eq!(extension_of("Clip.MP4").unwrap(), ".mp4");
        assert!(extension_of("notes.txt").is_err());
        assert!(extension_of("noext").is_err());
    }
}
