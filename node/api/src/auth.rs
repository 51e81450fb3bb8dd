//! Who is calling: bearer tokens, the local OAuth client and the token endpoints.

use axum::extract::{FromRequestParts, State};
use axum::http::{HeaderMap, header, request::Parts};
use axum::{Form, Json};
use chrono::Duration;
use peerbox_catalog::{TokenRefusal, User};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::{AppState, SharedState};

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn user_for_token(state: &AppState, token: &str) -> ApiResult<User> {
    match state.catalog.authenticate(token)? {
        Ok(user) => Ok(user),
        Err(TokenRefusal::Expired) => Err(ApiError::unauthorized(
            "Invalid token: access token has expired",
        )
        .with_code("invalid_token")),
        Err(TokenRefusal::Unknown) => Err(ApiError::unauthorized(
            "Invalid token: access token is invalid",
        )
        .with_code("invalid_token")),
    }
}

/// The caller, when it sent a bearer token. A token that is sent but invalid is refused,
/// as PeerTube's optional authentication does.
pub struct Viewer(pub Option<User>);

impl FromRequestParts<SharedState> for Viewer {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        match bearer(&parts.headers) {
            Some(token) => Ok(Viewer(Some(user_for_token(state, token)?))),
            None => Ok(Viewer(None)),
        }
    }
}

/// A caller that must be signed in.
pub struct AuthUser(pub User);

impl FromRequestParts<SharedState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(&parts.headers).ok_or_else(|| {
            ApiError::unauthorized("Unauthorized request: no authentication given")
                .with_code("invalid_token")
        })?;
        Ok(AuthUser(user_for_token(state, token)?))
    }
}

/// Proof that the caller is a signed-in administrator (PeerTube's MANAGE_USERS right).
pub struct AdminUser;

impl FromRequestParts<SharedState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let AuthUser(user) = AuthUser::from_request_parts(parts, state).await?;
        if user.role != peerbox_catalog::Role::Administrator {
            return Err(ApiError::forbidden(
                "User does not have the right to do this action",
            ));
        }
        Ok(AdminUser)
    }
}

pub async fn local_client(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !state.settings.accepts_host(host) {
        return Err(ApiError::forbidden(format!(
            "Getting client tokens for host {host} is forbidden"
        )));
    }
    let (id, secret) = state.catalog.local_oauth_client()?;
    Ok(Json(json!({ "client_id": id, "client_secret": secret })))
}

#[derive(Deserialize)]
pub struct TokenRequest {
    client_id: Option<String>,
    client_secret: Option<String>,
    grant_type: Option<String>,
    username: Option<String>,
    password: Option<String>,
    refresh_token: Option<String>,
}

fn invalid_grant(detail: &str) -> ApiError {
    ApiError::bad_request(format!("Invalid grant: {detail}")).with_code("invalid_grant")
}

pub async fn token(
    State(state): State<SharedState>,
    Form(req): Form<TokenRequest>,
) -> ApiResult<Json<Value>> {
    let (id, secret) = state.catalog.local_oauth_client()?;
    if req.client_id.as_deref() != Some(id.as_str())
        || req.client_secret.as_deref() != Some(secret.as_str())
    {
        return Err(
            ApiError::bad_request("Invalid client: client is invalid").with_code("invalid_client")
        );
    }
    let oauth = &state.settings.oauth;
    let (access, refresh) = (
        Duration::seconds(oauth.access_token_lifetime),
        Duration::seconds(oauth.refresh_token_lifetime),
    );
    let issued = match req.grant_type.as_deref() {
        Some("password") => {
            let (Some(username), Some(password)) = (req.username, req.password) else {
                return Err(
                    ApiError::bad_request("Missing parameter: `username` and `password`")
                        .with_code("invalid_request"),
                );
            };
            // PeerTube lets users sign in with their username in any case.
            let username = username.trim().to_lowercase();
            let catalog = state.clone();
            let user = tokio::task::spawn_blocking(move || {
                catalog.catalog.check_password(&username, &password)
            })
            .await
            .map_err(ApiError::internal)??
            .ok_or_else(|| invalid_grant("user credentials are invalid"))?;
            state.catalog.issue_tokens(user.id, access, refresh)?
        }
        Some("refresh_token") => {
            let token = req.refresh_token.ok_or_else(|| {
                ApiError::bad_request("Missing parameter: `refresh_token`")
                    .with_code("invalid_request")
            })?;
            match state.catalog.refresh_tokens(&token, access, refresh)? {
                Ok((_, issued)) => issued,
                Err(TokenRefusal::Expired) => {
                    return Err(invalid_grant("refresh token has expired"));
                }
                Err(TokenRefusal::Unknown) => {
                    return Err(invalid_grant("refresh token is invalid"));
                }
            }
        }
        _ => {
            return Err(
                ApiError::bad_request("Unsupported grant type: `grant_type` is invalid")
                    .with_code("unsupported_grant_type"),
            );
        }
    };
    Ok(Json(json!({
        "token_type": "Bearer",
        "access_token": issued.access_token,
        "refresh_token": issued.refresh_token,
        "expires_in": issued.expires_in,
        "refresh_token_expires_in": issued.refresh_token_expires_in,
    })))
}

pub async fn revoke(
    State(state): State<SharedState>,
    headers: HeaderMap,
    _user: AuthUser,
) -> ApiResult<Json<Value>> {
    if let Some(token) = bearer(&headers) {
        state.catalog.revoke(token)?;
    }
    Ok(Json(json!({})))
}
