//! PeerTube's REST routes for follows: the instance's following and followers
//! (`/api/v1/server/following`, `/server/followers`), a user's channel subscriptions
//! (`/api/v1/users/me/subscriptions`) and a channel's followers. They share the API's
//! authentication and error shapes; the network work is federation's.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use peerbox_api::{AdminUser, ApiError, ApiResult, AuthUser, QueryPairs, SharedState};
use peerbox_catalog::web_profiles::Actor as Owner;
use peerbox_catalog::{ActorRef, Follow, FollowState, RemoteActor, RemoteActorKind};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Federation;
use crate::blocklist::Blocked;

/// The routes, on the API's state; `fed` reaches the handlers as an extension.
pub fn router(fed: Arc<Federation>, state: SharedState) -> Router {
    Router::new()
        .merge(crate::interactions_api::routes())
        .route(
            "/api/v1/server/following",
            get(server_following).post(follow_servers),
        )
        .route("/api/v1/server/following/{target}", delete(unfollow_server))
        .route("/api/v1/server/followers", get(server_followers))
        .route(
            "/api/v1/server/blocklist/servers",
            get(blocked_servers).post(block_server),
        )
        .route(
            "/api/v1/server/blocklist/servers/{host}",
            delete(unblock_server),
        )
        .route(
            "/api/v1/server/blocklist/accounts",
            get(blocked_accounts).post(block_account),
        )
        .route(
            "/api/v1/server/blocklist/accounts/{handle}",
            delete(unblock_account),
        )
        .route("/api/v1/server/followers/{handle}", delete(remove_follower))
        .route(
            "/api/v1/server/followers/{handle}/accept",
            post(accept_follower),
        )
        .route(
            "/api/v1/server/followers/{handle}/reject",
            post(reject_follower),
        )
        .route(
            "/api/v1/users/me/subscriptions",
            get(subscriptions).post(subscribe),
        )
        .route(
            "/api/v1/users/me/subscriptions/exist",
            get(subscriptions_exist),
        )
        .route(
            "/api/v1/users/me/subscriptions/videos",
            get(subscription_videos),
        )
        .route(
            "/api/v1/users/me/subscriptions/{handle}",
            get(subscription).delete(unsubscribe),
        )
        .route(
            "/api/v1/video-channels/{handle}/followers",
            get(channel_followers),
        )
        .layer(Extension(fed))
        .with_state(state)
}

type Fed = Extension<Arc<Federation>>;

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(e)
}

/// What PeerTube shows of an actor in a follow.
fn actor_json(fed: &Federation, actor: &ActorRef) -> Value {
    let url = fed.actor_url(actor).unwrap_or_default();
    let host = crate::host_of(&url).unwrap_or_default();
    let (name, display) = match actor {
        ActorRef::Remote(u) => match fed.catalog.remote_actor(u).ok().flatten() {
            Some(a) => (a.preferred_username, a.name),
            None => (String::new(), String::new()),
        },
        _ => {
            let name = url.rsplit('/').next().unwrap_or_default().to_string();
            (name.clone(), name)
        }
    };
    json!({
        "url": url,
        "name": name,
        "displayName": display,
        "host": host,
        "hostRedundancyAllowed": false,
        "followersCount": fed.catalog.followers_of(actor).map(|f| f.len()).unwrap_or(0),
        "followingCount": fed.catalog.following_of(actor).map(|f| f.len()).unwrap_or(0),
    })
}

fn state_name(state: FollowState) -> &'static str {
    match state {
        FollowState::Pending => "pending",
        FollowState::Accepted => "accepted",
        FollowState::Rejected => "rejected",
    }
}

fn follow_json(fed: &Federation, f: &Follow) -> Value {
    json!({
        "id": f.id,
        "follower": actor_json(fed, &f.follower),
        "following": actor_json(fed, &f.target),
        "score": 100,
        "state": state_name(f.state),
        "createdAt": peerbox_api::format_date(&f.created_at),
        "updatedAt": peerbox_api::format_date(&f.updated_at),
    })
}

