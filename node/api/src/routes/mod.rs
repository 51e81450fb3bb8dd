//! The `/api/v1` routes.

mod channels;
mod config;
mod jobs;
mod list;
mod users;
mod videos;

pub use list::QueryPairs;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{get, post};
use tower_http::cors::CorsLayer;

use crate::{SharedState, auth, ota, setup, upload};

pub fn router() -> Router<SharedState> {
    let api = Router::new()
        .route("/config", get(config::config))
        .route("/config/about", get(config::about))
        .route("/server/stats", get(config::stats))
        .route("/oauth-clients/local", get(auth::local_client))
        .route("/users/token", post(auth::token))
        .route("/users/revoke-token", post(auth::revoke))
        .route("/users", get(users::list).post(users::create))
        .route("/users/me", get(users::me))
        .route("/users/me/video-quota-used", get(users::quota_used))
        .route("/users/me/videos", get(users::my_videos))
        .route("/accounts", get(channels::accounts))
        .route("/accounts/{name}", get(channels::account))
        .route("/accounts/{name}/videos", get(channels::account_videos))
        .route(
            "/accounts/{name}/video-channels",
            get(channels::account_channels),
        )
        .route(
            "/video-channels",
            get(channels::list).post(channels::create),
        )
        .route(
            "/video-channels/{handle}",
            get(channels::get)
                .put(channels::update)
                .delete(channels::delete),
        )
        .route("/video-channels/{handle}/videos", get(channels::videos))
        .route("/videos", get(videos::list))
        .route("/videos/categories", get(config::categories))
        .route("/videos/licences", get(config::licences))
        .route("/videos/languages", get(config::languages))
        .route("/videos/privacies", get(config::privacies))
        // The upload streams to disk and counts its own bytes against size and quota.
        .route(
            "/videos/upload",
            post(upload::legacy)
                .layer(DefaultBodyLimit::disable())
                .layer(middleware::from_fn(upload::drain_unread_body)),
        )
        .route(
            "/videos/upload-resumable",
            post(upload::resumable_start)
                .put(upload::resumable_chunk)
                .delete(upload::resumable_cancel)
                .layer(middleware::from_fn(upload::drain_unread_body)),
        )
        .route(
            "/videos/{id}",
            get(videos::get).put(videos::update).delete(videos::delete),
        )
        .route("/videos/{id}/description", get(videos::description))
        .route("/videos/{id}/source", get(videos::source))
        .route("/videos/{id}/views", post(videos::view))
        .route("/search/videos", get(videos::search))
        .route("/search/video-channels", get(channels::search))
        .route("/setup/status", get(setup::status))
        .route("/setup/claim", post(setup::claim))
        .route("/health", get(setup::health))
        .route("/jobs/pause", post(jobs::pause))
        .route("/jobs/resume", post(jobs::resume))
        .route("/jobs/{state}", get(jobs::list))
        .route("/admin/ota", get(ota::status))
        .route("/admin/ota/check", post(ota::check))
        .route("/admin/ota/reboot", post(ota::reboot))
        // Bundles are hundreds of MB: streamed to disk, never through a body limit.
        .route(
            "/admin/ota/upload",
            post(ota::upload)
                .layer(DefaultBodyLimit::disable())
                .layer(middleware::from_fn(upload::drain_unread_body)),
        )
        .fallback(|| async { crate::ApiError::not_found("Unknown API route") });
    Router::new().nest(
        "/api/v1",
        api.layer(middleware::from_fn(crate::error::problems_only))
            .layer(cors()),
    )
}

/// PeerTube enables CORS on the whole API so that other sites' players and apps can call it.
fn cors() -> CorsLayer {
    use axum::http::{HeaderName, Method};
    CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers(tower_http::cors::Any)
        .expose_headers([
            HeaderName::from_static("location"),
            HeaderName::from_static("range"),
            HeaderName::from_static("retry-after"),
        ])
}
