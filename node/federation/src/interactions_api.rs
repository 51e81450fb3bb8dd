//! PeerTube's REST routes for comments and ratings: a video's comment threads
//! (`/api/v1/videos/{id}/comment-threads`), a thread's tree, replies and deletions
//! (`/comments/{commentId}`), a user's rating (`PUT /videos/{id}/rate`,
//! `GET /users/me/videos/{id}/rating`). The video is a local one (its privacy applies) or
//! one received by federation; what other servers must hear is queued by `interactions`.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use peerbox_api::{ApiError, ApiResult, AuthUser, QueryPairs, SharedState, Viewer};
use peerbox_catalog::{
    AccountRef, Comment, NewComment, Rating, RemoteVideo, User, Video, VideoRef,
};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::Federation;
use crate::interactions::{COMMENTS_DISABLED, MAX_COMMENT_CHARS};

/// The routes, on the API's state; `api::router` gives them the federation extension.
pub fn routes() -> Router<SharedState> {
    Router::new()
        .route(
            "/api/v1/videos/{id}/comment-threads",
            get(list_threads).post(add_thread),
        )
        .route(
            "/api/v1/videos/{id}/comment-threads/{thread_id}",
            get(thread_tree),
        )
        .route(
            "/api/v1/videos/{id}/comments/{comment_id}",
            post(add_reply).delete(remove_comment),
        )
        .route("/api/v1/videos/{id}/rate", put(rate))
        .route("/api/v1/users/me/videos/{id}/rating", get(my_rating))
}

type Fed = Extension<Arc<Federation>>;

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e)
}

/// The video a path names.
enum Target {
    Local(Video),
    Remote(RemoteVideo),
}

impl Target {
    fn uuid(&self) -> Uuid {
        match self {
            Target::Local(v) => v.uuid,
            Target::Remote(v) => v.uuid,
        }
    }

    fn remote_url(&self) -> Option<String> {
        match self {
            Target::Local(_) => None,
            Target::Remote(v) => Some(v.url.clone()),
        }
    }

    fn comments_policy(&self) -> u8 {
        match self {
            Target::Local(v) => v.attributes.comments_policy,
            Target::Remote(v) if v.comments_enabled => 1,
            Target::Remote(_) => COMMENTS_DISABLED,
        }
    }
}

fn video_ref(id: &str) -> ApiResult<VideoRef> {
    VideoRef::parse(id).ok_or_else(|| ApiError::invalid_param("id", "Should have a valid id"))
}

/// The video `r` names: a local one (which `viewer` must be allowed to see, when `check`
/// says so) or a remote one, by its UUID.
fn find_video(
    state: &SharedState,
    r: VideoRef,
    viewer: Option<&User>,
    headers: &HeaderMap,
    check: bool,
) -> ApiResult<Target> {
    if let Some(video) = state.catalog.video(r)? {
        if check {
            state.check_can_see(viewer, &video, r.is_uuid(), headers)?;
        }
        return Ok(Target::Local(video));
    }
    let remote = match r {
        VideoRef::Uuid(uuid) => state.catalog.remote_video_by_uuid(uuid)?,
        VideoRef::Id(_) => None,
    };
    remote
        .map(Target::Remote)
        .ok_or_else(|| ApiError::not_found("Video not found"))
}

/// The number the API gives the video.
fn video_number(state: &SharedState, target: &Target) -> Value {
    match target {
        Target::Local(v) => json!(v.id),
        Target::Remote(v) => peerbox_api::remote_video_json(state, v)["id"].clone(),
    }
}

/// What PeerTube shows of a comment's account.
fn account_json(state: &SharedState, fed: &Federation, author: &AccountRef) -> Value {
    match author {
        AccountRef::Local(id) => match state.catalog.account(*id).ok().flatten() {
            Some(account) => state.account_json(&account),
            None => Value::Null,
        },
        AccountRef::Remote(url) => {
            let actor = fed.catalog.remote_actor(url).ok().flatten();
            let fallback_name = url.trim_end_matches('/').rsplit('/').next().unwrap_or(url);
            let (name, display, host, description, avatars, fetched) = match &actor {
                Some(a) => (
                    a.preferred_username.clone(),
                    a.name.clone(),
                    a.host.clone(),
                    a.summary.clone(),
                    a.avatar_url
                        .iter()
                        .map(|u| json!({"path": u, "fileUrl": u, "width": null, "height": null}))
                        .collect::<Vec<_>>(),
                    Some(peerbox_api::format_date(&a.fetched_at)),
                ),
                None => (
                    fallback_name.to_string(),
                    fallback_name.to_string(),
                    crate::host_of(url).unwrap_or_default(),
                    None,
                    Vec::new(),
                    None,
                ),
            };
            json!({
                "id": peerbox_api::remote_actor_id(url),
                "name": name,
                "displayName": display,
                "url": url,
                "host": host,
                "avatars": avatars,
                "banners": [],
                "description": description,
                "followersCount": 0,
                "followingCount": 0,
                "createdAt": fetched,
                "updatedAt": fetched,
            })
        }
    }
}