fn page(items: Vec<Value>, q: &QueryPairs) -> ApiResult<Json<Value>> {
    let (start, count) = q.page()?;
    let total = items.len();
    let data: Vec<Value> = items.into_iter().skip(start).take(count).collect();
    Ok(Json(json!({"total": total, "data": data})))
}

async fn server_following(Extension(fed): Fed, q: QueryPairs) -> ApiResult<Json<Value>> {
    let follows = fed.catalog.following_of(&ActorRef::Instance);
    follows_page(&fed, follows.map_err(internal)?, &q)
}

async fn server_followers(Extension(fed): Fed, q: QueryPairs) -> ApiResult<Json<Value>> {
    let follows = fed.catalog.followers_of(&ActorRef::Instance);
    follows_page(&fed, follows.map_err(internal)?, &q)
}

/// A page of follows as PeerTube lists them, filtered by the `state` parameter.
fn follows_page(fed: &Federation, follows: Vec<Follow>, q: &QueryPairs) -> ApiResult<Json<Value>> {
    let wanted = q.one("state");
    let items = follows
        .iter()
        .filter(|f| wanted.is_none_or(|s| s == state_name(f.state)))
        .map(|f| follow_json(fed, f))
        .collect();
    page(items, q)
}

#[derive(Deserialize)]
struct FollowBody {
    #[serde(default)]
    hosts: Vec<String>,
    #[serde(default)]
    handles: Vec<String>,
}

/// `host[:port]`, as PeerTube's `isHostValid` accepts them.
fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

