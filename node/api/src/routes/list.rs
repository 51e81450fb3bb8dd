//! Query parameters shared by lists: pagination, sorting and video filters.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use peerbox_catalog::{Privacy, RemoteVideo, User, Video};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::{AppState, SharedState};
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

/// What lists filter and sort videos on, the same for this node's videos and for those
/// received by federation.
pub struct Facets<'a> {
    pub local: bool,
    pub name: &'a str,
    pub tags: &'a [String],
    pub nsfw: bool,
    pub category: Option<u32>,
    pub language: Option<&'a str>,
    pub published_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub views: u64,
    pub likes: u64,
    pub duration: u64,
}

/// A video a list may show.
pub trait Listable {
    fn facets(&self) -> Facets<'_>;
    /// Whether it appears in public lists and searches for this viewer.
    fn listed_for(&self, viewer: Option<&User>) -> bool;
}

impl Listable for Video {
    fn facets(&self) -> Facets<'_> {
        let a = &self.attributes;
        Facets {
            local: true,
            name: &a.name,
            tags: &a.tags,
            nsfw: a.nsfw,
            category: a.category,
            language: a.language.as_deref(),
            published_at: self.published_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
            views: self.views,
            likes: self.likes,
            duration: self.duration,
        }
    }

    fn listed_for(&self, viewer: Option<&User>) -> bool {
        is_listed(viewer, self)
    }
}

impl Listable for RemoteVideo {
    fn facets(&self) -> Facets<'_> {
        Facets {
            local: false,
            name: &self.name,
            tags: &self.tags,
            nsfw: self.nsfw,
            category: self.category,
            language: self.language.as_deref(),
            published_at: self.published_at,
            // PeerTube dates a remote video's creation by its publication.
            created_at: self.published_at,
            updated_at: self.updated_at,
            views: self.views,
            likes: self.likes,
            duration: self.duration,
        }
    }

    /// Unlisted remote videos are reached by their UUID only, as local ones.
    fn listed_for(&self, _: Option<&User>) -> bool {
        self.privacy == Privacy::Public.id()
    }
}

/// A video of this node or one received by federation, in one list.
pub enum AnyVideo {
    Local(Video),
    Remote(RemoteVideo),
}

impl AnyVideo {
    pub fn to_json(&self, state: &AppState) -> ApiResult<Value> {
        match self {
            AnyVideo::Local(v) => state.video_json(v),
            AnyVideo::Remote(v) => Ok(crate::remote_video_json(state, v)),
        }
    }
}

impl Listable for AnyVideo {
    fn facets(&self) -> Facets<'_> {
        match self {
            AnyVideo::Local(v) => v.facets(),
            AnyVideo::Remote(v) => v.facets(),
        }
    }

    fn listed_for(&self, viewer: Option<&User>) -> bool {
        match self {
            AnyVideo::Local(v) => v.listed_for(viewer),
            AnyVideo::Remote(v) => v.listed_for(viewer),
        }
    }
}

fn sort_videos<T: Listable>(videos: &mut [T], sort: &str) -> ApiResult<()> {
    let (desc, key) = match sort.strip_prefix('-') {
        Some(k) => (true, k),
        None => (false, sort),
    };
    match key {
        "name" => videos.sort_by_cached_key(|v| v.facets().name.to_lowercase()),
        "publishedAt" | "originallyPublishedAt" => videos.sort_by_key(|v| v.facets().published_at),
        "createdAt" => videos.sort_by_key(|v| v.facets().created_at),
        "updatedAt" => videos.sort_by_key(|v| v.facets().updated_at),
        "views" | "trending" | "hot" | "best" => videos.sort_by_key(|v| v.facets().views),
        "likes" => videos.sort_by_key(|v| v.facets().likes),
        "duration" => videos.sort_by_key(|v| v.facets().duration),
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
/// `isLocal=true` keeps this node's videos, `isLocal=false` those received by federation.
pub fn filter_videos<T: Listable>(
    videos: Vec<T>,
    viewer: Option<&User>,
    q: &QueryPairs,
) -> ApiResult<Vec<T>> {
    let is_local = match q.one("isLocal") {
        Some("true") => Some(true),
        Some("false") => Some(false),
        _ => None,
    };
    let nsfw = q.one("nsfw");
    let categories = q.all("categoryOneOf");
    let languages = q.all("languageOneOf");
    let tags: Vec<String> = q
        .all("tagsOneOf")
        .iter()
        .map(|t| t.to_lowercase())
        .collect();
    let mut out: Vec<T> = videos
        .into_iter()
        .filter(|v| v.listed_for(viewer))
        .filter(|v| {
            let f = v.facets();
            is_local.is_none_or(|local| f.local == local)
                && match nsfw {
                    Some("true") => f.nsfw,
                    Some("false") => !f.nsfw,
                    _ => true,
                }
                && (categories.is_empty()
                    || f.category
                        .is_some_and(|c| categories.contains(&c.to_string().as_str())))
                && (languages.is_empty() || f.language.is_some_and(|l| languages.contains(&l)))
                && (tags.is_empty() || f.tags.iter().any(|t| tags.contains(&t.to_lowercase())))
        })
        .collect();
    sort_videos(&mut out, q.one("sort").unwrap_or("-publishedAt"))?;
    Ok(out)
}
