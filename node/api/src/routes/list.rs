//! Query parameters shared by lists: pagination, sorting and video filters.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use peerbox_catalog::{User, Video};
use serde_json::{Value, json};

use crate::SharedState;
use crate::error::{ApiError, ApiResult};
use peerbox_catalog::access::is_listed;

/// The raw query string as (key, value) pairs, so that repeated keys (`tagsOneOf=a&tagsOneOf=b`)
/// and PeerTube's `key[]=` forms both work.
pub struct QueryPairs(pub Vec<(String, String)>);

impl FromRequestParts<SharedState> for QueryPairs {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        _: &SharedState,
    ) -> Result<Self, Self::Rejection> {
        let q = parts.uri.query().unwrap_or("");
        Ok(QueryPairs(
            form_urlencoded::parse(q.as_bytes()).into_owned().collect(),
        ))
    }
}

impl QueryPairs {
    pub fn one(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, key: &str) -> Vec<&str> {
        let bracketed = format!("{key}[]");
        self.0
            .iter()
            .filter(|(k, _)| *k == key || *k == bracketed)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn number(&self, key: &str, default: usize) -> ApiResult<usize> {
        match self.one(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| ApiError::invalid_param(key, "Should have a number")),
        }
    }

    /// `start` and `count` (default 15, at most 100), as PeerTube pages lists.
    pub fn page(&self) -> ApiResult<(usize, usize)> {
        let count = self.number("count", 15)?;
        if count > 100 {
            return Err(ApiError::invalid_param(
                "count",
                "Should have a number count (max: 100)",
            ));
        }
        Ok((self.number("start", 0)?, count))
    }
}

/// `{total, data}` for one page of `items`.
pub fn paginate<T>(
    items: Vec<T>,
    q: &QueryPairs,
    to_json: impl Fn(&T) -> ApiResult<Value>,
) -> ApiResult<Value> {
    let (start, count) = q.page()?;
    let total = items.len();
    let data = items
        .iter()
        .skip(start)
        .take(count)
        .map(to_json)
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(json!({ "total": total, "data": data }))
}

fn sort_videos(videos: &mut [Video], sort: &str) -> ApiResult<()> {
    let (desc, key) = match sort.strip_prefix('-') {
        Some(k) => (true, k),
        None => (false, sort),
    };
    match key {
        "name" => videos.sort_by(|a, b| {
            a.attributes
                .name
                .to_lowercase()
                .cmp(&b.attributes.name.to_lowercase())
        }),
        "publishedAt" | "originallyPublishedAt" => videos.sort_by_key(|v| v.published_at),
        "createdAt" => videos.sort_by_key(|v| v.created_at),
        "updatedAt" => videos.sort_by_key(|v| v.updated_at),
        "views" | "trending" | "hot" | "best" => videos.sort_by_key(|v| v.views),
        "likes" => videos.sort_by_key(|v| v.likes),
        "duration" => videos.sort_by_key(|v| v.duration),
        "match" => {}
        _ => {
            return Err(ApiError::invalid_param(
                "sort",
                "Should have correct sortable column",
            ));
        }
    }
    if desc {
        videos.reverse();
    }
    Ok(())
}

/// The videos a list shows to `viewer`: listed ones only, filtered and sorted by the query.
pub fn filter_videos(
    videos: Vec<Video>,
    viewer: Option<&User>,
    q: &QueryPairs,
) -> ApiResult<Vec<Video>> {
    let only_remote = q.one("isLocal") == Some("false");
    let nsfw = q.one("nsfw");
    let categories = q.all("categoryOneOf");
    let languages = q.all("languageOneOf");
    let tags: Vec<String> = q
        .all("tagsOneOf")
        .iter()
        .map(|t| t.to_lowercase())
        .collect();
    let mut out: Vec<Video> = videos
        .into_iter()
        .filter(|v| is_listed(viewer, v))
        // Every video of this node is local; remote ones arrive with federation.
        .filter(|_| !only_remote)
        .filter(|v| match nsfw {
            Some("true") => v.attributes.nsfw,
            Some("false") => !v.attributes.nsfw,
            _ => true,
        })
        .filter(|v| {
            categories.is_empty()
                || v.attributes
                    .category
                    .is_some_and(|c| categories.contains(&c.to_string().as_str()))
        })
        .filter(|v| {
            languages.is_empty()
                || v.attributes
                    .language
                    .as_deref()
                    .is_some_and(|l| languages.contains(&l))
        })
        .filter(|v| {
            tags.is_empty()
                || v.attributes
                    .tags
                    .iter()
                    .any(|t| tags.contains(&t.to_lowercase()))
        })
        .collect();
    sort_videos(&mut out, q.one("sort").unwrap_or("-publishedAt"))?;
    Ok(out)
}
