//! Remote videos age: their origin may have edited or deleted them without this node being
//! told (it was down, or the follow came later). As PeerTube does, a video fetched more than
//! [`VIDEO_REFRESH`] ago is fetched again from its origin: updated when it answers, removed
//! when the origin says it is gone (404 or 410), kept as it is otherwise.

use std::sync::Arc;

use chrono::{Duration, Utc};

use crate::Federation;
use crate::client::ClientError;

/// PeerTube refreshes a remote video two days after it last fetched it.
const VIDEO_REFRESH: Duration = Duration::days(2);

/// Videos refreshed per round; the next round takes the rest.
const BATCH: usize = 50;

impl Federation {
    /// Refreshes the remote videos that are due; returns how many were looked at.
    pub async fn refresh_remote_videos(&self) -> Result<usize, String> {
        let due_before = Utc::now() - VIDEO_REFRESH;
        let (videos, _) = self
            .catalog
            .remote_videos(0, usize::MAX)
            .map_err(|e| e.to_string())?;
        let due: Vec<_> = videos
            .into_iter()
            .filter(|v| v.fetched_at < due_before)
            .take(BATCH)
            .collect();
        for video in &due {
            let fetched = self
                .client
                .fetch_object(&video.url, Some(&self.instance_signer))
                .await;
            let outcome = match fetched {
                Ok(object) => self.import_video_object(&object).await,
                Err(ClientError::Status(404 | 410)) => {
                    self.catalog
                        .remove_remote_video(&video.url)
                        .map_err(|e| e.to_string())?;
                    tracing::info!(video = %video.url, "remote video gone at its origin");
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            };
            if let Err(e) = outcome {
                tracing::debug!(video = %video.url, "not refreshed: {e}");
            }
        }
        Ok(due.len())
    }

    /// Refreshes due remote videos every hour until `stop`.
    pub(crate) async fn run_refresh(self: Arc<Self>, stop: tokio_util::sync::CancellationToken) {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(std::time::Duration::from_secs(3600)) => {}
            }
            if let Err(e) = self.refresh_remote_videos().await {
                tracing::warn!("refreshing remote videos: {e}");
            }
        }
    }
}
