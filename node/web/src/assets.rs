//! Files compiled into the binary: the style sheet and the scripts bundled by esbuild
//! (`just player`). Their URLs carry a hash of their content, so browsers may keep them
//! for a year and still get a new build at once.

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::Shared;
use crate::error::WebError;

const FILES: &[(&str, &str, &[u8])] = &[
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/style.css"),
    ),
    (
        "player.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../player/dist/player.js"),
    ),
    (
        "upload.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../player/dist/upload.js"),
    ),
    (
        "studio.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../player/dist/studio.js"),
    ),
    // Hand-written, not bundled: it needs nothing from npm.
    (
        "updates.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/updates.js"),
    ),
];

pub struct Assets {
    /// Name and content hash, in the order of `FILES`.
    versions: Vec<(&'static str, String)>,
}

impl Assets {
    pub fn new() -> Assets {
        Assets {
            versions: FILES
                .iter()
                .map(|(name, _, bytes)| (*name, hex::encode(&Sha256::digest(bytes)[..6])))
                .collect(),
        }
    }

    pub fn url(&self, name: &str) -> String {
        let version = self
            .versions
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, v)| v.as_str());
        format!("/web/assets/{name}?v={version}")
    }
}

pub async fn serve(State(_): State<Shared>, Path(name): Path<String>) -> Response {
    let Some((_, kind, bytes)) = FILES.iter().find(|(n, _, _)| *n == name) else {
        return WebError::NotFound.into_response();
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
        ],
        *bytes,
    )
        .into_response()
}