/// Everything the JSON of a video's comments needs.
struct Listing<'a> {
    state: &'a SharedState,
    fed: &'a Federation,
    comments: Vec<Comment>,
    video_number: Value,
    /// The local account that owns the video.
    owner: Option<AccountRef>,
}

impl Listing<'_> {
    fn new<'a>(
        state: &'a SharedState,
        fed: &'a Federation,
        target: &Target,
    ) -> ApiResult<Listing<'a>> {
        let owner = match target {
            Target::Local(v) => Some(AccountRef::Local(state.video_account_id(v)?)),
            Target::Remote(v) => Some(AccountRef::Remote(v.account_url.clone())),
        };
        Ok(Listing {
            state,
            fed,
            comments: fed
                .catalog
                .comments_of_video(target.uuid())
                .map_err(internal)?,
            video_number: video_number(state, target),
            owner,
        })
    }

    /// The comments under a thread's first comment that are not deleted.
    fn replies(&self, root: &Comment) -> impl Iterator<Item = &Comment> {
        self.comments
            .iter()
            .filter(move |c| c.thread_id == root.id && c.id != root.id && !c.is_deleted())
    }

    /// PeerTube's VideoComment.
    fn comment_json(&self, c: &Comment) -> Value {
        let (total, from_owner) = match c.in_reply_to {
            None => (
                self.replies(c).count(),
                self.replies(c)
                    .filter(|r| r.author.is_some() && r.author == self.owner)
                    .count(),
            ),
            Some(_) => (0, 0),
        };
        json!({
            "id": c.id,
            "url": c.url,
            "text": c.text,
            "threadId": c.thread_id,
            "inReplyToCommentId": c.in_reply_to,
            "videoId": self.video_number,
            "createdAt": peerbox_api::format_date(&c.created_at),
            "updatedAt": peerbox_api::format_date(&c.updated_at),
            "deletedAt": c.deleted_at.as_ref().map(peerbox_api::format_date),
            "heldForReview": false,
            "isDeleted": c.is_deleted(),
            "totalRepliesFromVideoAuthor": from_owner,
            "totalReplies": total,
            "account": c.author.as_ref().map(|a| account_json(self.state, self.fed, a)),
        })
    }

    /// A comment and its replies, PeerTube's VideoCommentThreadTree.
    fn tree(&self, c: &Comment, depth: usize) -> Value {
        let children: Vec<Value> = match depth {
            0 => Vec::new(),
            _ => self
                .comments
                .iter()
                .filter(|r| r.in_reply_to == Some(c.id))
                .map(|r| self.tree(r, depth - 1))
                .collect(),
        };
        json!({"comment": self.comment_json(c), "children": children})
    }
}

async fn list_threads(
    Extension(fed): Fed,
    State(state): State<SharedState>,
    Viewer(viewer): Viewer,
    Path(id): Path<String>,
    headers: HeaderMap,
    q: QueryPairs,
) -> ApiResult<Json<Value>> {
    let (start, count) = q.page()?;
    let sort = q.one("sort").unwrap_or("-createdAt");
    if !matches!(
        sort,
        "createdAt" | "-createdAt" | "totalReplies" | "-totalReplies"
    ) {
        return Err(ApiError::invalid_param("sort", "Should have a valid sort"));
    }
    let target = find_video(&state, video_ref(&id)?, viewer.as_ref(), &headers, true)?;
    if target.comments_policy() == COMMENTS_DISABLED {
        return Ok(Json(
            json!({"total": 0, "totalNotDeletedComments": 0, "data": []}),
        ));
    }
    let listing = Listing::new(&state, &fed, &target)?;
    // A deleted first comment is shown only while it has replies.
    let mut threads: Vec<(&Comment, usize)> = listing
        .comments
        .iter()
        .filter(|c| c.in_reply_to.is_none())
        .map(|c| (c, listing.replies(c).count()))
        .filter(|(c, replies)| !c.is_deleted() || *replies > 0)
        .collect();
    match sort {
        "createdAt" => threads.sort_by_key(|(c, _)| (c.created_at, c.id)),
        "-createdAt" => threads.sort_by_key(|(c, _)| std::cmp::Reverse((c.created_at, c.id))),
        "totalReplies" => threads.sort_by_key(|(c, n)| (*n, c.id)),
        _ => threads.sort_by_key(|(c, n)| std::cmp::Reverse((*n, c.id))),
    }
    let not_deleted = listing.comments.iter().filter(|c| !c.is_deleted()).count();
    let data: Vec<Value> = threads
        .iter()
        .skip(start)
        .take(count)
        .map(|(c, _)| listing.comment_json(c))
        .collect();
    Ok(Json(json!({
        "total": threads.len(),
        "totalNotDeletedComments": not_deleted,
        "data": data,
    })))
}

