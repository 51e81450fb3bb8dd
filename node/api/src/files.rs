//! Media files on PeerTube's paths: the kept source as a web video, and its torrent.
//! Every request goes through the same privacy check as the API.

use std::path::PathBuf;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use peerbox_catalog::{Privacy, Video, VideoRef, VideoState};
use tower::ServiceExt;
use tower_http::services::ServeFile;
use uuid::Uuid;

use crate::auth::Viewer;
use crate::error::{ApiError, ApiResult};
use crate::format::{hls_torrent_name, is_private_media, source_stem};
use crate::{AppState, SharedState};

pub const SOURCES_DIR: &str = "media/original-video-files";
const TORRENTS_DIR: &str = "media/torrents";
const HLS_DIR: &str = "media/streaming-playlists/hls";

pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/static/web-videos/{name}", get(web_video))
        .route("/static/web-videos/private/{name}", get(web_video))
        .route("/download/web-videos/{name}", get(download_web_video))
        .route("/lazy-static/torrents/{name}", get(torrent))
        .route("/download/torrents/{name}", get(download_torrent))
        .route(
            "/static/streaming-playlists/hls/{uuid}/{name}",
            get(hls_file),
        )
        .route(
            "/static/streaming-playlists/hls/private/{uuid}/{name}",
            get(hls_file),
        )
        .route(
            "/download/streaming-playlists/hls/videos/{name}",
            get(download_hls_file),
        )
        .route("/lazy-static/thumbnails/{name}", get(thumbnail))
        .route("/lazy-static/previews/{name}", get(preview))
        .route(
            "/download/original-video-files/{name}",
            get(download_source),
        )
}

enum Kind {
    WebVideo,
    Torrent,
}

/// A file the node may seed over BitTorrent, with its torrent.
#[derive(Debug, Clone)]
pub struct SeedableFile {
    pub info_hash: [u8; 20],
    pub torrent: PathBuf,
    pub file: PathBuf,
}

fn from_hex(h: &str) -> Option<[u8; 20]> {
    <[u8; 20]>::try_from(hex::decode(h).ok()?).ok()
}

impl AppState {
    fn torrent_path(&self, video: &Video) -> PathBuf {
        self.data_dir
            .join(TORRENTS_DIR)
            .join(format!("{}.torrent", source_stem(video)))
    }

    fn hls_dir(&self, video: &Video) -> PathBuf {
        self.data_dir.join(HLS_DIR).join(video.uuid.to_string())
    }

    /// Every torrent of a video: its source's and its HLS files', with their files.
    fn torrents_of(&self, video: &Video) -> Vec<(Option<[u8; 20]>, PathBuf, PathBuf)> {
        let mut all = Vec::new();
        if let Some(source) = &video.source {
            all.push((
                source.info_hash.as_deref().and_then(from_hex),
                self.torrent_path(video),
                self.data_dir.join(&source.path),
            ));
        }
        if let Some(outputs) = &video.outputs {
            for f in &outputs.hls.files {
                all.push((
                    f.info_hash.as_deref().and_then(from_hex),
                    self.data_dir
                        .join(TORRENTS_DIR)
                        .join(hls_torrent_name(video, f)),
                    self.hls_dir(video).join(&f.fragmented),
                ));
            }
        }
        all
    }

    /// What a BitTorrent seeder may give to anyone: the files of published videos that
    /// anyone with the link may watch, once their torrents are written. Files of private,
    /// internal and password-protected videos are served over HTTP to allowed viewers only.
    pub fn seedable_files(&self) -> ApiResult<Vec<SeedableFile>> {
        let mut files = Vec::new();
        for video in self.catalog.videos()? {
            let open = matches!(
                video.attributes.privacy,
                Privacy::Public | Privacy::Unlisted
            );
            if !open || video.state != VideoState::Published {
                continue;
            }
            for (hash, torrent, file) in self.torrents_of(&video) {
                if let Some(info_hash) = hash {
                    files.push(SeedableFile {
                        info_hash,
                        torrent,
                        file,
                    });
                }
            }
        }
        Ok(files)
    }

    /// The tracker URLs written into torrents and magnets: the node's own tracker.
    pub(crate) fn torrent_trackers(&self) -> Vec<String> {
        match self.settings.tracker.enabled {
            true => self.settings.tracker_urls(),
            false => Vec::new(),
        }
    }