async fn follow_servers(
    Extension(fed): Fed,
    _: AdminUser,
    body: Result<Json<FollowBody>, JsonRejection>,
) -> ApiResult<StatusCode> {
    let body = json_body(body)?;
    if body.hosts.is_empty() && body.handles.is_empty() {
        return Err(ApiError::invalid_param(
            "hosts",
            "Should have hosts or handles",
        ));
    }
    if let Some(bad) = body.hosts.iter().find(|h| !valid_host(h)) {
        return Err(ApiError::invalid_param(
            "hosts",
            format!("Invalid host {bad:?}"),
        ));
    }
    let mut targets = Vec::new();
    for host in &body.hosts {
        if host.eq_ignore_ascii_case(&fed.settings.public_host) {
            return Err(ApiError::bad_request("An instance cannot follow itself"));
        }
        let url = crate::actors::instance_actor_url(&format!("https://{host}"));
        targets.push(fed.remote_actor(&url, false).await.map_err(unreachable)?);
    }
    for handle in &body.handles {
        targets.push(fed.resolve_remote(handle).await.map_err(unreachable)?);
    }
    for target in &targets {
        refuse_blocked(&fed, target)?;
        fed.follow(&ActorRef::Instance, target)
            .await
            .map_err(internal)?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// A JSON body, or PeerTube's 400 saying why it is not one.
pub(crate) fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> ApiResult<T> {
    body.map(|Json(b)| b)
        .map_err(|e| ApiError::bad_request(e.body_text()))
}

fn unreachable(e: String) -> ApiError {
    ApiError::bad_request(format!("The remote actor cannot be fetched: {e}"))
}

fn refuse_blocked(fed: &Federation, actor: &RemoteActor) -> ApiResult<()> {
    match fed.is_blocked(&actor.url) {
        true => Err(ApiError::forbidden(format!("{} is blocked", actor.host))),
        false => Ok(()),
    }
}

/// The follow of the instance whose target is `host` (its instance actor) or `name@host`.
fn find_following(fed: &Federation, target: &str) -> ApiResult<Follow> {
    let follows = fed
        .catalog
        .following_of(&ActorRef::Instance)
        .map_err(internal)?;
    follows
        .into_iter()
        .find(|f| matches_handle(fed, &f.target, target, true))
        .ok_or_else(|| ApiError::not_found("Follow not found"))
}

/// True when `actor` is named by `handle` (`name@host`) or, with `host_means_instance`, is
/// the instance actor of `handle` as a host.
fn matches_handle(
    fed: &Federation,
    actor: &ActorRef,
    handle: &str,
    host_means_instance: bool,
) -> bool {
    let ActorRef::Remote(url) = actor else {
        return false;
    };
    let Some(remote) = fed.catalog.remote_actor(url).ok().flatten() else {
        return false;
    };
    let handle = handle.trim_start_matches('@');
    match handle.split_once('@') {
        Some((name, host)) => {
            remote.preferred_username == name && remote.host.eq_ignore_ascii_case(host)
        }
        None => {
            host_means_instance
                && remote.kind == RemoteActorKind::Application
                && remote.host.eq_ignore_ascii_case(handle)
        }
    }
}

async fn unfollow_server(
    Extension(fed): Fed,
    _: AdminUser,
    Path(target): Path<String>,
) -> ApiResult<StatusCode> {
    let follow = find_following(&fed, &target)?;
    fed.unfollow(&follow).map_err(internal)?;
    Ok(StatusCode::NO_CONTENT)
}

fn find_follower(fed: &Federation, handle: &str) -> ApiResult<Follow> {
    let follows = fed
        .catalog
        .followers_of(&ActorRef::Instance)
        .map_err(internal)?;
    follows
        .into_iter()
        .find(|f| matches_handle(fed, &f.follower, handle, false))
        .ok_or_else(|| ApiError::not_found("Follower not found"))
}

async fn accept_follower(
    Extension(fed): Fed,
    _: AdminUser,
    Path(handle): Path<String>,
) -> ApiResult<StatusCode> {
    answer_pending(&fed, &handle, true)
}

async fn reject_follower(
    Extension(fed): Fed,
    _: AdminUser,
    Path(handle): Path<String>,
) -> ApiResult<StatusCode> {
    answer_pending(&fed, &handle, false)
}

/// An administrator's answer to a follower waiting for approval.
fn answer_pending(fed: &Federation, handle: &str, accept: bool) -> ApiResult<StatusCode> {
    let follow = find_follower(fed, handle)?;
    if follow.state != FollowState::Pending {
        return Err(ApiError::forbidden("This follow is not pending"));
    }
    fed.answer_follower(&follow, accept).map_err(internal)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_follower(
    Extension(fed): Fed,
    _: AdminUser,
    Path(handle): Path<String>,
) -> ApiResult<StatusCode> {
    let follow = find_follower(&fed, &handle)?;
    // As PeerTube: the follower is told with a Reject.
    fed.answer_follower(&follow, false).map_err(internal)?;
    Ok(StatusCode::NO_CONTENT)
}

fn subscriber(user: &peerbox_catalog::User) -> ActorRef {
    ActorRef::Local(Owner::Account(user.account_id))
}

/// PeerTube's VideoChannel summary of a remote channel.
fn remote_channel_json(fed: &Federation, channel: &RemoteActor) -> Value {
    let owner = channel
        .attributed_to
        .as_deref()
        .and_then(|u| fed.catalog.remote_actor(u).ok().flatten());
    json!({
        "name": channel.preferred_username,
        "displayName": channel.name,
        "description": channel.summary,
        "url": channel.url,
        "host": channel.host,
        "isLocal": false,
        "avatars": channel.avatar_url.iter().map(|u| json!({"path": u, "fileUrl": u})).collect::<Vec<_>>(),
        "followersCount": fed.catalog.followers_of(&ActorRef::Remote(channel.url.clone())).map(|f| f.len()).unwrap_or(0),
        "ownerAccount": owner.map(|a| json!({
            "name": a.preferred_username,
            "displayName": a.name,
            "url": a.url,
            "host": a.host,
        })),
    })
}

async fn subscriptions(
    Extension(fed): Fed,
    AuthUser(user): AuthUser,
    q: QueryPairs,
) -> ApiResult<Json<Value>> {
    let follows = fed
        .catalog
        .following_of(&subscriber(&user))
        .map_err(internal)?;
    let mut items = Vec::new();
    for f in follows {
        if let ActorRef::Remote(url) = &f.target
            && let Some(channel) = fed.catalog.remote_actor(url).map_err(internal)?
        {
            items.push(remote_channel_json(&fed, &channel));
        }
    }
    page(items, &q)
}

#[derive(Deserialize)]
struct SubscribeBody {
    uri: String,
}

async fn subscribe(
    Extension(fed): Fed,
    AuthUser(user): AuthUser,
    body: Result<Json<SubscribeBody>, JsonRejection>,
) -> ApiResult<StatusCode> {
    let body = json_body(body)?;
    let channel = fed.resolve_remote(&body.uri).await.map_err(unreachable)?;
    if channel.kind != RemoteActorKind::Group {
        return Err(ApiError::invalid_param("uri", "Should be a channel"));
    }
    refuse_blocked(&fed, &channel)?;
    fed.follow(&subscriber(&user), &channel)
        .await
        .map_err(internal)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The subscription of `user` named by `handle` (`name@host`).
fn find_subscription(
    fed: &Federation,
    user: &peerbox_catalog::User,
    handle: &str,
) -> ApiResult<Option<Follow>> {
    let follows = fed
        .catalog
        .following_of(&subscriber(user))
        .map_err(internal)?;
    Ok(follows
        .into_iter()
        .find(|f| matches_handle(fed, &f.target, handle, false)))
}

async fn subscription(
    Extension(fed): Fed,
    AuthUser(user): AuthUser,
    Path(handle): Path<String>,
) -> ApiResult<Json<Value>> {
    let follow = find_subscription(&fed, &user, &handle)?
        .ok_or_else(|| ApiError::not_found("Subscription not found"))?;
    let ActorRef::Remote(url) = &follow.target else {
        return Err(ApiError::not_found("Subscription not found"));
    };
    let channel = fed
        .catalog
        .remote_actor(url)
        .map_err(internal)?
        .ok_or_else(|| ApiError::not_found("Subscription not found"))?;
    Ok(Json(remote_channel_json(&fed, &channel)))
}

async fn unsubscribe(
    Extension(fed): Fed,
    AuthUser(user): AuthUser,
    Path(handle): Path<String>,
) -> ApiResult<StatusCode> {
    let follow = find_subscription(&fed, &user, &handle)?
        .ok_or_else(|| ApiError::not_found("Subscription not found"))?;
    fed.unfollow(&follow).map_err(internal)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn subscriptions_exist(
    Extension(fed): Fed,
    AuthUser(user): AuthUser,
    q: QueryPairs,
) -> ApiResult<Json<Value>> {
    let mut answer = serde_json::Map::new();
    for uri in q.all("uris") {
        let exists = find_subscription(&fed, &user, uri)?.is_some();
        answer.insert(uri.to_string(), Value::Bool(exists));
    }
    Ok(Json(Value::Object(answer)))
}

async fn subscription_videos(
    Extension(fed): Fed,
    State(state): State<SharedState>,
    AuthUser(user): AuthUser,
    q: QueryPairs,
) -> ApiResult<Json<Value>> {
    let (start, count) = q.page()?;
    let channels: Vec<String> = fed
        .catalog
        .following_of(&subscriber(&user))
        .map_err(internal)?
        .into_iter()
        .filter(|f| f.state == FollowState::Accepted)
        .filter_map(|f| match f.target {
            ActorRef::Remote(url) => Some(url),
            _ => None,
        })
        .collect();
    let (videos, total) = fed
        .catalog
        .remote_videos_of_channels(&channels, start, count)
        .map_err(internal)?;
    let data: Vec<Value> = videos
        .iter()
        .map(|v| peerbox_api::remote_video_json(&state, v))
        .collect();
    Ok(Json(json!({"total": total, "data": data})))
}

async fn channel_followers(
    Extension(fed): Fed,
    AuthUser(user): AuthUser,
    Path(handle): Path<String>,
    q: QueryPairs,
) -> ApiResult<Json<Value>> {
    let name = handle
        .split_once('@')
        .filter(|(_, host)| host.eq_ignore_ascii_case(&fed.settings.public_host))
        .map(|(n, _)| n)
        .unwrap_or(&handle);
    let channel = fed
        .catalog
        .channel_by_name(name)
        .map_err(internal)?
        .ok_or_else(|| ApiError::not_found("Video channel not found"))?;
    if channel.account_id != user.account_id && user.role != peerbox_catalog::Role::Administrator {
        return Err(ApiError::forbidden(
            "Cannot list the followers of another user's channel",
        ));
    }
    let follows = fed
        .catalog
        .followers_of(&ActorRef::Local(Owner::Channel(channel.id)));
    follows_page(&fed, follows.map_err(internal)?, &q)
}

/// PeerTube's server blocklist entry.
fn blocked_server_json(host: &str) -> Value {
    json!({"blockedServer": {"host": host}, "byAccount": null, "createdAt": null})
}

async fn blocked_servers(
    Extension(fed): Fed,
    _: AdminUser,
    q: QueryPairs,
) -> ApiResult<Json<Value>> {
    let items = fed
        .blocklist(Blocked::Servers)
        .iter()
        .map(|h| blocked_server_json(h))
        .collect();
    page(items, &q)
}

#[derive(Deserialize)]
struct BlockServerBody {
    host: String,
}

async fn block_server(
    Extension(fed): Fed,
    _: AdminUser,
    body: Result<Json<BlockServerBody>, JsonRejection>,
) -> ApiResult<StatusCode> {
    let body = json_body(body)?;
    if !valid_host(&body.host) {
        return Err(ApiError::invalid_param("host", "Should have a valid host"));
    }
    if body.host.eq_ignore_ascii_case(&fed.settings.public_host) {
        return Err(ApiError::conflict("You cannot block your own server."));
    }
    block(
        &fed,
        Blocked::Servers,
        &body.host,
        "This server is already blocked.",
    )
}

async fn unblock_server(
    Extension(fed): Fed,
    _: AdminUser,
    Path(host): Path<String>,
) -> ApiResult<StatusCode> {
    match fed
        .set_blocked(Blocked::Servers, &host, false)
        .map_err(internal)?
    {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(ApiError::not_found("Server block not found")),
    }
}

async fn blocked_accounts(
    Extension(fed): Fed,
    _: AdminUser,
    q: QueryPairs,
) -> ApiResult<Json<Value>> {
    let items = fed
        .blocklist(Blocked::Accounts)
        .iter()
        .map(|url| {
            let actor = fed.catalog.remote_actor(url).ok().flatten();
            json!({
                "blockedAccount": {
                    "url": url,
                    "name": actor.as_ref().map(|a| a.preferred_username.clone()),
                    "host": crate::host_of(url),
                },
                "byAccount": null,
                "createdAt": null,
            })
        })
        .collect();
    page(items, &q)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockAccountBody {
    account_name: String,
}

async fn block_account(
    Extension(fed): Fed,
    _: AdminUser,
    body: Result<Json<BlockAccountBody>, JsonRejection>,
) -> ApiResult<StatusCode> {
    let body = json_body(body)?;
    let actor = fed
        .resolve_remote(&body.account_name)
        .await
        .map_err(unreachable)?;
    block(
        &fed,
        Blocked::Accounts,
        &actor.url,
        "This account is already blocked.",
    )
}

/// Adds `entry` to a blocklist; `known` is the conflict when it is there already.
fn block(fed: &Federation, list: Blocked, entry: &str, known: &str) -> ApiResult<StatusCode> {
    match fed.set_blocked(list, entry, true).map_err(internal)? {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(ApiError::conflict(known)),
    }
}

async fn unblock_account(
    Extension(fed): Fed,
    _: AdminUser,
    Path(handle): Path<String>,
) -> ApiResult<StatusCode> {
    let (name, host) = handle
        .trim_start_matches('@')
        .split_once('@')
        .ok_or_else(|| ApiError::invalid_param("accountName", "Should be name@host"))?;
    let blocked = fed.blocklist(Blocked::Accounts);
    let url = fed
        .catalog
        .remote_actor_by_handle(name, host)
        .map_err(internal)?
        .into_iter()
        .map(|a| a.url)
        .find(|u| blocked.contains(u))
        .ok_or_else(|| ApiError::not_found("Account block not found"))?;
    fed.set_blocked(Blocked::Accounts, &url, false)
        .map_err(internal)?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_as_peertube_accepts_them() {
        assert!(valid_host("tube.example.org"));
        assert!(valid_host("127.0.0.3:9443"));
        assert!(!valid_host(""));
        assert!(!valid_host("tube.example/path"));
        assert!(!valid_host("user@tube.example"));
    }
}
