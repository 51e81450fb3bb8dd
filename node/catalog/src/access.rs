//! Who may see which video: PeerTube's five privacy levels as plain rules, so that the API,
//! the web pages and the file routes all decide the same way.

use crate::model::{Privacy, User, Video, VideoState};

/// The answer to "may this viewer see this video?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Allowed,
    /// Signing in may help (private, internal, or unlisted named by its numeric id).
    NeedsLogin,
    /// Signed in, but not allowed.
    Forbidden,
    /// Password-protected and no password given.
    NeedsPassword,
    WrongPassword,
}

/// Whether `user` may see and change anything of a video owned by `owner_account_id`:
/// its owner, administrators and moderators.
pub fn can_manage(user: &User, owner_account_id: u64) -> bool {
    user.role.manages_all_videos() || user.account_id == owner_account_id
}

/// `by_uuid`: the video was named by its UUID or shortUUID (unlisted videos are shared that
/// way) rather than by its guessable numeric id.
pub fn access(
    video: &Video,
    owner_account_id: u64,
    viewer: Option<&User>,
    by_uuid: bool,
    password: Option<&str>,
) -> Access {
    let privacy = video.attributes.privacy;
    let manager = viewer.is_some_and(|u| can_manage(u, owner_account_id));
    let needs_user = matches!(privacy, Privacy::Private | Privacy::Internal)
        || (privacy == Privacy::Unlisted && !by_uuid);
    if needs_user {
        return match viewer {
            None => Access::NeedsLogin,
            Some(_) if privacy == Privacy::Internal || manager => Access::Allowed,
            Some(_) => Access::Forbidden,
        };
    }
    if privacy == Privacy::PasswordProtected && !manager {
        return match password {
            None => Access::NeedsPassword,
            Some(p) if video.attributes.passwords.iter().any(|known| known == p) => Access::Allowed,
            Some(_) => Access::WrongPassword,
        };
    }
    Access::Allowed
}

/// Whether a video appears in public lists, searches and feeds for this viewer: published
/// (or not waiting for transcoding), and public, or internal for a signed-in user.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;
    use chrono::Utc;
    use uuid::Uuid;

    fn user(id: u64, role: Role) -> User {
        User {
            id,
            username: format!("u{id}"),
            email: String::new(),
            password_hash: String::new(),
            role,
            video_quota: -1,
            video_quota_daily: -1,
            account_id: id,
            created_at: Utc::now(),
        }
    }

    fn video(privacy: Privacy) -> Video {
        let now = Utc::now();
        Video {
            id: 1,
            uuid: Uuid::new_v4(),
            attributes: VideoAttributes {
                passwords: vec!["pw".into()],
                wait_transcoding: false,
                ..VideoAttributes::new("v", 1, privacy)
            },
            state: VideoState::Published,
            source: None,
            outputs: None,
            error: None,
            duration: 0,
            views: 0,
            likes: 0,
            dislikes: 0,
            created_at: now,
            updated_at: now,
            published_at: now,
        }
    }

    #[test]
    fn peertube_matrix() {
        use Access::*;
        let (owner, other, admin) = (
            user(1, Role::User),
            user(2, Role::User),
            user(3, Role::Administrator),
        );
        let viewers = [None, Some(&other), Some(&owner), Some(&admin)];
        let check = |privacy, by_uuid, password, expected: [Access; 4]| {
            let v = video(privacy);
            let got: Vec<Access> = viewers
                .iter()
                .map(|viewer| access(&v, 1, *viewer, by_uuid, password))
                .collect();
            assert_eq!(
                got, expected,
                "{privacy:?} by_uuid={by_uuid} password={password:?}"
            );
        };
        check(Privacy::Public, false, None, [Allowed; 4]);
        check(Privacy::Unlisted, true, None, [Allowed; 4]);
        check(
            Privacy::Unlisted,
            false,
            None,
            [NeedsLogin, Forbidden, Allowed, Allowed],
        );
        check(
            Privacy::Private,
            true,
            None,
            [NeedsLogin, Forbidden, Allowed, Allowed],
        );
        check(
            Privacy::Internal,
            true,
            None,
            [NeedsLogin, Allowed, Allowed, Allowed],
        );
        check(
            Privacy::PasswordProtected,
            true,
            None,
            [NeedsPassword, NeedsPassword, Allowed, Allowed],
        );
        check(Privacy::PasswordProtected, true, Some("pw"), [Allowed; 4]);
        check(
            Privacy::PasswordProtected,
            true,
            Some("no"),
            [WrongPassword, WrongPassword, Allowed, Allowed],
        );
    }

    #[test]
    fn listing() {
        let signed_in = user(2, Role::User);
        assert!(is_listed(None, &video(Privacy::Public)));
        assert!(!is_listed(None, &video(Privacy::Internal)));
        assert!(is_listed(Some(&signed_in), &video(Privacy::Internal)));
        for p in [
            Privacy::Unlisted,
            Privacy::Private,
            Privacy::PasswordProtected,
        ] {
            assert!(!is_listed(Some(&signed_in), &video(p)));
        }
        let mut waiting = video(Privacy::Public);
        waiting.state = VideoState::ToTranscode;
        waiting.attributes.wait_transcoding = true;
        assert!(!is_listed(None, &waiting));
        waiting.attributes.wait_transcoding = false;
        assert!(is_listed(None, &waiting));
    }
}
