//! Accounts and video channels.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use peerbox_catalog::{Account, Channel, ChannelChanges, RemoteActor, RemoteActorKind, User};
use serde_json::{Value, json};

use super::list::{QueryPairs, filter_videos, paginate};
use super::videos::{is_uri_search, url_parts};
use crate::auth::{AuthUser, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::validate::{Fields, check_actor_name, check_len};
use crate::{AppState, SharedState};

impl AppState {
    /// `name` or `name@our-host`; handles of other hosts belong to federation.
    fn local_name<'a>(&self, handle: &'a str) -> Option<&'a str> {
        match handle.split_once('@') {
            None => Some(handle),
            Some((name, host)) if host.eq_ignore_ascii_case(self.settings.public_host()) => {
                Some(name)
            }
            Some(_) => None,
        }
    }

    fn find_account(&self, handle: &str) -> ApiResult<Account> {
        self.local_name(handle)
            .map(|n| self.catalog.account_by_name(n))
            .transpose()?
            .flatten()
            .ok_or_else(|| ApiError::not_found("Account not found"))
    }

    fn find_channel(&self, handle: &str) -> ApiResult<Channel> {
        self.local_name(handle)
            .map(|n| self.catalog.channel_by_name(n))
            .transpose()?
            .flatten()
            .ok_or_else(|| ApiError::not_found("Video channel not found"))
    }

    fn check_manages_channel(&self, user: &User, channel: &Channel) -> ApiResult<()> {
        if user.account_id != channel.account_id
            && user.role != peerbox_catalog::Role::Administrator
        {
            return Err(ApiError::forbidden(
                "Cannot manage a video channel of another user",
            ));
        }
        Ok(())
    }

    fn listed_videos_where(
        &self,
        viewer: Option<&User>,
        q: &QueryPairs,
        keep: impl Fn(&peerbox_catalog::Video) -> bool,
    ) -> ApiResult<Value> {
        let videos = self
            .catalog
            .videos()?
            .into_iter()
            .filter(|v| keep(v))
            .collect();
        paginate(filter_videos(videos, viewer, q)?, q, |v| self.video_json(v))
    }
}

pub async fn accounts(State(state): State<SharedState>, q: QueryPairs) -> ApiResult<Json<Value>> {
    Ok(Json(paginate(state.catalog.accounts()?, &q, |a| {
        Ok(state.account_json(a))
    })?))
}

pub async fn account(
    State(state): State<SharedState>,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(state.account_json(&state.find_account(&name)?)))
}

pub async fn account_videos(
    State(state): State<SharedState>,
    Viewer(viewer): Viewer,
    Path(name): Path<String>,
    q: QueryPairs,
) -> ApiResult<Json<Value>> {
    let account = state.find_account(&name)?;
    let channels: Vec<u64> = state
        .catalog
        .channels_of_account(account.id)?
        .iter()
        .map(|c| c.id)
        .collect();
    Ok(Json(state.listed_videos_where(
        viewer.as_ref(),
        &q,
        |v| channels.contains(&v.attributes.channel_id),
    )?))
}

pub async fn account_channels(
    State(state): State<SharedState>,
    Path(name): Path<String>,
    q: QueryPairs,
) -> ApiResult<Json<Value>> {
    let account = state.find_account(&name)?;
    Ok(Json(paginate(
        state.catalog.channels_of_account(account.id)?,
        &q,
        |c| state.channel_json(c),
    )?))
}

pub async fn list(State(state): State<SharedState>, q: QueryPairs) -> ApiResult<Json<Value>> {
    Ok(Json(paginate(state.catalog.channels()?, &q, |c| {
        state.channel_json(c)
    })?))
}

/// `name@host` or `@name@host` (PeerTube's test for a WebFinger search): the two parts.
fn handle_parts(search: &str) -> Option<(&str, &str)> {
    let (name, host) = search.strip_prefix('@').unwrap_or(search).split_once('@')?;
    let ok = |p: &str| !p.is_empty() && !p.contains(['@', ' ']);
    (ok(name) && ok(host)).then_some((name, host))
}

/// The channel name in a channel page path: `/video-channels/{name}` or `/c/{name}`.
fn channel_name_in(path: &str) -> Option<&str> {
    let rest = path
        .strip_prefix("/video-channels/")
        .or_else(|| path.strip_prefix("/c/"))?;
    let name = rest.split('/').next().unwrap_or(rest);
    (!name.is_empty()).then_some(name)
}

impl AppState {
    /// PeerTube's VideoChannel of a remote channel, with the ids and images its videos
    /// show; its images stay at the origin.
    fn remote_channel_json(&self, c: &RemoteActor) -> Value {
        let mut json = self.remote_actor_json(&c.url);
        let owner = c
            .attributed_to
            .as_deref()
            .map(|url| self.remote_actor_json(url));
        crate::format::merge(&mut json, json!({ "support": null, "ownerAccount": owner }));
        json
    }

