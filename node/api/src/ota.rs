//! `/api/v1/admin/ota`: the over-the-air update status and admin-initiated installs.
//!
//! The node runs unprivileged, so it installs nothing itself: it reads the updater's status
//! with the ota library (read-only) and hands work to a root unit by writing request files
//! into `<data_dir>/ota`: `check` (install the newest update from the feed), `bundle.pbx`
//! (install this uploaded, already verified bundle) and `reboot` (reboot into the pending
//! update). That unit picks them up, deletes them and runs `peerbox ota …`. Each request
//! appears whole or not at all: written as `.NAME.part`, synced, renamed.

use std::fs::File;
use std::path::{Path, PathBuf};

use axum::Json;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{StatusCode, header};
use futures_util::StreamExt;
use peerbox_ota::{Ota, OtaConfig, Status};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::SharedState;
use crate::auth::AdminUser;
use crate::error::{ApiError, ApiResult};

/// Folder of the data dir that the root unit watches for requests.
const REQUESTS_DIR: &str = "ota";
const CHECK: &str = "check";
const BUNDLE: &str = "bundle.pbx";
const REBOOT: &str = "reboot";
/// Free space left for the catalog and media once a bundle is stored, as uploads keep.
const SPACE_MARGIN: u64 = 256 * 1024 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct OtaSettings {
    /// The updater's configuration (board, keyring, slots). Without it, as on a laptop,
    /// updates are not available.
    pub config: PathBuf,
}

impl Default for OtaSettings {
    fn default() -> Self {
        OtaSettings {
            config: peerbox_ota::config::DEFAULT_PATH.into(),
        }
    }
}

fn part_name(name: &str) -> String {
    format!(".{name}.part")
}

