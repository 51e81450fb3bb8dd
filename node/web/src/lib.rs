//! Peerbox's web interface: server-rendered HTML pages, the embedded player bundle, the
//! embed page, oEmbed and the video feeds.
//!
//! It reads the catalog and decides who sees what with the catalog's privacy rules
//! (`peerbox_catalog::access`), exactly as the API does. The browser changes videos through
//! the REST API (the pages hand their scripts the signed-in user's bearer token); the pages
//! write to the catalog only what the API has no route for: images, channel layout and
//! instance settings. It must not depend on the API crate, nor serve anything under
//! `/api`, `/static`, `/lazy-static`, `/download` or `/setup`.

mod actors;
mod admin;
mod assets;
mod error;
mod feeds;
mod home;
mod images;
mod markdown;
mod oembed;
mod page;
mod remote;
mod session;
mod studio;
mod updates;
mod videos;
mod watch;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, header};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::Response;
use axum::routing::{get, post};
use peerbox_catalog::Catalog;

/// What the web pages need from the node.
pub struct WebContext {
    /// Shared with the API and the media workers.
    pub catalog: Arc<Catalog>,
    /// The URL the node is reached at, e.g. `https://video.example.org`; absolute URLs in
    /// feeds, oEmbed and OpenGraph tags start with it.
    pub public_url: String,
    pub data_dir: PathBuf,
    /// Used until an administrator names the instance on the settings page.
    pub instance_name: String,
    pub instance_short_description: String,
    /// Lifetimes of the tokens a sign-in on the pages issues (PeerTube's `oauth2` ones).
    pub access_token_lifetime: chrono::Duration,
    pub refresh_token_lifetime: chrono::Duration,
    /// The node's tracker URLs the player announces to (none when the tracker is off).
    pub tracker_urls: Vec<String>,
    /// STUN/TURN URLs for WebRTC between viewers; none by default.
    pub stun_servers: Vec<String>,
    /// The updater's configuration, read by the updates page (absent: no updates here).
    pub ota_config: PathBuf,
}

pub(crate) struct Web {
    pub ctx: WebContext,
    pub assets: assets::Assets,
}

pub(crate) type Shared = Arc<Web>;

impl Web {
    pub fn catalog(&self) -> &Catalog {
        &self.ctx.catalog
    }

    pub fn public_url(&self) -> &str {
        self.ctx.public_url.trim_end_matches('/')
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.public_url())
    }

    /// `host[:port]` of the public URL.
    pub fn host(&self) -> &str {
        let url = self.public_url();
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        rest.split('/').next().unwrap_or(rest)
    }

    pub fn secure(&self) -> bool {
        self.public_url().starts_with("https://")
    }

    pub fn instance_name(&self) -> String {
        self.catalog()
            .setting(admin::INSTANCE_NAME)
            .ok()
            .flatten()
            .unwrap_or_else(|| self.ctx.instance_name.clone())
    }

    pub fn instance_short_description(&self) -> String {
        self.catalog()
            .setting(admin::INSTANCE_SHORT_DESCRIPTION)
            .ok()
            .flatten()
            .unwrap_or_else(|| self.ctx.instance_short_description.clone())
    }
}

/// Every route of the web interface. Its fallback answers unknown paths with the 404 page,
/// so merge it last (the API's router has no fallback of its own).
pub fn router(ctx: WebContext) -> Router {
    let web: Shared = Arc::new(Web {
        ctx,
        assets: assets::Assets::new(),
    });
    Router::new()
        .route("/", get(home::home))
        .route("/search", get(home::search))
        .route(
            "/w/{id}",
            get(watch::watch).post(watch::watch_with_password),
        )
        .route(
            "/videos/watch/{id}",
            get(watch::watch).post(watch::watch_with_password),
        )
        .route("/videos/embed/{id}", get(watch::embed))
        .route("/services/oembed", get(oembed::oembed))
        .route("/feeds/{file}", get(feeds::feed))
        .route("/c/{name}", get(actors::channel))
        .route("/c/{name}/videos", get(actors::channel))
        .route(
            "/c/{name}/manage",
            get(actors::manage_channel)
                .post(actors::save_channel)
                .layer(image_limit()),
        )
        // PeerTube's long actor URLs (the `url` of accounts and channels in the API) show the
        // same pages; federation will answer ActivityPub requests there by Accept header.
        .route("/video-channels/{name}", get(actors::channel))
        .route("/accounts/{name}", get(actors::account))
        .route("/a/{name}", get(actors::account))
        .route("/a/{name}/videos", get(actors::account))
        .route(
            "/a/{name}/manage",
            get(actors::manage_account)
                .post(actors::save_account)
                .layer(image_limit()),
        )
        .route("/web/avatars/{name}", get(images::avatar))
        .route("/web/banners/{name}", get(images::banner))
        .route("/web/assets/{name}", get(assets::serve))
        .route("/login", get(session::login_page).post(session::login))
        .route("/logout", post(session::logout))
        .route("/my-library/videos", get(studio::my_videos))
        .route(
            "/my-library/videos/status.json",
            get(studio::my_videos_status),
        )
        .route("/videos/upload", get(studio::upload_page))
        .route("/videos/manage/{id}", get(studio::edit_page))
        .route(
            "/videos/manage/{id}/thumbnail",
            post(studio::save_thumbnail).layer(image_limit()),
        )
        .route(
            "/admin/settings",
            get(admin::settings_page).post(admin::save_settings),
        )
        .route("/admin/updates", get(updates::page))
        .fallback(error::fallback)
        .layer(from_fn_with_state(web.clone(), error::render_error_pages))
        .layer(from_fn_with_state(web.clone(), session::middleware))
        .layer(from_fn(security_headers))
        .with_state(web)
}

/// Forms that carry images may exceed axum's default 2 MB body limit.
fn image_limit() -> DefaultBodyLimit {
    DefaultBodyLimit::max(images::MAX_FORM_BYTES)
}

/// Pages may not be framed by other sites (the embed sets its own policy), and may run only
/// this node's scripts: a missed escape cannot run a script.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let headers = resp.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(page::CSP_PAGES),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    resp
}