/// How deep a thread's tree is shown (PeerTube's API has no limit before v8.3).
const MAX_TREE_DEPTH: usize = 64;

async fn thread_tree(
    Extension(fed): Fed,
    State(state): State<SharedState>,
    Viewer(viewer): Viewer,
    Path((id, thread_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let r = video_ref(&id)?;
    let thread_id: u64 = thread_id
        .parse()
        .map_err(|_| ApiError::invalid_param("threadId", "Should have a valid threadId"))?;
    let target = find_video(&state, r, viewer.as_ref(), &headers, true)?;
    let listing = Listing::new(&state, &fed, &target)?;
    let Some(root) = listing
        .comments
        .iter()
        .find(|c| c.id == thread_id && c.in_reply_to.is_none())
    else {
        return Err(ApiError::not_found("Video comment thread not found"));
    };
    if target.comments_policy() == COMMENTS_DISABLED {
        return Err(ApiError::not_found("No comments were found"));
    }
    Ok(Json(listing.tree(root, MAX_TREE_DEPTH)))
}

#[derive(Deserialize)]
struct TextBody {
    text: Option<String>,
}

/// A comment's text as PeerTube takes it: 1 to 10,000 characters.
fn comment_text(body: Result<Json<TextBody>, JsonRejection>) -> ApiResult<String> {
    let body = crate::api::json_body(body)?;
    let text = body.text.unwrap_or_default();
    let length = text.chars().count();
    if length == 0 || length > MAX_COMMENT_CHARS {
        return Err(ApiError::invalid_param(
            "text",
            format!("Should have a comment text of 1 to {MAX_COMMENT_CHARS} characters"),
        ));
    }
    Ok(text)
}

/// The checks before a user comments on a video, PeerTube's status codes included.
fn check_can_comment(state: &SharedState, user: &User, target: &Target) -> ApiResult<()> {
    match (target.comments_policy(), target) {
        (COMMENTS_DISABLED, _) => Err(ApiError::conflict(
            "Video comments are disabled for this video.",
        )),
        (1, _) | (_, Target::Remote(_)) => Ok(()),
        // Comments that wait for the owner's approval are not offered yet: the owner and
        // moderators may comment, others are refused rather than published unapproved.
        (_, Target::Local(video)) if state.can_manage(user, video)? => Ok(()),
        _ => Err(ApiError::forbidden(
            "Comments on this video need the owner's approval, which this node does not offer yet",
        )),
    }
}

/// Stores a comment of `user` and tells other servers.
async fn comment(
    state: &SharedState,
    fed: &Federation,
    user: &User,
    target: &Target,
    in_reply_to: Option<u64>,
    text: String,
) -> ApiResult<Json<Value>> {
    let uuid = target.uuid();
    let base = fed.settings.public_url.clone();
    let new = NewComment {
        video: uuid,
        remote_video: target.remote_url(),
        in_reply_to,
        author: AccountRef::Local(user.account_id),
        text,
        published: None,
    };
    let (comment, _) = fed.catalog.add_comment(new, |id| {
        format!("{base}/videos/watch/{uuid}/comments/{id}")
    })?;
    if let Err(e) = fed.send_comment(&comment).await {
        tracing::warn!(comment = %comment.url, "comment not federated: {e}");
    }
    let listing = Listing::new(state, fed, target)?;
    Ok(Json(json!({"comment": listing.comment_json(&comment)})))
}

async fn add_thread(
    Extension(fed): Fed,
    State(state): State<SharedState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<TextBody>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let r = video_ref(&id)?;
    let text = comment_text(body)?;
    let target = find_video(&state, r, Some(&user), &headers, true)?;
    check_can_comment(&state, &user, &target)?;
    comment(&state, &fed, &user, &target, None, text).await
}

fn comment_id(raw: &str) -> ApiResult<u64> {
    raw.parse()
        .map_err(|_| ApiError::invalid_param("commentId", "Should have a valid commentId"))
}

/// The comment `id` of the video, or 404.
fn comment_of(fed: &Federation, target: &Target, id: u64) -> ApiResult<Comment> {
    fed.catalog
        .comment(id)
        .map_err(internal)?
        .filter(|c| c.video == target.uuid())
        .ok_or_else(|| ApiError::not_found("Video comment not found"))
}

async fn add_reply(
    Extension(fed): Fed,
    State(state): State<SharedState>,
    AuthUser(user): AuthUser,
    Path((id, parent)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Json<TextBody>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let r = video_ref(&id)?;
    let parent = comment_id(&parent)?;
    let text = comment_text(body)?;
    let target = find_video(&state, r, Some(&user), &headers, true)?;
    check_can_comment(&state, &user, &target)?;
    let parent = comment_of(&fed, &target, parent)?;
    comment(&state, &fed, &user, &target, Some(parent.id), text).await
}

async fn remove_comment(
    Extension(fed): Fed,
    State(state): State<SharedState>,
    AuthUser(user): AuthUser,
    Path((id, comment)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let r = video_ref(&id)?;
    let comment = comment_id(&comment)?;
    let target = find_video(&state, r, Some(&user), &headers, false)?;
    let comment = comment_of(&fed, &target, comment)?;
    if comment.is_deleted() {
        return Err(ApiError::conflict("This comment is already deleted"));
    }
    let author = comment.author == Some(AccountRef::Local(user.account_id));
    let owner = match &target {
        Target::Local(video) => state.video_account_id(video)? == user.account_id,
        Target::Remote(_) => false,
    };
    if !author && !owner && !user.role.manages_all_videos() {
        return Err(ApiError::forbidden(
            "Cannot remove video comment of another user",
        ));
    }
    fed.catalog.delete_comment(comment.id).map_err(internal)?;
    // Told with the author it had before the deletion.
    if let Err(e) = fed.send_comment_deletion(&comment).await {
        tracing::warn!(comment = %comment.url, "deletion not federated: {e}");
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct RateBody {
    rating: Option<Value>,
}

async fn rate(
    Extension(fed): Fed,
    State(state): State<SharedState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Json<RateBody>, JsonRejection>,
) -> ApiResult<StatusCode> {
    let r = video_ref(&id)?;
    let body = crate::api::json_body(body)?;
    let rating = match body.rating.as_ref().and_then(Value::as_str) {
        Some("like") => Some(Rating::Like),
        Some("dislike") => Some(Rating::Dislike),
        Some("none") => None,
        _ => {
            return Err(ApiError::invalid_param(
                "rating",
                "Should have a valid rate type (like, dislike or none)",
            ));
        }
    };
    let target = find_video(&state, r, Some(&user), &headers, true)?;
    let rater = AccountRef::Local(user.account_id);
    let url = rating
        .and_then(|kind| fed.rating_url(user.account_id, kind, target.uuid()))
        .unwrap_or_default();
    let before = fed
        .catalog
        .set_rating(&rater, target.uuid(), rating, &url)
        .map_err(internal)?;
    if let Target::Remote(video) = &target
        && let Err(e) = fed
            .send_rating(user.account_id, video, before, rating)
            .await
    {
        tracing::warn!(video = %video.url, "rating not federated: {e}");
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn my_rating(
    Extension(fed): Fed,
    State(state): State<SharedState>,
    AuthUser(user): AuthUser,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let target = find_video(&state, video_ref(&id)?, Some(&user), &headers, false)?;
    let rating = fed
        .catalog
        .rating(&AccountRef::Local(user.account_id), target.uuid())
        .map_err(internal)?;
    let name = match rating.map(|r| r.rating) {
        Some(Rating::Like) => "like",
        Some(Rating::Dislike) => "dislike",
        None => "none",
    };
    Ok(Json(json!({
        "videoId": video_number(&state, &target),
        "rating": name,
    })))
}