/// At start-up: on a system with an updater, makes the requests folder (so that it belongs
/// to the node's user, who writes it) and removes what a killed upload left half-written.
pub fn prepare_requests_dir(settings: &OtaSettings, data_dir: &Path) -> std::io::Result<()> {
    let dir = data_dir.join(REQUESTS_DIR);
    if settings.config.exists() {
        std::fs::create_dir_all(&dir)?;
    }
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name.ends_with(".part") {
            tracing::info!("removing the unfinished update request {name}");
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// The updater of this system; None when it has none.
fn open_updater(config: &Path) -> peerbox_ota::Result<Option<Ota>> {
    if !config.exists() {
        return Ok(None);
    }
    Ok(Some(Ota::new(OtaConfig::load(config)?)?))
}

fn unavailable_reason(config: &Path) -> String {
    format!(
        "Updates are not available on this system: there is no updater configuration ({}).",
        config.display()
    )
}

fn updater_error(e: peerbox_ota::Error) -> ApiError {
    tracing::error!("updater: {e}");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("The updater failed: {e}"),
    )
}

/// The updater and its status, for a request that acts on them.
fn ready(config: &Path) -> ApiResult<(Ota, Status)> {
    let ota = open_updater(config)
        .map_err(updater_error)?
        .ok_or_else(|| ApiError::conflict(unavailable_reason(config)))?;
    let status = ota.status().map_err(updater_error)?;
    Ok((ota, status))
}

/// Request files waiting for the root unit, by name.
fn waiting_requests(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            for entry in entries {
                let name = entry?.file_name().to_string_lossy().into_owned();
                if !name.starts_with('.') {
                    names.push(name);
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    names.sort();
    Ok(names)
}

/// Refuses to start an install while one runs, is requested, or a trial is being settled.
fn refuse_if_busy(status: &Status, dir: &Path) -> ApiResult<()> {
    if let Some(p) = &status.progress {
        return Err(ApiError::conflict(format!(
            "An update{} is being installed; wait until it is done.",
            p.version
                .as_deref()
                .map(|v| format!(" to {v}"))
                .unwrap_or_default()
        )));
    }
    if let Some(p) = &status.pending {
        let busy = match p.state {
            "trial" => "is on its trial boot: it must be committed or rolled back first",
            "rebooting" => "is being started: the box is rebooting",
            "rolling-back" => "failed its trial: the box is rebooting into the previous version",
            _ => "",
        };
        if !busy.is_empty() {
            return Err(ApiError::conflict(format!("Version {} {busy}.", p.version)));
        }
    }
    if dir.join(part_name(BUNDLE)).exists() {
        return Err(ApiError::conflict("A bundle is being uploaded."));
    }
    let waiting = waiting_requests(dir)?;
    if waiting.iter().any(|n| n == CHECK || n == BUNDLE) {
        return Err(ApiError::conflict(format!(
            "An update request is already waiting for the updater ({}).",
            waiting.join(", ")
        )));
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Makes `dir/.NAME.part` (already synced) visible as `dir/NAME`, durably.
fn publish(dir: &Path, name: &str) -> std::io::Result<()> {
    std::fs::rename(dir.join(part_name(name)), dir.join(name))?;
    sync_dir(dir)
}

fn write_request(dir: &Path, name: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    File::create(dir.join(part_name(name)))?.sync_all()?;
    publish(dir, name)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(ApiError::internal)?
}

fn status_json(s: &Status) -> Value {
    let at = |secs: u64| {
        chrono::DateTime::from_timestamp(secs.try_into().unwrap_or(i64::MAX), 0)
            .map(|d| crate::format::date(&d))
    };
    json!({
        "available": true,
        "board": s.board,
        "slots": s.slots,
        "currentVersion": s.current_version,
        "bootedSlot": s.booted.map(|b| b.to_string()),
        "primarySlot": s.primary.map(|b| b.to_string()),
        "trial": s.trial,
        "pending": s.pending.as_ref().map(|p| json!({
            "version": p.version,
            "slot": p.slot.to_string(),
            "state": p.state,
        })),
        "lastResult": s.last_result.as_ref().map(|o| json!({
            "version": o.version,
            "result": o.result,
            "message": o.message,
            "at": at(o.at),
        })),
        "lastLog": s.last_log,
        "progress": s.progress.as_ref().map(|p| json!({
            "stage": p.stage,
            "version": p.version,
            "done": p.done,
            "total": p.total,
            "percent": (p.done * 100).checked_div(p.total),
        })),
        "minimumVersion": s.minimum_version,
        "error": s.error,
    })
}

impl crate::AppState {
    fn ota_requests_dir(&self) -> PathBuf {
        self.data_dir.join(REQUESTS_DIR)
    }
}

/// `GET /api/v1/admin/ota`: versions, last result, progress, and the requests waiting.
pub async fn status(State(state): State<SharedState>, _: AdminUser) -> ApiResult<Json<Value>> {
    let config = state.settings.ota.config.clone();
    let dir = state.ota_requests_dir();
    blocking(move || {
        let mut body = match open_updater(&config) {
            Ok(None) => json!({ "available": false, "reason": unavailable_reason(&config) }),
            Err(e) => json!({
                "available": false,
                "reason": format!("The updater's configuration {} cannot be used: {e}", config.display()),
            }),
            Ok(Some(ota)) => match ota.status() {
                Ok(s) => status_json(&s),
                Err(e) => json!({ "available": true, "error": e.to_string() }),
            },
        };
        body["requests"] = json!(waiting_requests(&dir)?);
        Ok(Json(body))
    })
    .await
}

/// `POST /api/v1/admin/ota/check`: install the newest update of the feed, if any.
pub async fn check(State(state): State<SharedState>, _: AdminUser) -> ApiResult<StatusCode> {
    let config = state.settings.ota.config.clone();
    let dir = state.ota_requests_dir();
    blocking(move || {
        let (_, status) = ready(&config)?;
        refuse_if_busy(&status, &dir)?;
        write_request(&dir, CHECK)?;
        Ok(StatusCode::ACCEPTED)
    })
    .await
}

/// `POST /api/v1/admin/ota/reboot`: reboot into the update waiting for it.
pub async fn reboot(State(state): State<SharedState>, _: AdminUser) -> ApiResult<StatusCode> {
    let config = state.settings.ota.config.clone();
    let dir = state.ota_requests_dir();
    blocking(move || {
        let (_, status) = ready(&config)?;
        refuse_if_busy(&status, &dir)?;
        if status.pending.as_ref().map(|p| p.state) != Some("reboot-required") {
            return Err(ApiError::conflict("No update is waiting for a reboot."));
        }
        write_request(&dir, REBOOT)?;
        Ok(StatusCode::ACCEPTED)
    })
    .await
}

fn no_space() -> ApiError {
    ApiError::new(
        StatusCode::INSUFFICIENT_STORAGE,
        "Not enough free disk space on this node to store the bundle",
    )
}

/// The uploaded bundle's file while it is received and checked; removed unless published.
struct Incoming {
    file: tokio::fs::File,
    path: Option<PathBuf>,
    received: u64,
    /// Bytes the disk can take while keeping its margin.
    room: u64,
}

impl Incoming {
    async fn write(&mut self, chunk: &[u8]) -> ApiResult<()> {
        self.received += chunk.len() as u64;
        if self.received > self.room {
            return Err(no_space());
        }
        self.file
            .write_all(chunk)
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::StorageFull => no_space(),
                _ => ApiError::internal(e),
            })
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Why a bundle is refused: what the library found wrong with it, or an updater failure.
fn refusal(e: peerbox_ota::Error) -> ApiError {
    use peerbox_ota::Error::*;
    match e {
        NotABundle
        | UnsupportedFormat(_)
        | Malformed(_)
        | Truncated(_)
        | UnknownKey { .. }
        | BadSignature { .. }
        | BadIndex { .. }
        | BadBlock { .. }
        | PayloadHash { .. }
        | WrongBoard { .. }
        | Downgrade { .. }
        | Incompatible { .. }
        | Version { .. } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("The bundle was refused: {e}"),
        ),
        other => updater_error(other),
    }
}

/// `POST /api/v1/admin/ota/upload`: a bundle as the body (`application/octet-stream`) or as
/// the multipart field `bundle`. It streams to disk, is verified against the device's
/// keyring and policy as `peerbox ota verify` does, and only then becomes the `bundle.pbx`
/// request.
pub async fn upload(
    State(state): State<SharedState>,
    _: AdminUser,
    request: Request,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let config = state.settings.ota.config.clone();
    let dir = state.ota_requests_dir();
    let ota = blocking({
        let dir = dir.clone();
        move || {
            let (ota, status) = ready(&config)?;
            refuse_if_busy(&status, &dir)?;
            std::fs::create_dir_all(&dir)?;
            Ok(ota)
        }
    })
    .await?;
    let room = fs4::available_space(&dir)?.saturating_sub(SPACE_MARGIN);
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > room) {
        return Err(no_space());
    }
    let path = dir.join(part_name(BUNDLE));
    // Creating it is the claim on the one upload slot.
    let file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => ApiError::conflict("A bundle is being uploaded."),
            _ => ApiError::internal(e),
        })?;
    let mut incoming = Incoming {
        file,
        path: Some(path.clone()),
        received: 0,
        room,
    };
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if multipart {
        receive_multipart(request, &mut incoming).await?;
    } else {
        let mut body = request.into_body().into_data_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk
                .map_err(|e| ApiError::bad_request(format!("The upload was cut short: {e}")))?;
            incoming.write(&chunk).await?;
        }
    }
    if incoming.received == 0 {
        return Err(ApiError::invalid_param(
            "bundle",
            "Should have a bundle file",
        ));
    }
    incoming.file.sync_all().await?;
    let size = incoming.received;
    let header = blocking(move || ota.verify_file(&path, &|_| {}).map_err(refusal)).await?;
    blocking({
        let dir = dir.clone();
        move || Ok(publish(&dir, BUNDLE)?)
    })
    .await?;
    incoming.path = None;
    tracing::info!(
        "bundle {} for {} uploaded ({size} bytes, signed by {}); waiting for the updater",
        header.manifest.version,
        header.manifest.board,
        header.signed_by
    );
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "version": header.manifest.version,
            "board": header.manifest.board,
            "signedBy": header.signed_by,
            "size": size,
        })),
    ))
}

async fn receive_multipart(request: Request, incoming: &mut Incoming) -> ApiResult<()> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        ApiError::bad_request(format!("Malformed multipart body: {}", e.body_text()))
    };
    let mut multipart = Multipart::from_request(request, &())
        .await
        .map_err(|e| ApiError::bad_request(e.body_text()))?;
    let mut found = false;
    while let Some(mut field) = multipart.next_field().await.map_err(bad)? {
        if field.name() == Some("bundle") && !found {
            found = true;
            while let Some(chunk) = field.chunk().await.map_err(bad)? {
                incoming.write(&chunk).await?;
            }
        } else {
            while field.chunk().await.map_err(bad)?.is_some() {}
        }
    }
    Ok(())
}
