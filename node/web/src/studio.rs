//! The uploader's pages: My videos (state and processing progress, followed live), the
//! upload page (resumable protocol, driven by upload.js) and the edit page (metadata saved
//! through the API by studio.js; the thumbnail here).

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use peerbox_catalog::access::can_manage;
use peerbox_catalog::{Channel, JobState, Privacy, User, Video, VideoState};
use serde_json::{Value, json};

use crate::error::{WebError, WebResult};
use crate::images::{FormData, ImageKind, THUMBNAILS_DIR};
use crate::page::{self, Meta};
use crate::session::Session;
use crate::videos::watch_path;
use crate::{Shared, Web};

/// Where a video is in its processing, as its owner is told.
struct Progress {
    label: String,
    /// Percent, while a transcoding job runs or waits.
    percent: Option<u8>,
    /// Nothing more will change without the owner acting.
    done: bool,
    error: Option<String>,
}

impl Web {
    fn progress_of(&self, v: &Video, jobs: &[peerbox_catalog::Job]) -> Progress {
        let job = jobs
            .iter()
            .filter(|j| j.video_id == v.id && j.kind == "video-transcoding")
            .max_by_key(|j| j.id);
        match v.state {
            VideoState::Published => Progress {
                label: v.state.label().into(),
                percent: None,
                done: true,
                error: None,
            },
            VideoState::TranscodingFailed => Progress {
                label: v.state.label().into(),
                percent: None,
                done: true,
                error: v.error.clone(),
            },
            VideoState::ToTranscode => match job.map(|j| (j.state, j.progress, j.error.clone())) {
                Some((JobState::Active, p, _)) => Progress {
                    label: "Transcoding".into(),
                    percent: Some(p.unwrap_or(0)),
                    done: false,
                    error: None,
                },
                Some((JobState::Pending, _, Some(e))) => Progress {
                    label: "Transcoding will be retried".into(),
                    percent: Some(0),
                    done: false,
                    error: Some(e),
                },
                _ => Progress {
                    label: "Waiting to be transcoded".into(),
                    percent: Some(0),
                    done: false,
                    error: None,
                },
            },
        }
    }

    /// The user's own videos, whatever their privacy and state (the API's `users/me/videos`).
    fn my_videos_of(&self, user: &User) -> WebResult<Vec<Video>> {
        let channels: Vec<u64> = self
            .catalog()
            .channels_of_account(user.account_id)?
            .iter()
            .map(|c| c.id)
            .collect();
        Ok(self
            .catalog()
            .videos()?
            .into_iter()
            .filter(|v| channels.contains(&v.attributes.channel_id))
            .collect())
    }
}

pub async fn my_videos(State(web): State<Shared>, session: Session) -> WebResult<Markup> {
    let user = session.require("/my-library/videos")?;
    let videos = web.my_videos_of(user)?;
    let jobs = web.catalog().jobs()?;
    let body = html! {
        h1 { "My videos" }
        p { a.button href="/videos/upload" { "Upload a video" } }
        @if videos.is_empty() {
            p.empty { "You have not uploaded any video yet." }
        }
        ul #my-videos.my-videos data-status-url="/my-library/videos/status.json" {
            @for v in &videos {
                @let p = web.progress_of(v, &jobs);
                li data-video-uuid=(v.uuid) data-final=(p.done) {
                    a.thumb href=(watch_path(v)) tabindex="-1" aria-hidden="true" {
                        @if let Some(t) = web.thumbnail_path(v) {
                            img src=(t) alt="" width="160" height="90" loading="lazy";
                        } @else {
                            span.thumb-placeholder {}
                        }
                    }
                    div {
                        h2 { a href=(watch_path(v)) { (v.attributes.name) } }
                        p.meta {
                            span.badge { (v.attributes.privacy.label()) } " · "
                            span.video-state { (p.label) } " "
                            progress max="100" value=(p.percent.unwrap_or(0)) hidden[p.percent.is_none()] aria-label="Processing progress" {
                                (p.percent.unwrap_or(0)) " %"
                            }
                            span.video-progress-text { @if let Some(pc) = p.percent { (pc) " %" } }
                        }
                        p.video-error.error hidden[p.error.is_none()] { (p.error.as_deref().unwrap_or("")) }
                        p { a href={ "/videos/manage/" (v.uuid) } { "Edit" } }
                    }
                }
            }
        }
    };
    Ok(page::page(
        &web,
        &session,
        Meta {
            title: "My videos".into(),
            noindex: true,
            scripts: vec!["studio.js"],
            ..Meta::default()
        },
        body,
    ))
}

