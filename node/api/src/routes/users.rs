//! The signed-in user, and user administration.

use axum::Json;
use axum::extract::State;
use peerbox_catalog::{NewUser, Role};
use serde_json::{Value, json};

use super::list::{QueryPairs, paginate};
use crate::SharedState;
use crate::auth::{AdminUser, AuthUser};
use crate::error::{ApiError, ApiResult};
use crate::validate::{Fields, check_password, check_username};

pub async fn me(
    State(state): State<SharedState>,
    AuthUser(user): AuthUser,
) -> ApiResult<Json<Value>> {
    Ok(Json(state.user_json(&user)?))
}

pub async fn quota_used(
    State(state): State<SharedState>,
    AuthUser(user): AuthUser,
) -> ApiResult<Json<Value>> {
    let used = state.catalog.quota_used(&user)?;
    Ok(Json(
        json!({ "videoQuotaUsed": used.total, "videoQuotaUsedDaily": used.daily }),
    ))
}

/// All the caller's videos, whatever their privacy and state ("My videos").
pub async fn my_videos(
    State(state): State<SharedState>,
    AuthUser(user): AuthUser,
    q: QueryPairs,
) -> ApiResult<Json<Value>> {
    let mut mine = Vec::new();
    for v in state.catalog.videos()? {
        if state.video_account_id(&v)? == user.account_id {
            mine.push(v);
        }
    }
    Ok(Json(paginate(mine, &q, |v| {
        let mut json = state.video_json(v)?;
        crate::format::add_owner_fields(&mut json, v);
        Ok(json)
    })?))
}

pub async fn list(
    State(state): State<SharedState>,
    _: AdminUser,
    q: QueryPairs,
) -> ApiResult<Json<Value>> {
    Ok(Json(paginate(state.catalog.users()?, &q, |u| {
        state.user_json(u)
    })?))
}

pub async fn create(
    State(state): State<SharedState>,
    _: AdminUser,
    Json(body): Json<Value>,
) -> ApiResult<Json<Value>> {
    let fields = Fields(
        body.as_object()
            .cloned()
            .ok_or_else(|| ApiError::bad_request("Body should be a JSON object"))?,
    );
    let username = fields.string("username")?.unwrap_or_default();
    check_username(&username)?;
    let password = fields.string("password")?.unwrap_or_default();
    check_password(&password)?;
    let email = fields.string("email")?.unwrap_or_default();
    if !email.contains('@') || email.len() > 400 {
        return Err(ApiError::invalid_param(
            "email",
            "Should have a valid email",
        ));
    }
    let role = match fields.int("role")? {
        Some(id) => Role::from_id(id)
            .ok_or_else(|| ApiError::invalid_param("role", "Should have a valid role"))?,
        None => Role::User,
    };
    let quota = |key: &str, default: i64| -> ApiResult<i64> {
        let q = fields.signed(key)?.unwrap_or(default);
        if q < -1 {
            return Err(ApiError::invalid_param(
                key,
                "Should have a valid user quota",
            ));
        }
        Ok(q)
    };
    let defaults = &state.settings.users;
    let new = NewUser {
        username,
        email,
        password,
        role,
        video_quota: quota("videoQuota", defaults.video_quota)?,
        video_quota_daily: quota("videoQuotaDaily", defaults.video_quota_daily)?,
    };
    let catalog = state.clone();
    let user = tokio::task::spawn_blocking(move || catalog.catalog.create_user(new))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| match e {
            peerbox_catalog::CatalogError::NameTaken(_) => {
                ApiError::conflict("User with this username or email already exists.")
            }
            other => other.into(),
        })?;
    Ok(Json(
        json!({ "user": { "id": user.id, "account": { "id": user.account_id } } }),
    ))
}