    /// Resolves a file name of a video to its file on disk, for a viewer allowed to see it.
    fn file_for(
        &self,
        name: &str,
        kind: &Kind,
        viewer: Option<&peerbox_catalog::User>,
        req: &Request,
    ) -> ApiResult<(Video, PathBuf)> {
        let not_found = || ApiError::not_found("File not found");
        let uuid = name
            .get(..36)
            .and_then(|u| Uuid::parse_str(u).ok())
            .ok_or_else(not_found)?;
        let video = self
            .catalog
            .video(VideoRef::Uuid(uuid))?
            .ok_or_else(not_found)?;
        let source = video.source.as_ref().ok_or_else(not_found)?;
        let stem = source_stem(&video);
        let path = match kind {
            Kind::WebVideo if name == format!("{stem}{}", source.extension) => {
                self.data_dir.join(&source.path)
            }
            Kind::Torrent if name == format!("{stem}.torrent") => self.torrent_path(&video),
            Kind::Torrent if hls_torrent_resolution(&video, name).is_some() => {
                self.data_dir.join(TORRENTS_DIR).join(name)
            }
            _ => return Err(not_found()),
        };
        self.check_can_see(viewer, &video, true, req.headers())?;
        Ok((video, path))
    }

    /// Removes a deleted video's files: source, HLS folder, torrents; and tells the seeder
    /// to let go of them.
    pub async fn remove_video_files(&self, video: &Video) {
        self.files_changed.notify_one();
        let mut paths: Vec<PathBuf> = Vec::new();
        for (_, torrent, file) in self.torrents_of(video) {
            paths.push(torrent);
            paths.push(file);
        }
        for path in paths {
            if let Err(e) = tokio::fs::remove_file(&path).await
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!("could not remove {}: {e}", path.display());
            }
        }
        let hls = self.hls_dir(video);
        if let Err(e) = tokio::fs::remove_dir_all(&hls).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!("could not remove {}: {e}", hls.display());
        }
    }

    /// Writes the source file's torrent (web seed: its public URL) and records its infohash.
    pub async fn write_source_torrent(&self, video: &Video) -> anyhow::Result<()> {
        let Some(source) = video.source.clone() else {
            return Ok(());
        };
        let private = is_private_media(video);
        let file_url = format!(
            "{}/static/web-videos/{}{}",
            self.settings.public_url(),
            source_stem(video),
            source.extension
        );
        let torrent = self
            .write_torrent(
                self.data_dir.join(&source.path),
                self.torrent_path(video),
                (!private).then_some(file_url),
            )
            .await?;
        self.catalog.update_video(video.id, |v| {
            if let Some(s) = v.source.as_mut() {
                s.info_hash = Some(torrent.info_hash_hex());
            }
        })?;
        self.files_changed.notify_one();
        Ok(())
    }

    /// Writes the torrent of each HLS fragmented MP4 that has none yet (PeerTube's
    /// `{uuid}-{resolution}-hls.torrent`) and records its infohash, so that the tracker
    /// accepts it and the seeder picks it up.
    pub async fn write_hls_torrents(&self, video: &Video) -> anyhow::Result<()> {
        let Some(outputs) = &video.outputs else {
            return Ok(());
        };
        let base = self.hls_base_url(video);
        let private = is_private_media(video);
        for f in outputs.hls.files.iter().filter(|f| f.info_hash.is_none()) {
            let torrent = self
                .write_torrent(
                    self.hls_dir(video).join(&f.fragmented),
                    self.data_dir
                        .join(TORRENTS_DIR)
                        .join(hls_torrent_name(video, f)),
                    (!private).then(|| format!("{base}/{}", f.fragmented)),
                )
                .await?;
            self.catalog
                .set_hls_info_hash(video.id, &f.fragmented, &torrent.info_hash_hex())?;
        }
        self.files_changed.notify_one();
        Ok(())
    }

    /// Hashes `file` into a torrent at `target`, atomically. The name inside is the file's
    /// own name on disk, so that a BitTorrent client seeds it in place. Web seeds are left
    /// out for videos whose files need a signed-in viewer, as PeerTube does.
    async fn write_torrent(
        &self,
        file: PathBuf,
        target: PathBuf,
        web_seed: Option<String>,
    ) -> anyhow::Result<peerbox_p2p::Torrent> {
        let trackers = self.torrent_trackers();
        tokio::task::spawn_blocking(move || -> anyhow::Result<peerbox_p2p::Torrent> {
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| anyhow::anyhow!("no file name in {}", file.display()))?
                .to_string();
            let torrent = peerbox_p2p::create_torrent(&peerbox_p2p::TorrentRequest {
                path: &file,
                name: &name,
                trackers: &trackers,
                web_seeds: web_seed.as_slice(),
                creation_date: chrono::Utc::now().timestamp(),
            })?;
            crate::upload::write_atomically(&target, &torrent.metainfo)?;
            Ok(torrent)
        })
        .await?
    }
}

