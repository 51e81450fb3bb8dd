//! Who may see which video: PeerTube's five privacy levels, applied the same way on every
//! read (API, files, lists).

use axum::http::HeaderMap;
use peerbox_catalog::{Privacy, User, Video, VideoState};

use crate::AppState;
use crate::error::{ApiError, ApiResult};

pub const PASSWORD_HEADER: &str = "x-peertube-video-password";

impl AppState {
    /// The account that owns a video, through its channel.
    pub fn video_account_id(&self, video: &Video) -> ApiResult<u64> {
        Ok(self
            .catalog
            .channel(video.attributes.channel_id)?
            .map(|c| c.account_id)
            .ok_or_else(|| ApiError::internal(format!("video {} has no channel", video.id)))?)
    }

    /// The owner, administrators and moderators may see and change any of a video.
    pub fn can_manage(&self, user: &User, video: &Video) -> ApiResult<bool> {
        Ok(user.role.manages_all_videos() || self.video_account_id(video)? == user.account_id)
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
        let privacy = video.attributes.privacy;
        let needs_user = matches!(privacy, Privacy::Private | Privacy::Internal)
            || (privacy == Privacy::Unlisted && !by_uuid);
        if needs_user {
            let Some(user) = viewer else {
                return Err(
                    ApiError::unauthorized("Authentication is required to see this video")
                        .with_code("invalid_token"),
                );
            };
            if privacy == Privacy::Internal || self.can_manage(user, video)? {
                return Ok(());
            }
            return Err(ApiError::forbidden(
                "Cannot fetch information of private/internal/blocked video",
            ));
        }
        if privacy == Privacy::PasswordProtected {
            if let Some(user) = viewer
                && self.can_manage(user, video)?
            {
                return Ok(());
            }
            let given = headers.get(PASSWORD_HEADER).and_then(|v| v.to_str().ok());
            return match given {
                None => Err(ApiError::forbidden(
                    "Please provide a password to access this password protected video",
                )
                .with_code("video_requires_password")),
                Some(p) if video.attributes.passwords.iter().any(|known| known == p) => Ok(()),
                Some(_) => Err(ApiError::forbidden(
                    "Incorrect video password. Access to the video is denied.",
                )
                .with_code("incorrect_video_password")),
            };
        }
        Ok(())
    }
}

/// Whether a video appears in public lists and searches for this viewer: published (or
/// not waiting for transcoding), and public, or internal for a signed-in user.
pub fn is_listed(viewer: Option<&User>, video: &Video) -> bool {
    let available = video.state == VideoState::Published
        || (video.state == VideoState::ToTranscode && !video.attributes.wait_transcoding);
    let privacy_ok = match video.attributes.privacy {
        Privacy::Public => true,
        Privacy::Internal => viewer.is_some(),
        _ => false,
    };
    available && privacy_ok
}
