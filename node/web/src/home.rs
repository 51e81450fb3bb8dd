//! The home page (trending and recent videos) and search by words and tags.

use axum::extract::{RawQuery, State};
use maud::{Markup, html};
use peerbox_catalog::Video;

use crate::error::WebResult;
use crate::page::{self, Meta};
use crate::session::Session;
use crate::videos::{page_of, pager};
use crate::{Shared, Web, admin, markdown};

const HOME_COUNT: usize = 8;
const PER_PAGE: usize = 24;

fn by_views(mut videos: Vec<Video>) -> Vec<Video> {
    // Stable: equal views keep newest first.
    videos.sort_by_key(|v| std::cmp::Reverse(v.views));
    videos
}

fn browse_links() -> Markup {
    html! {
        nav.browse aria-label="Browse videos" {
            a href="/search?sort=-publishedAt" { "Recently added" }
            a href="/search?sort=-views" { "Trending" }
            a href="/search?isLocal=true" { "Local videos" }
        }
    }
}

pub async fn home(State(web): State<Shared>, session: Session) -> WebResult<Markup> {
    let listed = web.listed_videos(session.user.as_ref())?;
    let recent: Vec<Video> = listed.iter().take(HOME_COUNT).cloned().collect();
    let trending: Vec<Video> = by_views(listed.clone())
        .into_iter()
        .filter(|v| v.views > 0)
        .take(HOME_COUNT)
        .collect();
    let about = web.catalog().setting(admin::INSTANCE_DESCRIPTION)?;
    let body = html! {
        h1.visually-hidden { (web.instance_name()) }
        @if let Some(a) = about.filter(|a| !a.trim().is_empty()) {
            section.about { (markdown::render(&a)) }
        }
        (browse_links())
        @if listed.is_empty() {
            p.empty { "No videos yet." }
        }
        @if !trending.is_empty() {
            section aria-labelledby="trending" {
                h2 #trending { a href="/search?sort=-views" { "Trending" } }
                (web.video_grid(&trending))
            }
        }
        @if !recent.is_empty() {
            section aria-labelledby="recent" {
                h2 #recent { a href="/search?sort=-publishedAt" { "Recently added" } }
                (web.video_grid(&recent))
            }
        }
    };
    Ok(page::page(
        &web,
        &session,
        Meta {
            title: "Home".into(),
            description: Some(web.instance_short_description()),
            canonical: Some(web.url("/")),
            alternates: vec![(
                "application/rss+xml",
                "New videos".into(),
                web.url("/feeds/videos.xml"),
            )],
            ..Meta::default()
        },
        body,
    ))
}

/// PeerTube matches a search against names (the whole phrase or every word) and tags.
fn matches(video: &Video, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    let name = video.attributes.name.to_lowercase();
    let words: Vec<&str> = needle.split_whitespace().collect();
    name.contains(needle)
        || words.iter().all(|w| name.contains(w))
        || video
            .attributes
            .tags
            .iter()
            .any(|t| t.to_lowercase() == needle || words.contains(&t.to_lowercase().as_str()))
}

struct SearchQuery {
    search: String,
    tags: Vec<String>,
    sort: String,
    page: usize,
}

impl SearchQuery {
    fn parse(raw: Option<&str>) -> SearchQuery {
        let mut q = SearchQuery {
            search: String::new(),
            tags: Vec::new(),
            sort: "-publishedAt".into(),
            page: 1,
        };
        for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            match k.as_ref() {
                "search" => q.search = v.trim().to_string(),
                "tagsOneOf" | "tagsOneOf[]" if !v.trim().is_empty() => {
                    q.tags.push(v.trim().to_lowercase());
                }
                "sort" => q.sort = v.into_owned(),
                "page" => q.page = v.parse().unwrap_or(1).max(1),
                _ => {}
            }
        }
        q
    }

    /// The same search, for the pager (without `page`).
    fn base_url(&self) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        if !self.search.is_empty() {
            s.append_pair("search", &self.search);
        }
        for t in &self.tags {
            s.append_pair("tagsOneOf", t);
        }
        s.append_pair("sort", &self.sort);
        format!("/search?{}", s.finish())
    }

    fn heading(&self) -> String {
        match (self.search.is_empty(), self.tags.is_empty()) {
            (false, _) => format!("Results for “{}”", self.search),
            (true, false) => format!("Videos tagged {}", self.tags.join(", ")),
            _ if self.sort.trim_start_matches('-') == "views" => "Trending".into(),
            _ => "Recently added".into(),
        }
    }
}

fn search_results(
    web: &Web,
    viewer: Option<&peerbox_catalog::User>,
    q: &SearchQuery,
) -> WebResult<Vec<Video>> {
    let needle = q.search.to_lowercase();
    let found: Vec<Video> = web
        .listed_videos(viewer)?
        .into_iter()
        .filter(|v| matches(v, &needle))
        .filter(|v| {
            q.tags.is_empty()
                || v.attributes
                    .tags
                    .iter()
                    .any(|t| q.tags.contains(&t.to_lowercase()))
        })
        .collect();
    Ok(match q.sort.trim_start_matches('-') {
        "views" | "trending" | "hot" | "best" => by_views(found),
        _ => found,
    })
}

pub async fn search(
    State(web): State<Shared>,
    session: Session,
    RawQuery(raw): RawQuery,
) -> WebResult<Markup> {
    let q = SearchQuery::parse(raw.as_deref());
    let found = search_results(&web, session.user.as_ref(), &q)?;
    let heading = q.heading();
    let body = html! {
        h1 { (heading) }
        form.search-page role="search" action="/search" method="get" {
            label for="search-words" { "Words" }
            input #search-words type="search" name="search" value=(q.search);
            label for="search-tag" { "Tag" }
            input #search-tag type="text" name="tagsOneOf" value=(q.tags.first().map(String::as_str).unwrap_or(""));
            label for="search-sort" { "Sort by" }
            select #search-sort name="sort" {
                option value="-publishedAt" selected[q.sort != "-views"] { "Newest" }
                option value="-views" selected[q.sort == "-views"] { "Most viewed" }
            }
            button type="submit" { "Search" }
        }
        (browse_links())
        p.count { (found.len()) " videos" }
        (web.video_grid(&page_of(&found, q.page, PER_PAGE)))
        (pager(&q.base_url(), q.page, PER_PAGE, found.len()))
    };
    Ok(page::page(
        &web,
        &session,
        Meta {
            title: heading,
            noindex: true,
            ..Meta::default()
        },
        body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_query_round_trips() {
        let q = SearchQuery::parse(Some(
            "search=cats+%26+dogs&tagsOneOf=Pets&page=2&sort=-views",
        ));
        assert_eq!(q.search, "cats & dogs");
        assert_eq!(q.tags, vec!["pets"]);
        assert_eq!(q.page, 2);
        assert_eq!(
            q.base_url(),
            "/search?search=cats+%26+dogs&tagsOneOf=pets&sort=-views"
        );
        assert_eq!(SearchQuery::parse(Some("page=x")).page, 1);
    }
}
