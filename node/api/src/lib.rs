//! Peerbox's PeerTube-compatible REST API v1 and the static file routes of uploaded media.
//!
//! It turns HTTP requests into catalog reads and writes, enforces who may see and change
//! what (privacy, ownership, quotas) and streams uploads to disk. It does no media
//! processing (that is the media workers' job) and owns no tables.

mod auth;
mod error;
mod files;
mod format;
mod ota;
mod privacy;
mod remote;
mod routes;
mod settings;
mod setup;
mod upload;
mod validate;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use peerbox_catalog::Catalog;

pub use auth::{AdminUser, AuthUser, Viewer};
pub use error::{ApiError, ApiResult};
pub use files::SeedableFile;
pub use format::date as format_date;
pub use ota::OtaSettings;
pub use remote::{remote_actor_id, remote_video_json};
pub use routes::QueryPairs;
pub use settings::ApiSettings;
pub use upload::recover_uploads;

/// What a remote look-up resolves to, or why it failed.
pub type LookupFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<String, String>> + Send + 'a>>;

/// Fetches from other servers what a search names, as PeerTube's search does for URLs and
/// handles. Federation implements it; the API only asks (the crates depend downward).
pub trait RemoteLookup: Send + Sync {
    /// Fetches the video at `url` (`/videos/watch/{uuid}` or `/w/{shortUUID}`) from its
    /// origin and stores it; answers its ActivityPub id.
    fn video<'a>(&'a self, url: &'a str) -> LookupFuture<'a>;
    /// Resolves `name@host` or an actor URL to a remote channel and stores it; answers its
    /// actor URL.
    fn channel<'a>(&'a self, handle_or_url: &'a str) -> LookupFuture<'a>;
    /// Tells the origin of a remote video that it was watched here (PeerTube's `View`);
    /// queued, so it returns at once.
    fn viewed(&self, video_url: &str);
}

/// What every handler shares.
pub struct AppState {
    /// Shared with the media workers.
    pub catalog: Arc<Catalog>,
    pub settings: ApiSettings,
    pub data_dir: PathBuf,
    uploads_in_flight: upload::InFlight,
    setup: setup::SetupGate,
    views: RecentViews,
    /// Set by an administrator (`POST /api/v1/jobs/pause`); the media workers take no new
    /// job while it is set.
    pub jobs_paused: Arc<std::sync::atomic::AtomicBool>,
    /// Rung when a job is queued, so that idle workers start at once.
    pub jobs_queued: Arc<tokio::sync::Notify>,
    /// Rung when which files may be seeded may have changed (torrents written, a video
    /// deleted or its privacy changed), so that the BitTorrent seeder follows at once.
    pub files_changed: Arc<tokio::sync::Notify>,
    /// Set once at start by federation; without it searches find only what is stored.
    remote_lookup: std::sync::OnceLock<Arc<dyn RemoteLookup>>,
}

/// Who viewed which video lately, so that a reload does not count twice.
#[derive(Default)]
pub struct RecentViews(
    std::sync::Mutex<std::collections::HashMap<(std::net::IpAddr, u64), std::time::Instant>>,
);

impl RecentViews {
    /// Records a view; true when this address had not viewed this video within `lifetime`.
    pub fn first_in_a_while(
        &self,
        ip: std::net::IpAddr,
        video: u64,
        lifetime: std::time::Duration,
    ) -> bool {
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded: old entries go when the map grows.
        if seen.len() > 100_000 {
            seen.retain(|_, at| at.elapsed() < lifetime);
        }
        match seen.get(&(ip, video)) {
            Some(at) if at.elapsed() < lifetime => false,
            _ => {
                seen.insert((ip, video), std::time::Instant::now());
                true
            }
        }
    }
}

pub type SharedState = Arc<AppState>;