/// The resolution of an HLS file of `video` whose torrent is called `name`.
fn hls_torrent_resolution(video: &Video, name: &str) -> Option<u32> {
    video
        .outputs
        .as_ref()?
        .hls
        .files
        .iter()
        .find(|f| hls_torrent_name(video, f) == name)
        .map(|f| f.resolution)
}

/// Torrents are written after an upload and after a transcode; a crash may have left some
/// unwritten.
pub async fn generate_missing_torrents(state: &SharedState) {
    let videos = match state.catalog.videos() {
        Ok(v) => v,
        Err(e) => return tracing::warn!("cannot list videos: {e}"),
    };
    for video in &videos {
        if video.source.as_ref().is_some_and(|s| s.info_hash.is_none())
            && let Err(e) = state.write_source_torrent(video).await
        {
            tracing::warn!("torrent of video {} not written: {e:#}", video.uuid);
        }
        let hls_missing = video
            .outputs
            .as_ref()
            .is_some_and(|o| o.hls.files.iter().any(|f| f.info_hash.is_none()));
        if hls_missing && let Err(e) = state.write_hls_torrents(video).await {
            tracing::warn!("HLS torrents of video {} not written: {e:#}", video.uuid);
        }
    }
}

async fn serve(
    path: PathBuf,
    req: Request,
    content_type: &'static str,
    attachment: Option<String>,
) -> ApiResult<Response> {
    let mut response =
        ServeFile::new_with_mime(&path, &content_type.parse().map_err(ApiError::internal)?)
            .oneshot(req)
            .await
            .map_err(ApiError::internal)?
            .map(Body::new);
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    if let Some(name) = attachment {
        let value = format!(
            "attachment; filename=\"{}\"",
            name.replace(['"', '\\', '\r', '\n'], "_")
        );
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    Ok(response)
}

fn video_mime(video: &Video) -> &'static str {
    match video.source.as_ref().map(|s| s.extension.as_str()) {
        Some(".mp4" | ".m4v") => "video/mp4",
        Some(".webm") => "video/webm",
        Some(".ogv") => "video/ogg",
        Some(".mkv") => "video/x-matroska",
        Some(".mov") => "video/quicktime",
        _ => "application/octet-stream",
    }
}

async fn web_video(
    State(state): State<SharedState>,
    Viewer(viewer): Viewer,
    Path(name): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let (video, path) = state.file_for(&name, &Kind::WebVideo, viewer.as_ref(), &req)?;
    serve(path, req, video_mime(&video), None).await
}

fn check_download_allowed(
    state: &AppState,
    viewer: Option<&peerbox_catalog::User>,
    video: &Video,
) -> ApiResult<()> {
    let manager = match viewer {
        Some(u) => state.can_manage(u, video)?,
        None => false,
    };
    if !video.attributes.download_enabled && !manager {
        return Err(ApiError::forbidden("Video download is disabled"));
    }
    Ok(())
}

async fn download_web_video(
    State(state): State<SharedState>,
    Viewer(viewer): Viewer,
    Path(name): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let (video, path) = state.file_for(&name, &Kind::WebVideo, viewer.as_ref(), &req)?;
    check_download_allowed(&state, viewer.as_ref(), &video)?;
    let ext = video
        .source
        .as_ref()
        .map(|s| s.extension.clone())
        .unwrap_or_default();
    serve(
        path,
        req,
        video_mime(&video),
        Some(format!("{}{ext}", video.attributes.name)),
    )
    .await
}

fn hls_mime(name: &str) -> &'static str {
    if name.ends_with(".m3u8") {
        "application/vnd.apple.mpegurl"
    } else if name.ends_with(".json") {
        "application/json"
    } else {
        "video/mp4"
    }
}

/// A file of a video's HLS folder, if it is one the catalog lists (no other path is served).
fn hls_path(state: &AppState, video: &Video, name: &str) -> ApiResult<PathBuf> {
    let outputs = video
        .outputs
        .as_ref()
        .ok_or_else(|| ApiError::not_found("File not found"))?;
    let hls = &outputs.hls;
    let known = name == hls.master
        || name == hls.segments_sha256
        || hls
            .files
            .iter()
            .any(|f| name == f.playlist || name == f.fragmented);
    if !known {
        return Err(ApiError::not_found("File not found"));
    }
    Ok(state
        .data_dir
        .join(HLS_DIR)
        .join(video.uuid.to_string())
        .join(name))
}