    /// The channel a handle or URL names, as PeerTube's channel search answers them: one
    /// of this node's, one already known, or, for signed-in users only (PeerTube's
    /// `search.remoteUri`), one fetched from its server now. Whatever fails finds nothing.
    async fn channel_named(&self, search: &str, viewer: Option<&User>) -> ApiResult<Option<Value>> {
        let local = match (url_parts(search), handle_parts(search)) {
            (Some((host, path)), _) => Some(host).zip(channel_name_in(path).map(str::to_string)),
            (None, Some((name, host))) => Some((host.to_ascii_lowercase(), name.to_string())),
            (None, None) => return Ok(None),
        };
        if let Some((_, name)) =
            local.filter(|(host, _)| host.eq_ignore_ascii_case(self.settings.public_host()))
        {
            return self
                .catalog
                .channel_by_name(&name)?
                .map(|c| self.channel_json(&c))
                .transpose();
        }
        let group = |a: &RemoteActor| a.kind == RemoteActorKind::Group;
        let (Some(_), Some(lookup)) = (viewer, self.remote_lookup()) else {
            let known = match handle_parts(search) {
                Some((name, host)) if !is_uri_search(search) => self
                    .catalog
                    .remote_actor_by_handle(name, &host.to_ascii_lowercase())?
                    .into_iter()
                    .find(group),
                _ => self.catalog.remote_actor(search)?.filter(group),
            };
            return Ok(known.map(|a| self.remote_channel_json(&a)));
        };
        match lookup.channel(search).await {
            Ok(url) => Ok(self
                .catalog
                .remote_actor(&url)?
                .filter(group)
                .map(|a| self.remote_channel_json(&a))),
            Err(e) => {
                tracing::info!("search: no channel found for {search}: {e}");
                Ok(None)
            }
        }
    }
}

pub async fn search(
    State(state): State<SharedState>,
    Viewer(viewer): Viewer,
    q: QueryPairs,
) -> ApiResult<Json<Value>> {
    let search = q.one("search").unwrap_or("").trim();
    if is_uri_search(search) || handle_parts(search).is_some() {
        let data: Vec<Value> = Vec::from_iter(state.channel_named(search, viewer.as_ref()).await?);
        return Ok(Json(json!({ "total": data.len(), "data": data })));
    }
    // `@name` searches for `name`.
    let needle = search.trim_start_matches('@').to_lowercase();
    let found = state
        .catalog
        .channels()?
        .into_iter()
        .filter(|c| {
            c.name.to_lowercase().contains(&needle)
                || c.display_name.to_lowercase().contains(&needle)
        })
        .collect();
    Ok(Json(paginate(found, &q, |c| state.channel_json(c))?))
}

pub async fn get(
    State(state): State<SharedState>,
    Path(handle): Path<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(state.channel_json(&state.find_channel(&handle)?)?))
}

pub async fn videos(
    State(state): State<SharedState>,
    Viewer(viewer): Viewer,
    Path(handle): Path<String>,
    q: QueryPairs,
) -> ApiResult<Json<Value>> {
    let channel = state.find_channel(&handle)?;
    Ok(Json(state.listed_videos_where(
        viewer.as_ref(),
        &q,
        |v| v.attributes.channel_id == channel.id,
    )?))
}

fn optional_text(
    fields: &Fields,
    key: &str,
    min: usize,
    max: usize,
) -> ApiResult<Option<Option<String>>> {
    if !fields.has(key) {
        return Ok(None);
    }
    let value = fields.string(key)?.filter(|s| !s.is_empty());
    if let Some(v) = &value {
        check_len(key, v, min, max)?;
    }
    Ok(Some(value))
}

fn body_fields(body: Value) -> ApiResult<Fields> {
    Ok(Fields(body.as_object().cloned().ok_or_else(|| {
        ApiError::bad_request("Body should be a JSON object")
    })?))
}

pub async fn create(
    State(state): State<SharedState>,
    AuthUser(user): AuthUser,
    Json(body): Json<Value>,
) -> ApiResult<Json<Value>> {
    let fields = body_fields(body)?;
    let name = fields.string("name")?.unwrap_or_default();
    check_actor_name("name", &name)?;
    let display_name = fields.string("displayName")?.unwrap_or_default();
    check_len("displayName", &display_name, 1, 120)?;
    let description = optional_text(&fields, "description", 3, 1000)?.flatten();
    let support = optional_text(&fields, "support", 3, 1000)?.flatten();
    let channel = state
        .catalog
        .create_channel(user.account_id, &name, &display_name, description, support)
        .map_err(|e| match e {
            peerbox_catalog::CatalogError::NameTaken(_) => {
                ApiError::conflict("This name already exists on this instance.")
            }
            other => other.into(),
        })?;
    Ok(Json(json!({ "videoChannel": { "id": channel.id } })))
}

pub async fn update(
    State(state): State<SharedState>,
    AuthUser(user): AuthUser,
    Path(handle): Path<String>,
    Json(body): Json<Value>,
) -> ApiResult<StatusCode> {
    let channel = state.find_channel(&handle)?;
    state.check_manages_channel(&user, &channel)?;
    let fields = body_fields(body)?;
    let display_name = fields.string("displayName")?;
    if let Some(d) = &display_name {
        check_len("displayName", d, 1, 120)?;
    }
    let changes = ChannelChanges {
        display_name,
        description: optional_text(&fields, "description", 3, 1000)?,
        support: optional_text(&fields, "support", 3, 1000)?,
    };
    state.catalog.update_channel(channel.id, changes)?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete(
    State(state): State<SharedState>,
    AuthUser(user): AuthUser,
    Path(handle): Path<String>,
) -> ApiResult<StatusCode> {
    let channel = state.find_channel(&handle)?;
    state.check_manages_channel(&user, &channel)?;
    for video in state.catalog.delete_channel(channel.id)? {
        state.remove_video_files(&video).await;
    }
    Ok(StatusCode::NO_CONTENT)
}