impl AppState {
    pub fn new(
        catalog: Arc<Catalog>,
        settings: ApiSettings,
        data_dir: PathBuf,
    ) -> anyhow::Result<SharedState> {
        let setup = match settings.setup.claim_code_file.as_str() {
            "" => setup::SetupGate::default(),
            _ if catalog.setting("claimed")?.as_deref() == Some("true") => {
                setup::SetupGate::default()
            }
            path => {
                let code = std::fs::read_to_string(path)
                    .map_err(|e| anyhow::anyhow!("setup.claim_code_file {path}: {e}"))?
                    .trim()
                    .to_string();
                anyhow::ensure!(!code.is_empty(), "setup.claim_code_file {path} is empty");
                setup::SetupGate::waiting(code)
            }
        };
        ota::prepare_requests_dir(&settings.ota, &data_dir)
            .map_err(|e| anyhow::anyhow!("preparing the update requests folder: {e}"))?;
        Ok(Arc::new(AppState {
            catalog,
            settings,
            data_dir,
            uploads_in_flight: Default::default(),
            setup,
            views: Default::default(),
            jobs_paused: Default::default(),
            jobs_queued: Default::default(),
            files_changed: Default::default(),
            remote_lookup: Default::default(),
        }))
    }

    /// Lets searches fetch from other servers; only the first call counts.
    pub fn set_remote_lookup(&self, lookup: Arc<dyn RemoteLookup>) {
        if self.remote_lookup.set(lookup).is_err() {
            tracing::warn!("the remote look-up was set twice; the first one stays");
        }
    }

    pub(crate) fn remote_lookup(&self) -> Option<&dyn RemoteLookup> {
        self.remote_lookup.get().map(|l| l.as_ref())
    }

    /// The name chosen when the box was claimed, or the configured one.
    pub fn instance_name(&self) -> String {
        self.instance_setting("instance_name", &self.settings.instance_name)
    }

    pub fn instance_short_description(&self) -> String {
        self.instance_setting(
            "instance_short_description",
            &self.settings.instance_short_description,
        )
    }

    pub fn instance_description(&self) -> String {
        self.instance_setting("instance_description", "")
    }

    /// What an administrator set on the settings page, or the configured default.
    fn instance_setting(&self, key: &str, default: &str) -> String {
        self.catalog
            .setting(key)
            .ok()
            .flatten()
            .unwrap_or_else(|| default.to_string())
    }
}

/// The node's HTTP surface: the API crate's routes plus `extra` (the tracker, the web
/// pages), all behind the setup gate. Serve it with connect info (the setup step and the
/// tracker limit requests per address).
pub fn router(state: SharedState, extra: Router) -> Router {
    routes::router()
        .merge(files::router())
        .route("/setup", axum::routing::get(setup::page))
        .with_state(state.clone())
        .merge(extra)
        .layer(axum::middleware::from_fn_with_state(state, setup::gate))
}

impl AppState {
    /// Every infohash this node's tracker serves: the HLS swarms of its videos and the
    /// torrents of its files.
    pub fn known_infohashes(&self) -> ApiResult<std::collections::HashSet<[u8; 20]>> {
        let mut known = std::collections::HashSet::new();
        for video in self.catalog.videos()? {
            let from_hex = |h: &str| <[u8; 20]>::try_from(hex::decode(h).ok()?).ok();
            known.extend(
                video
                    .source
                    .as_ref()
                    .and_then(|s| s.info_hash.as_deref())
                    .and_then(from_hex),
            );
            if let Some(outputs) = &video.outputs {
                let master = format!("{}/{}", self.hls_base_url(&video), outputs.hls.master);
                known.extend(peerbox_p2p::hls_infohashes(
                    &master,
                    outputs.hls.files.len(),
                ));
                known.extend(
                    outputs
                        .hls
                        .files
                        .iter()
                        .filter_map(|f| f.info_hash.as_deref())
                        .filter_map(from_hex),
                );
            }
        }
        Ok(known)
    }
}

/// Background upkeep: abandoned uploads, expired tokens, missing torrents. Runs until the
/// process ends.
pub async fn run_housekeeping(state: SharedState) {
    files::generate_missing_torrents(&state).await;
    let mut tick = tokio::time::interval(state.settings.uploads.sweep_interval());
    loop {
        tick.tick().await;
        if let Err(e) = upload::sweep_abandoned(&state).await {
            tracing::warn!("upload sweep failed: {e:?}");
        }
        if let Err(e) = state.catalog.sweep_expired_tokens() {
            tracing::warn!("token sweep failed: {e}");
        }
    }
}
