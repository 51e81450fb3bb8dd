//! Images people upload on the pages (avatars, banners, video thumbnails): checked by their
//! first bytes, written atomically under the data dir, and served back.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use rand::RngCore;

use crate::error::{WebError, WebResult};
use crate::{Shared, Web};

pub const AVATARS_DIR: &str = "media/avatars";
pub const BANNERS_DIR: &str = "media/banners";
/// The API serves `/lazy-static/thumbnails/{name}.jpg` from here.
pub const THUMBNAILS_DIR: &str = "media/thumbnails";
/// PeerTube's `video.image.size.max`.
pub const MAX_IMAGE_BYTES: usize = 8 * 1024 * 1024;
/// Two images and a few text fields.
pub const MAX_FORM_BYTES: usize = 2 * MAX_IMAGE_BYTES + 64 * 1024;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ImageKind {
    Jpeg,
    Png,
    Webp,
}

impl ImageKind {
    pub fn sniff(bytes: &[u8]) -> Option<ImageKind> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(ImageKind::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(ImageKind::Png)
        } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(ImageKind::Webp)
        } else {
            None
        }
    }

    fn extension(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "jpg",
            ImageKind::Png => "png",
            ImageKind::Webp => "webp",
        }
    }

    fn from_extension(ext: &str) -> Option<ImageKind> {
        match ext {
            "jpg" => Some(ImageKind::Jpeg),
            "png" => Some(ImageKind::Png),
            "webp" => Some(ImageKind::Webp),
            _ => None,
        }
    }

    fn mime(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "image/jpeg",
            ImageKind::Png => "image/png",
            ImageKind::Webp => "image/webp",
        }
    }
}

/// The text fields and files of a multipart form.
#[derive(Default)]
pub struct FormData {
    pub text: HashMap<String, String>,
    pub files: HashMap<String, Vec<u8>>,
}

impl FormData {
    pub async fn read(req: Request, web: &Shared) -> WebResult<FormData> {
        let bad = |e: axum::extract::multipart::MultipartError| WebError::BadRequest(e.body_text());
        let mut multipart = Multipart::from_request(req, web)
            .await
            .map_err(|e| WebError::BadRequest(e.body_text()))?;
        let mut form = FormData::default();
        while let Some(field) = multipart.next_field().await.map_err(bad)? {
            let name = field.name().unwrap_or("").to_string();
            if field.file_name().is_some() {
                let bytes = field.bytes().await.map_err(bad)?;
                // An empty file input sends an empty part: nothing was chosen.
                if !bytes.is_empty() {
                    form.files.insert(name, bytes.to_vec());
                }
            } else {
                form.text.insert(name, field.text().await.map_err(bad)?);
            }
        }
        Ok(form)
    }

    pub fn text(&self, name: &str) -> &str {
        self.text.get(name).map_or("", String::as_str)
    }

    pub fn checked(&self, name: &str) -> bool {
        self.text.contains_key(name)
    }
}

/// The kind of an uploaded image, if it is one of `only` and not too large.
pub fn check_image(bytes: &[u8], only: &[ImageKind]) -> WebResult<ImageKind> {
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(WebError::BadRequest("Images may be 8 MB at most.".into()));
    }
    ImageKind::sniff(bytes)
        .filter(|k| only.contains(k))
        .ok_or_else(|| {
            let names: Vec<&str> = only.iter().map(|k| k.mime()).collect();
            WebError::BadRequest(format!("The image must be one of: {}.", names.join(", ")))
        })
}

fn random_suffix() -> String {
    let mut bytes = [0u8; 6];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

impl Web {
    fn image_dir(&self, dir: &str) -> PathBuf {
        self.ctx.data_dir.join(dir)
    }

    /// Stores an uploaded image as `{stem}-{random}.{ext}` in `dir` and returns its name.
    /// `only` restricts the accepted kinds.
    pub async fn store_image(
        &self,
        dir: &str,
        stem: &str,
        bytes: Vec<u8>,
        only: &[ImageKind],
    ) -> WebResult<String> {
        let kind = check_image(&bytes, only)?;
        let name = format!("{stem}-{}.{}", random_suffix(), kind.extension());
        let folder = self.image_dir(dir);
        let target = folder.join(&name);
        // Written beside its final name, flushed, then renamed: never half an image.
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::create_dir_all(&folder)?;
            let tmp = folder.join(format!(".{}.tmp", random_suffix()));
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &target)
        })
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?
        .map_err(|e| WebError::Internal(format!("writing an image: {e}")))?;
        Ok(name)
    }

    pub async fn remove_image(&self, dir: &str, name: &str) {
        if !plain_name(name) {
            return;
        }
        let path = self.image_dir(dir).join(name);
        if let Err(e) = tokio::fs::remove_file(&path).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!("could not remove {}: {e}", path.display());
        }
    }
}

/// A file name this module could have written: no path, no hidden file.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

async fn serve(web: &Web, dir: &str, name: &str) -> Response {
    let kind = name
        .rsplit_once('.')
        .and_then(|(_, ext)| ImageKind::from_extension(ext));
    let (true, Some(kind)) = (plain_name(name), kind) else {
        return WebError::NotFound.into_response();
    };
    match tokio::fs::read(web.image_dir(dir).join(name)).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(kind.mime())),
                // Names change with every upload, so a cached copy never goes stale.
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=31536000, immutable"),
                ),
                (
                    header::ACCESS_CONTROL_ALLOW_ORIGIN,
                    HeaderValue::from_static("*"),
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => WebError::NotFound.into_response(),
    }
}

pub async fn avatar(State(web): State<Shared>, Path(name): Path<String>) -> Response {
    serve(&web, AVATARS_DIR, &name).await
}

pub async fn banner(State(web): State<Shared>, Path(name): Path<String>) -> Response {
    serve(&web, BANNERS_DIR, &name).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_names() {
        assert_eq!(
            ImageKind::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(ImageKind::Jpeg)
        );
        assert_eq!(
            ImageKind::sniff(b"\x89PNG\r\n\x1a\nxxxx"),
            Some(ImageKind::Png)
        );
        assert_eq!(ImageKind::sniff(b"RIFF1234WEBPVP8 "), Some(ImageKind::Webp));
        assert_eq!(ImageKind::sniff(b"<svg onload=alert(1)>"), None);
        assert!(plain_name("channel-1-abcdef.jpg"));
        assert!(!plain_name("../catalog.redb"));
        assert!(!plain_name(".hidden.jpg"));
        assert!(!plain_name("a/b.jpg"));
    }
}
