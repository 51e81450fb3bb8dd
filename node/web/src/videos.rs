//! Videos as the pages show them: who may see them (the catalog's rules), where their files
//! are served (the API's file routes), and the cards of video lists.

use std::collections::HashMap;

use maud::{Markup, html};
use peerbox_catalog::access::is_listed;
use peerbox_catalog::{Account, Channel, Privacy, User, Video, VideoRef};

use crate::Web;
use crate::error::{WebError, WebResult};

/// A video with the channel and account it belongs to.
pub struct Owned {
    pub video: Video,
    pub channel: Channel,
    pub account: Account,
}

pub fn watch_path(v: &Video) -> String {
    format!("/w/{}", v.short_uuid())
}

pub fn embed_path(v: &Video) -> String {
    format!("/videos/embed/{}", v.uuid)
}

/// Files of videos that need a signed-in or password-holding viewer live under `private/`
/// (the API's rule, PeerTube's layout).
pub fn private_media(v: &Video) -> bool {
    !matches!(v.attributes.privacy, Privacy::Public | Privacy::Unlisted)
}

pub fn hls_base_path(v: &Video) -> String {
    let private = if private_media(v) { "private/" } else { "" };
    format!("/static/streaming-playlists/hls/{private}{}", v.uuid)
}

pub fn master_playlist_path(v: &Video) -> Option<String> {
    v.outputs
        .as_ref()
        .map(|o| format!("{}/{}", hls_base_path(v), o.hls.master))
}

pub fn preview_path(v: &Video) -> Option<String> {
    v.outputs
        .as_ref()
        .and_then(|o| o.preview.as_ref())
        .map(|p| format!("/lazy-static/previews/{p}"))
}

/// `3:07`, `1:02:03`.
pub fn duration(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, (seconds % 3600) / 60, seconds % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

pub fn views(n: u64) -> String {
    if n == 1 {
        "1 view".into()
    } else {
        format!("{n} views")
    }
}

impl Web {
    /// The thumbnail its owner chose, else the one transcoding made.
    pub fn thumbnail_path(&self, v: &Video) -> Option<String> {
        let custom = self.catalog().custom_thumbnail(v.uuid).ok().flatten();
        custom
            .or_else(|| v.outputs.as_ref().and_then(|o| o.thumbnail.clone()))
            .map(|t| format!("/lazy-static/thumbnails/{t}"))
    }

    pub fn owned(&self, video: Video) -> WebResult<Owned> {
        let channel = self
            .catalog()
            .channel(video.attributes.channel_id)?
            .ok_or_else(|| WebError::Internal(format!("video {} has no channel", video.id)))?;
        let account = self
            .catalog()
            .account(channel.account_id)?
            .ok_or_else(|| WebError::Internal(format!("channel {} has no account", channel.id)))?;
        Ok(Owned {
            video,
            channel,
            account,
        })
    }

    /// The video an id of a URL names (UUID, shortUUID or numeric id), or 404.
    pub fn video_by_ref(&self, id: &str) -> WebResult<(Video, VideoRef)> {
        let r = VideoRef::parse(id).ok_or(WebError::NotFound)?;
        let video = self.catalog().video(r)?.ok_or(WebError::NotFound)?;
        Ok((video, r))
    }

    /// Videos this viewer sees in lists, newest first.
    pub fn listed_videos(&self, viewer: Option<&User>) -> WebResult<Vec<Video>> {
        Ok(self
            .catalog()
            .videos()?
            .into_iter()
            .filter(|v| is_listed(viewer, v))
            .collect())
    }

    /// A grid of video cards.
    pub fn video_grid(&self, videos: &[Video]) -> Markup {
        let mut channels: HashMap<u64, Option<Channel>> = HashMap::new();
        html! {
            ul.videos {
                @for v in videos {
                    @let channel = channels
                        .entry(v.attributes.channel_id)
                        .or_insert_with(|| self.catalog().channel(v.attributes.channel_id).ok().flatten());
                    li.card { (self.video_card(v, channel.as_ref())) }
                }
            }
        }
    }

    pub fn video_card(&self, v: &Video, channel: Option<&Channel>) -> Markup {
        let watch = watch_path(v);
        html! {
            a.thumb href=(watch) tabindex="-1" aria-hidden="true" {
                @if let Some(t) = self.thumbnail_path(v) {
                    img src=(t) alt="" loading="lazy" width="280" height="157";
                } @else {
                    span.thumb-placeholder {}
                }
                @if v.duration > 0 {
                    span.duration { (duration(v.duration)) }
                }
            }
            h3 { a href=(watch) { (v.attributes.name) } }
            p.meta {
                @if let Some(c) = channel {
                    a href={ "/c/" (c.name) } { (c.display_name) }
                    " · "
                }
                (views(v.views)) " · "
                time datetime=(v.published_at.to_rfc3339()) { (v.published_at.format("%Y-%m-%d")) }
            }
        }
    }
}

/// Pages of lists: `?page=N`, `per_page` items each.
pub fn page_of<T: Clone>(items: &[T], page: usize, per_page: usize) -> Vec<T> {
    items
        .iter()
        .skip(page.saturating_sub(1).saturating_mul(per_page))
        .take(per_page)
        .cloned()
        .collect()
}

/// "Newer" and "Older" links around a paged list; `base` is the URL without `page`.
pub fn pager(base: &str, page: usize, per_page: usize, total: usize) -> Markup {
    let page = page.max(1);
    let sep = if base.contains('?') { '&' } else { '?' };
    let has_more = page.saturating_mul(per_page) < total;
    html! {
        @if page > 1 || has_more {
            nav.pager aria-label="Pages" {
                @if page > 1 {
                    a rel="prev" href={ (base) (sep) "page=" (page - 1) } { "← Newer" }
                }
                span { "Page " (page) }
                @if has_more {
                    a rel="next" href={ (base) (sep) "page=" (page + 1) } { "Older →" }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration(7), "0:07");
        assert_eq!(duration(187), "3:07");
        assert_eq!(duration(3723), "1:02:03");
    }

    #[test]
    fn paging() {
        let items: Vec<u32> = (1..=10).collect();
        assert_eq!(page_of(&items, 1, 4), vec![1, 2, 3, 4]);
        assert_eq!(page_of(&items, 3, 4), vec![9, 10]);
        assert_eq!(page_of(&items, 0, 4), vec![1, 2, 3, 4]);
        assert!(page_of(&items, 9, 4).is_empty());
        let html = pager("/search?search=a", 2, 4, 10).into_string();
        assert!(html.contains("/search?search=a&amp;page=1"), "{html}");
        assert!(html.contains("page=3"), "{html}");
    }
}
