//! The frame every page shares: head (title, description, OpenGraph, alternates), header
//! with search and the signed-in user's links, footer; and the error page.

use maud::{DOCTYPE, Markup, html};

use crate::Web;
use crate::error::ErrorPage;
use crate::session::Session;

/// Only this node's scripts, styles and media; no inline script or style, no framing.
pub const CSP_PAGES: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; media-src 'self' blob:; connect-src 'self'; worker-src 'self' blob:; \
    form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The embed's policy: the same, but any site may frame it.
pub const CSP_EMBED: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; media-src 'self' blob:; connect-src 'self'; worker-src 'self' blob:; \
    form-action 'self'; base-uri 'none'; frame-ancestors *";

#[derive(Default)]
pub struct Meta {
    pub title: String,
    pub description: Option<String>,
    pub canonical: Option<String>,
    /// Unlisted and private things stay out of search engines.
    pub noindex: bool,
    /// OpenGraph (`og:*`) and Twitter (`twitter:*`) tags: name and content.
    pub social: Vec<(&'static str, String)>,
    /// `<link rel="alternate">`: type, title, href.
    pub alternates: Vec<(&'static str, String, String)>,
    /// Names of bundled scripts the page runs.
    pub scripts: Vec<&'static str>,
}

pub fn head(web: &Web, meta: &Meta, instance: &str) -> Markup {
    html! {
        meta charset="utf-8";
        meta name="viewport" content="width=device-width, initial-scale=1";
        title { (meta.title) " – " (instance) }
        @if let Some(d) = &meta.description {
            meta name="description" content=(d);
        }
        @if meta.noindex {
            meta name="robots" content="noindex";
        }
        @if let Some(c) = &meta.canonical {
            link rel="canonical" href=(c);
        }
        @for (name, content) in &meta.social {
            @if name.starts_with("og:") {
                meta property=(name) content=(content);
            } @else {
                meta name=(name) content=(content);
            }
        }
        @for (kind, title, href) in &meta.alternates {
            link rel="alternate" type=(kind) title=(title) href=(href);
        }
        link rel="icon" href="data:,";
        link rel="stylesheet" href=(web.assets.url("style.css"));
        @for s in &meta.scripts {
            script src=(web.assets.url(s)) defer {}
        }
    }
}

pub fn page(web: &Web, session: &Session, meta: Meta, body: Markup) -> Markup {
    let instance = web.instance_name();
    html! {
        (DOCTYPE)
        html lang="en" {
            head { (head(web, &meta, &instance)) }
            body {
                a.skip href="#main" { "Skip to content" }
                header.site {
                    a.brand href="/" { (instance) }
                    form.search role="search" action="/search" method="get" {
                        label.visually-hidden for="site-search" { "Search videos" }
                        input #site-search type="search" name="search" placeholder="Search videos";
                        button type="submit" { "Search" }
                    }
                    nav aria-label="Your account" {
                        @if let Some(user) = &session.user {
                            a href="/videos/upload" { "Upload" }
                            a href="/my-library/videos" { "My videos" }
                            // Accounts are named after their user.
                            a href={ "/a/" (user.username) } { (user.username) }
                            @if user.role == peerbox_catalog::Role::Administrator {
                                a href="/admin/settings" { "Settings" }
                                a href="/admin/updates" { "Updates" }
                            }
                            form.inline method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(session.csrf());
                                button.link type="submit" { "Sign out" }
                            }
                        } @else {
                            a href="/login" { "Sign in" }
                        }
                    }
                }
                main #main { (body) }
                footer.site {
                    p { (instance) " · " (web.instance_short_description()) }
                    p { "Peerbox, a PeerTube-compatible video node · "
                        a href="/feeds/videos.xml" { "RSS feed of new videos" } }
                }
            }
        }
    }
}

pub fn error_page(web: &Web, session: &Session, e: &ErrorPage) -> Markup {
    page(
        web,
        session,
        Meta {
            title: e.title.into(),
            noindex: true,
            ..Meta::default()
        },
        html! {
            section.narrow.error-page {
                h1 { (e.title) }
                p { (e.message) }
                p { a href="/" { "Go to the home page" } }
            }
        },
    )
}
