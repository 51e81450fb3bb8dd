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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::Router;
    use axum::extract::Path;
    use axum::http::StatusCode;
    use axum::routing::get;
    use chrono::{Duration, Utc};
    use peerbox_catalog::{Catalog, RemoteVideo};

    use crate::client::test_support::serve;
    use crate::{Federation, Settings};

    fn remote_video(url: String, fetched_days_ago: i64) -> RemoteVideo {
        let now = Utc::now();
        RemoteVideo {
            url: url.clone(),
            uuid: uuid::Uuid::new_v4(),
            name: "Elsewhere".into(),
            description: None,
            duration: 10,
            channel_url: "https://localhost/video-channels/them".into(),
            account_url: "https://localhost/accounts/them".into(),
            watch_url: url,
            thumbnail_url: None,
            privacy: 1,
            language: None,
            category: None,
            licence: None,
            nsfw: false,
            comments_enabled: true,
            download_enabled: true,
            tags: Vec::new(),
            views: 0,
            likes: 0,
            dislikes: 0,
            is_live: false,
            hls: None,
            published_at: now,
            updated_at: now,
            fetched_at: now - Duration::days(fetched_days_ago),
        }
    }

    #[tokio::test]
    async fn due_videos_gone_at_their_origin_go_and_the_others_stay() {
        // The origin: `gone` videos were deleted there, the others are out of reach.
        let origin = serve(Router::new().route(
            "/videos/watch/{id}",
            get(|Path(id): Path<String>| async move {
                match id.starts_with("gone") {
                    true => StatusCode::GONE,
                    false => StatusCode::SERVICE_UNAVAILABLE,
                }
            }),
        ))
        .await;
        let dir = tempfile::tempdir().expect("temp dir");
        let catalog = Arc::new(Catalog::open(&dir.path().join("catalog.redb")).expect("catalog"));
        let api = peerbox_api::AppState::new(
            catalog.clone(),
            Default::default(),
            dir.path().to_path_buf(),
        )
        .expect("api state");
        let settings = Settings {
            public_url: "https://here.example".into(),
            public_host: "here.example".into(),
            instance_name: "Here".into(),
            instance_short_description: String::new(),
            tracker_enabled: false,
            video_quota: -1,
            video_quota_daily: -1,
            client: origin.settings(),
            federate_unlisted: false,
            manual_approval: false,
            backoff: Default::default(),
            inbox_rate: (50.0, 500.0),
        };
        let fed = Federation::start(api, settings, dir.path()).expect("federation");
        let deleted = remote_video(origin.url("/videos/watch/gone-1"), 3);
        let unreachable = remote_video(origin.url("/videos/watch/down-1"), 3);
        let recent = remote_video(origin.url("/videos/watch/gone-2"), 1);
        for v in [&deleted, &unreachable, &recent] {
            catalog.upsert_remote_video(v).expect("store");
        }

        assert_eq!(fed.refresh_remote_videos().await.expect("refresh"), 2);
        let kept = |v: &RemoteVideo| catalog.remote_video(&v.url).expect("read").is_some();
        assert!(!kept(&deleted), "a video gone at its origin stays");
        assert!(kept(&unreachable), "an origin that is down loses its video");
        assert!(kept(&recent), "a video fetched yesterday was fetched again");
    }
}