async fn hls_file(
    State(state): State<SharedState>,
    Viewer(viewer): Viewer,
    Path((uuid, name)): Path<(String, String)>,
    req: Request,
) -> ApiResult<Response> {
    let uuid = Uuid::parse_str(&uuid).map_err(|_| ApiError::not_found("File not found"))?;
    let video = state
        .catalog
        .video(VideoRef::Uuid(uuid))?
        .ok_or_else(|| ApiError::not_found("File not found"))?;
    state.check_can_see(viewer.as_ref(), &video, true, req.headers())?;
    let path = hls_path(&state, &video, &name)?;
    serve(path, req, hls_mime(&name), None).await
}

/// `{uuid}-{res}-fragmented.mp4` as a download (PeerTube names HLS files after the video).
async fn download_hls_file(
    State(state): State<SharedState>,
    Viewer(viewer): Viewer,
    Path(name): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let not_found = || ApiError::not_found("File not found");
    let video = state
        .catalog
        .videos()?
        .into_iter()
        .find(|v| {
            v.outputs
                .as_ref()
                .is_some_and(|o| o.hls.files.iter().any(|f| f.fragmented == name))
        })
        .ok_or_else(not_found)?;
    state.check_can_see(viewer.as_ref(), &video, true, req.headers())?;
    check_download_allowed(&state, viewer.as_ref(), &video)?;
    let path = hls_path(&state, &video, &name)?;
    serve(
        path,
        req,
        "video/mp4",
        Some(format!("{}.mp4", video.attributes.name)),
    )
    .await
}

/// Thumbnails and previews are not secret (PeerTube serves them to anyone); the name must
/// be a plain file name.
async fn image(dir: &str, state: &AppState, name: &str, req: Request) -> ApiResult<Response> {
    if name.starts_with('.') || !name.ends_with(".jpg") || name.contains(['/', '\\']) {
        return Err(ApiError::not_found("File not found"));
    }
    let path = state.data_dir.join(dir).join(name);
    if !path.is_file() {
        return Err(ApiError::not_found("File not found"));
    }
    serve(path, req, "image/jpeg", None).await
}

async fn thumbnail(
    State(state): State<SharedState>,
    Path(name): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    image("media/thumbnails", &state, &name, req).await
}

async fn preview(
    State(state): State<SharedState>,
    Path(name): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    image("media/previews", &state, &name, req).await
}

/// The file as it was uploaded, for its owner and administrators only.
async fn download_source(
    State(state): State<SharedState>,
    Viewer(viewer): Viewer,
    Path(name): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    let not_found = || ApiError::not_found("File not found");
    let uuid = name
        .get(..36)
        .and_then(|u| Uuid::parse_str(u).ok())
        .ok_or_else(not_found)?;
    let video = state
        .catalog
        .video(VideoRef::Uuid(uuid))?
        .ok_or_else(not_found)?;
    let source = video.source.as_ref().ok_or_else(not_found)?;
    if name != format!("{uuid}{}", source.extension) {
        return Err(not_found());
    }
    let user = viewer.ok_or_else(|| {
        ApiError::unauthorized("Authentication is required to download the source file")
            .with_code("invalid_token")
    })?;
    if !state.can_manage(&user, &video)? {
        return Err(ApiError::forbidden(
            "Cannot download the source file of another user's video",
        ));
    }
    let path = state.data_dir.join(&source.path);
    serve(
        path,
        req,
        video_mime(&video),
        Some(source.original_name.clone()),
    )
    .await
}

async fn torrent_response(
    state: SharedState,
    viewer: Option<peerbox_catalog::User>,
    name: String,
    req: Request,
    download: bool,
) -> ApiResult<Response> {
    let (video, path) = state.file_for(&name, &Kind::Torrent, viewer.as_ref(), &req)?;
    if download {
        check_download_allowed(&state, viewer.as_ref(), &video)?;
    }
    if !path.exists() {
        return Ok(ApiError::not_found("Torrent not generated yet").into_response());
    }
    // PeerTube's download names: "{name}.torrent", "{name}-{resolution}p-hls.torrent".
    let attachment = match hls_torrent_resolution(&video, &name) {
        Some(res) => format!("{}-{res}p-hls.torrent", video.attributes.name),
        None => format!("{}.torrent", video.attributes.name),
    };
    serve(
        path,
        req,
        "application/x-bittorrent",
        download.then_some(attachment),
    )
    .await
}

async fn torrent(
    State(state): State<SharedState>,
    Viewer(viewer): Viewer,
    Path(name): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    torrent_response(state, viewer, name, req, false).await
}

async fn download_torrent(
    State(state): State<SharedState>,
    Viewer(viewer): Viewer,
    Path(name): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    torrent_response(state, viewer, name, req, true).await
}
