//! The API's side of privacy: ownership through channels, and PeerTube's status codes for
//! each refusal of `peerbox_catalog::access`.

use axum::http::HeaderMap;
use peerbox_catalog::access::{self, Access};
use peerbox_catalog::{User, Video};

use crate::AppState;
use crate::error::{ApiError, ApiResult};

pub const PASSWORD_HEADER: &str = "x-peertube-video-password";

impl AppState {
    /// The account that owns a video, through its channel.
    pub fn video_account_id(&self, video: &Video) -> ApiResult<u64> {
        self.catalog
            .channel(video.attributes.channel_id)?
            .map(|c| c.account_id)
            .ok_or_else(|| ApiError::internal(format!("video {} has no channel", video.id)))
    }

    /// The owner, administrators and moderators may see and change any of a video.
    pub fn can_manage(&self, user: &User, video: &Video) -> ApiResult<bool> {
        Ok(access::can_manage(user, self.video_account_id(video)?))
    }

    /// Refuses with PeerTube's status codes when `viewer` may not see `video`.
    /// `by_uuid` says the request named the video by UUID or shortUUID rather than by its
    /// guessable numeric id; `headers` may carry a video password.
    pub fn check_can_see(
        &self,
        viewer: Option<&User>,
        video: &Video,
        by_uuid: bool,
        headers: &HeaderMap,
    ) -> ApiResult<()> {
        let password = headers.get(PASSWORD_HEADER).and_then(|v| v.to_str().ok());
        match access::access(
            video,
            self.video_account_id(video)?,
            viewer,
            by_uuid,
            password,
        ) {
            Access::Allowed => Ok(()),
            Access::NeedsLogin => Err(ApiError::unauthorized(
                "Authentication is required to see this video",
            )
            .with_code("invalid_token")),
            Access::Forbidden => Err(ApiError::forbidden(
                "Cannot fetch information of private/internal/blocked video",
            )),
            Access::NeedsPassword => Err(ApiError::forbidden(
                "Please provide a password to access this password protected video",
            )
            .with_code("video_requires_password")),
            Access::WrongPassword => Err(ApiError::forbidden(
                "Incorrect video password. Access to the video is denied.",
            )
            .with_code("incorrect_video_password")),
        }
    }
}
