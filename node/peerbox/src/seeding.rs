//! BitTorrent seeding wired to the catalog: torrents of HLS files are written as videos are
//! published, and the seeder follows what the API says may be seeded whenever that may
//! have changed, and once a minute in case a change came some other way.

use std::time::{Duration, Instant};

use anyhow::Result;
use peerbox_api::SharedState;
use peerbox_catalog::Video;
use peerbox_seeder::{SeedFile, Seeder, SeederOptions};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SeedingSettings {
    /// Seed the node's files to BitTorrent clients, besides the web seed they always have.
    pub enabled: bool,
    /// TCP port for peers; 0 picks a free one at each start (peers learn it from the
    /// tracker). Set one to forward it on a home router.
    pub listen_port: u16,
    /// Peers connected at once per file.
    pub peer_limit: usize,
}

impl Default for SeedingSettings {
    fn default() -> Self {
        SeedingSettings {
            enabled: true,
            listen_port: 0,
            peer_limit: 20,
        }
    }
}

const RESYNC: Duration = Duration::from_secs(60);

/// Writes the torrents of each published video; then the seeder (if any) picks them up.
pub async fn write_published_torrents(state: SharedState, mut published: UnboundedReceiver<Video>) {
    while let Some(video) = published.recv().await {
        if let Err(e) = state.write_hls_torrents(&video).await {
            tracing::warn!("HLS torrents of video {} not written: {e:#}", video.uuid);
        }
    }
}

/// Starts the seeder and keeps it in step with the catalog until `stop` is cancelled.
pub async fn run(
    state: SharedState,
    settings: SeedingSettings,
    stop: CancellationToken,
) -> Result<()> {
    let seeder = Seeder::start(SeederOptions {
        state_dir: state.data_dir.join("seeding"),
        listen_port: settings.listen_port,
        peer_limit: settings.peer_limit,
    })
    .await?;
    tracing::info!(port = ?seeder.listen_port(), "BitTorrent seeding started");
    let mut first = true;
    loop {
        match state.seedable_files() {
            Ok(files) => {
                let wanted: Vec<SeedFile> = files
                    .into_iter()
                    .map(|f| SeedFile {
                        info_hash: f.info_hash,
                        torrent: f.torrent,
                        file: f.file,
                    })
                    .collect();
                let count = wanted.len();
                let started = Instant::now();
                let report = seeder.sync(wanted).await;
                if first || report.added + report.removed > 0 {
                    tracing::info!(
                        seeding = count - report.skipped,
                        added = report.added,
                        removed = report.removed,
                        skipped = report.skipped,
                        ms = started.elapsed().as_millis() as u64,
                        "seeding in step with the catalog"
                    );
                    first = false;
                }
            }
            Err(e) => tracing::warn!("cannot list the files to seed: {}", e.detail),
        }
        tokio::select! {
            _ = state.files_changed.notified() => {}
            _ = tokio::time::sleep(RESYNC) => {}
            _ = stop.cancelled() => break,
        }
    }
    seeder.stop().await;
    Ok(())
}