pub async fn my_videos_status(State(web): State<Shared>, session: Session) -> WebResult<Response> {
    let Some(user) = &session.user else {
        return Ok((
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "sign in first" })),
        )
            .into_response());
    };
    let jobs = web.catalog().jobs()?;
    let videos: Vec<Value> = web
        .my_videos_of(user)?
        .iter()
        .map(|v| {
            let p = web.progress_of(v, &jobs);
            json!({
                "uuid": v.uuid,
                "state": v.state.id(),
                "stateLabel": p.label,
                "progress": p.percent,
                "final": p.done,
                "error": p.error,
                "thumbnail": web.thumbnail_path(v),
            })
        })
        .collect();
    Ok(Json(json!({ "videos": videos })).into_response())
}

fn privacy_options(selected: Privacy) -> Markup {
    html! {
        // Password-protected videos need passwords, which only the API sets for now.
        @for p in [Privacy::Public, Privacy::Unlisted, Privacy::Internal, Privacy::Private] {
            option value=(p.id()) selected[p == selected] { (p.label()) }
        }
        @if selected == Privacy::PasswordProtected {
            option value=(selected.id()) selected { (selected.label()) }
        }
    }
}

fn channel_options(channels: &[Channel], selected: u64) -> Markup {
    html! {
        @for c in channels {
            option value=(c.id) selected[c.id == selected] { (c.display_name) }
        }
    }
}

pub async fn upload_page(State(web): State<Shared>, session: Session) -> WebResult<Markup> {
    let user = session.require("/videos/upload")?;
    let channels = web.catalog().channels_of_account(user.account_id)?;
    let first = channels.first().map_or(0, |c| c.id);
    let body = html! {
        section.narrow {
            h1 { "Upload a video" }
            form #upload-form method="post" data-token=(session.access_token.as_deref().unwrap_or("")) {
                label for="videofile" { "Video file" }
                input #videofile type="file" name="videofile" accept="video/*,audio/*,.mkv,.mov,.m4v" required;
                label for="name" { "Title" }
                input #name type="text" name="name" required minlength="3" maxlength="120";
                label for="channelId" { "Channel" }
                select #channelId name="channelId" { (channel_options(&channels, first)) }
                label for="privacy" { "Visibility" }
                select #privacy name="privacy" { (privacy_options(Privacy::Public)) }
                label for="description" { "Description (markdown)" }
                textarea #description name="description" rows="5" maxlength="10000" {}
                label for="tags" { "Tags (up to 5, separated by commas)" }
                input #tags type="text" name="tags";
                label.check { input type="checkbox" name="downloadEnabled" checked; " Allow downloads" }
                label.check { input type="checkbox" name="nsfw"; " Sensitive content" }
                button #upload-submit type="submit" { "Upload" }
            }
            section #upload-status hidden aria-live="polite" {
                h2 { "Progress" }
                progress #upload-progress max="100" value="0" aria-label="Upload progress" {}
                span #upload-percent { "0 %" }
                p #upload-message role="status" {}
                button #upload-cancel.secondary type="button" hidden { "Cancel" }
                p #upload-done hidden {
                    a.watch-link href="/" { "Go to the video" } " · "
                    a.edit-link href="/" { "Edit its details" } " · "
                    a href="/my-library/videos" { "My videos" }
                }
            }
        }
    };
    Ok(page::page(
        &web,
        &session,
        Meta {
            title: "Upload".into(),
            noindex: true,
            scripts: vec!["upload.js"],
            ..Meta::default()
        },
        body,
    ))
}

