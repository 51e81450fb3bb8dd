//! Peerbox's PeerTube-compatible REST API v1 and the static file routes of uploaded media.
//!
//! It turns HTTP requests into catalog reads and writes, enforces who may see and change
//! what (privacy, ownership, quotas) and streams uploads to disk. It does no media
//! processing (that is the media workers' job) and owns no tables.

mod auth;
mod error;
mod files;
mod format;
mod privacy;
mod routes;
mod settings;
mod upload;
mod validate;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use peerbox_catalog::Catalog;

pub use error::{ApiError, ApiResult};
pub use settings::ApiSettings;
pub use upload::recover_uploads;

/// What every handler shares.
pub struct AppState {
    /// Shared with the media workers.
    pub catalog: Arc<Catalog>,
    pub settings: ApiSettings,
    pub data_dir: PathBuf,
    uploads_in_flight: upload::InFlight,
}

pub type SharedState = Arc<AppState>;

impl AppState {
    pub fn new(catalog: Arc<Catalog>, settings: ApiSettings, data_dir: PathBuf) -> SharedState {
        Arc::new(AppState {
            catalog,
            settings,
            data_dir,
            uploads_in_flight: Default::default(),
        })
    }
}

/// The whole HTTP surface of the API crate.
pub fn router(state: SharedState) -> Router {
    routes::router().merge(files::router()).with_state(state)
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