/// The video the path names, if this user may manage it, with its owner's channels.
fn managed(web: &Web, user: &User, id: &str) -> WebResult<(Video, Vec<Channel>)> {
    let (video, _) = web.video_by_ref(id)?;
    let owned = web.owned(video)?;
    if !can_manage(user, owned.account.id) {
        return Err(WebError::Forbidden(
            "Only the video's owner can change it.".into(),
        ));
    }
    let channels = web.catalog().channels_of_account(owned.account.id)?;
    Ok((owned.video, channels))
}

pub async fn edit_page(
    State(web): State<Shared>,
    session: Session,
    Path(id): Path<String>,
) -> WebResult<Markup> {
    let user = session.require(&format!("/videos/manage/{id}"))?;
    let (v, channels) = managed(&web, user, &id)?;
    let a = &v.attributes;
    let body = html! {
        section.narrow {
            h1 { "Edit " (a.name) }
            p { a href=(watch_path(&v)) { "Watch it" } " · " a href="/my-library/videos" { "My videos" } }
            form #edit-video-form data-video-uuid=(v.uuid) data-token=(session.access_token.as_deref().unwrap_or("")) {
                label for="name" { "Title" }
                input #name type="text" name="name" required minlength="3" maxlength="120" value=(a.name);
                label for="description" { "Description (markdown)" }
                textarea #description name="description" rows="8" maxlength="10000" { (a.description.as_deref().unwrap_or("")) }
                label for="tags" { "Tags (up to 5, separated by commas)" }
                input #tags type="text" name="tags" value=(a.tags.join(", "));
                label for="channelId" { "Channel" }
                select #channelId name="channelId" { (channel_options(&channels, a.channel_id)) }
                label for="privacy" { "Visibility" }
                select #privacy name="privacy" { (privacy_options(a.privacy)) }
                label for="support" { "Support text (markdown)" }
                textarea #support name="support" rows="3" maxlength="1000" { (a.support.as_deref().unwrap_or("")) }
                label.check { input type="checkbox" name="downloadEnabled" checked[a.download_enabled]; " Allow downloads" }
                label.check { input type="checkbox" name="nsfw" checked[a.nsfw]; " Sensitive content" }
                button type="submit" { "Save" }
                p.form-message role="status" {}
            }
            h2 { "Thumbnail" }
            @if let Some(t) = web.thumbnail_path(&v) {
                img.current-thumbnail src=(t) alt="Current thumbnail" width="280" height="157";
            }
            form method="post" enctype="multipart/form-data" action={ "/videos/manage/" (v.uuid) "/thumbnail" } {
                input type="hidden" name="csrf" value=(session.csrf());
                label for="thumbnail" { "New thumbnail (JPEG, 8 MB at most)" }
                input #thumbnail type="file" name="thumbnail" accept="image/jpeg" required;
                button type="submit" { "Upload thumbnail" }
            }
        }
    };
    Ok(page::page(
        &web,
        &session,
        Meta {
            title: format!("Edit {}", a.name),
            noindex: true,
            scripts: vec!["studio.js"],
            ..Meta::default()
        },
        body,
    ))
}

pub async fn save_thumbnail(
    State(web): State<Shared>,
    session: Session,
    Path(id): Path<String>,
    req: Request,
) -> WebResult<Response> {
    let user = session.require(&format!("/videos/manage/{id}"))?;
    let (v, _) = managed(&web, user, &id)?;
    let mut form = FormData::read(req, &web).await?;
    session.check_csrf(form.text("csrf"))?;
    let bytes = form
        .files
        .remove("thumbnail")
        .ok_or_else(|| WebError::BadRequest("Choose an image first.".into()))?;
    // The API serves thumbnails as .jpg only.
    let name = web
        .store_image(
            THUMBNAILS_DIR,
            &format!("{}-custom", v.uuid),
            bytes,
            &[ImageKind::Jpeg],
        )
        .await?;
    let old = web.catalog().custom_thumbnail(v.uuid)?;
    web.catalog().set_custom_thumbnail(v.uuid, Some(&name))?;
    if let Some(old) = old {
        web.remove_image(THUMBNAILS_DIR, &old).await;
    }
    Ok(Redirect::to(&format!("/videos/manage/{}", v.uuid)).into_response())
}
