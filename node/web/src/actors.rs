//! Channel (`/c/{name}`) and account (`/a/{name}`) pages, laid out as their owner chose,
//! and the forms that change them (names, descriptions, avatar, banner, layout).

use axum::extract::{Path, Query, Request, State};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use peerbox_catalog::web_profiles::{Actor, ActorProfile, ChannelLayout};
use peerbox_catalog::{Account, Channel, ChannelChanges, Role, User, Video};
use serde::Deserialize;

use crate::error::{WebError, WebResult};
use crate::images::{AVATARS_DIR, BANNERS_DIR, FormData, ImageKind, check_image};
use crate::page::{self, Meta};
use crate::session::Session;
use crate::videos::{page_of, pager, preview_path, watch_path};
use crate::{Shared, Web, markdown};

const PER_PAGE: usize = 24;
/// What "hide older videos" leaves: the newest few.
const NEWEST_ONLY: usize = 4;
const ANY_IMAGE: &[ImageKind] = &[ImageKind::Jpeg, ImageKind::Png, ImageKind::Webp];

#[derive(Deserialize)]
pub struct PageQuery {
    page: Option<usize>,
}

impl Web {
    /// `name` or `name@this-host`.
    fn local_name<'a>(&self, handle: &'a str) -> Option<&'a str> {
        match handle.split_once('@') {
            None => Some(handle),
            Some((name, host)) if host.eq_ignore_ascii_case(self.host()) => Some(name),
            Some(_) => None,
        }
    }

    fn find_channel(&self, handle: &str) -> WebResult<Channel> {
        let name = self.local_name(handle).ok_or(WebError::NotFound)?;
        self.catalog()
            .channel_by_name(name)?
            .ok_or(WebError::NotFound)
    }

    fn find_account(&self, handle: &str) -> WebResult<Account> {
        let name = self.local_name(handle).ok_or(WebError::NotFound)?;
        self.catalog()
            .account_by_name(name)?
            .ok_or(WebError::NotFound)
    }
}

/// The API's rule for channels: their account's user, or an administrator.
fn manages_account(user: Option<&User>, account_id: u64) -> bool {
    user.is_some_and(|u| u.account_id == account_id || u.role == Role::Administrator)
}

fn actor_header(
    web: &Web,
    profile: &ActorProfile,
    display_name: &str,
    handle: &str,
    manage: Option<String>,
) -> Markup {
    html! {
        @if let Some(b) = &profile.banner {
            img.banner src={ "/web/banners/" (b) } alt="";
        }
        header.actor {
            @if let Some(a) = &profile.avatar {
                img.avatar.large src={ "/web/avatars/" (a) } alt="";
            } @else {
                span.avatar.large.placeholder aria-hidden="true" {
                    (display_name.chars().next().map(|c| c.to_uppercase().to_string()).unwrap_or_default())
                }
            }
            div {
                h1 { (display_name) }
                p.handle { "@" (handle) "@" (web.host()) }
            }
            @if let Some(m) = manage {
                a.button href=(m) { "Manage" }
            }
        }
    }
}

fn feed_links(query: &str) -> Markup {
    html! {
        ul.feeds {
            li { a href={ "/feeds/videos.xml?" (query) } { "RSS" } }
            li { a href={ "/feeds/videos.atom?" (query) } { "Atom" } }
            li { a href={ "/feeds/videos.json?" (query) } { "JSON Feed" } }
        }
    }
}

fn feed_alternates(web: &Web, title: &str, query: &str) -> Vec<(&'static str, String, String)> {
    vec![
        (
            "application/rss+xml",
            format!("{title} (RSS)"),
            web.url(&format!("/feeds/videos.xml?{query}")),
        ),
        (
            "application/atom+xml",
            format!("{title} (Atom)"),
            web.url(&format!("/feeds/videos.atom?{query}")),
        ),
        (
            "application/feed+json",
            format!("{title} (JSON Feed)"),
            web.url(&format!("/feeds/videos.json?{query}")),
        ),
    ]
}

fn follow_box(web: &Web, name: &str, query: &str) -> Markup {
    html! {
        section.follow aria-labelledby="follow-title" {
            h2 #follow-title { "Follow for new videos" }
            p { "Add this feed to a podcast or RSS app to get every new video:" }
            (feed_links(query))
            p { "Or follow " strong { "@" (name) "@" (web.host()) } " from Mastodon or PeerTube." }
        }
    }
}

fn featured(web: &Web, v: &Video) -> Markup {
    let watch = watch_path(v);
    html! {
        section.featured aria-labelledby="featured-title" {
            h2.visually-hidden { "Featured video" }
            a.thumb href=(watch) tabindex="-1" aria-hidden="true" {
                @if let Some(p) = preview_path(v).or_else(|| web.thumbnail_path(v)) {
                    img src=(p) alt="" width="850" height="480";
                } @else {
                    span.thumb-placeholder {}
                }
            }
            div {
                h3 #featured-title { a href=(watch) { (v.attributes.name) } }
                @if let Some(d) = &v.attributes.description {
                    p { (markdown::plain(d, 300)) }
                }
            }
        }
    }
}

pub async fn channel(
    State(web): State<Shared>,
    session: Session,
    Path(name): Path<String>,
    Query(q): Query<PageQuery>,
) -> WebResult<Markup> {
    let channel = web.find_channel(&name)?;
    let profile = web.catalog().actor_profile(Actor::Channel(channel.id))?;
    let layout = &profile.layout;
    let viewer = session.user.as_ref();
    let videos: Vec<Video> = web
        .listed_videos(viewer)?
        .into_iter()
        .filter(|v| v.attributes.channel_id == channel.id)
        .collect();
    // Featured only if this viewer may see it in a list, like every other card here.
    let featured_video = layout
        .featured_video
        .and_then(|u| videos.iter().find(|v| v.uuid == u).cloned());
    let rest: Vec<Video> = videos
        .iter()
        .filter(|v| Some(v.uuid) != featured_video.as_ref().map(|f| f.uuid))
        .cloned()
        .collect();
    let page_no = q.page.unwrap_or(1).max(1);
    let shown = if layout.hide_older_videos {
        rest.iter().take(NEWEST_ONLY).cloned().collect()
    } else {
        page_of(&rest, page_no, PER_PAGE)
    };
    let feed_query = format!("videoChannelId={}", channel.id);
    let manage =
        manages_account(viewer, channel.account_id).then(|| format!("/c/{}/manage", channel.name));
    let owner = web.catalog().account(channel.account_id)?;
    let body = html! {
        (actor_header(&web, &profile, &channel.display_name, &channel.name, manage))
        @if let Some(o) = &owner {
            p.owner { "A channel of " a href={ "/a/" (o.name) } { (o.display_name) } }
        }
        @if let Some(d) = &channel.description {
            section.description aria-label="About this channel" { (markdown::render(d)) }
        }
        @if layout.follow_box_only {
            (follow_box(&web, &channel.name, &feed_query))
        } @else {
            @if let Some(f) = &featured_video {
                (featured(&web, f))
            }
            section aria-labelledby="channel-videos" {
                h2 #channel-videos { @if layout.hide_older_videos { "Latest videos" } @else { "Videos" } }
                @if shown.is_empty() {
                    p.empty { "No videos yet." }
                }
                (web.video_grid(&shown))
                @if !layout.hide_older_videos {
                    (pager(&format!("/c/{}", channel.name), page_no, PER_PAGE, rest.len()))
                }
            }
            @if let Some(s) = &channel.support {
                section.support aria-label="Support" { h2 { "Support" } (markdown::render(s)) }
            }
            (follow_box(&web, &channel.name, &feed_query))
        }
    };
    Ok(page::page(
        &web,
        &session,
        Meta {
            title: channel.display_name.clone(),
            description: channel
                .description
                .as_deref()
                .map(|d| markdown::plain(d, 200)),
            canonical: Some(web.url(&format!("/c/{}", channel.name))),
            alternates: feed_alternates(&web, &channel.display_name, &feed_query),
            social: vec![
                ("og:type", "profile".into()),
                ("og:title", channel.display_name.clone()),
                ("og:url", web.url(&format!("/c/{}", channel.name))),
            ],
            ..Meta::default()
        },
        body,
    ))
}

pub async fn account(
    State(web): State<Shared>,
    session: Session,
    Path(name): Path<String>,
    Query(q): Query<PageQuery>,
) -> WebResult<Markup> {
    let account = web.find_account(&name)?;
    let profile = web.catalog().actor_profile(Actor::Account(account.id))?;
    let channels = web.catalog().channels_of_account(account.id)?;
    let ids: Vec<u64> = channels.iter().map(|c| c.id).collect();
    let videos: Vec<Video> = web
        .listed_videos(session.user.as_ref())?
        .into_iter()
        .filter(|v| ids.contains(&v.attributes.channel_id))
        .collect();
    let page_no = q.page.unwrap_or(1).max(1);
    let feed_query = format!("accountId={}", account.id);
    let manage = manages_account(session.user.as_ref(), account.id)
        .then(|| format!("/a/{}/manage", account.name));
    let body = html! {
        (actor_header(&web, &profile, &account.display_name, &account.name, manage))
        @if let Some(d) = &account.description {
            section.description aria-label="About" { (markdown::render(d)) }
        }
        section aria-labelledby="account-channels" {
            h2 #account-channels { "Channels" }
            ul.channels {
                @for c in &channels {
                    @let avatar = web.catalog().actor_profile(Actor::Channel(c.id)).ok().and_then(|p| p.avatar);
                    li {
                        @if let Some(a) = avatar {
                            img.avatar src={ "/web/avatars/" (a) } alt="" width="48" height="48";
                        }
                        a href={ "/c/" (c.name) } { (c.display_name) }
                    }
                }
            }
        }
        section aria-labelledby="account-videos" {
            h2 #account-videos { "Videos" }
            @if videos.is_empty() {
                p.empty { "No videos yet." }
            }
            (web.video_grid(&page_of(&videos, page_no, PER_PAGE)))
            (pager(&format!("/a/{}", account.name), page_no, PER_PAGE, videos.len()))
        }
        (follow_box(&web, &account.name, &feed_query))
    };
    Ok(page::page(
        &web,
        &session,
        Meta {
            title: account.display_name.clone(),
            description: account
                .description
                .as_deref()
                .map(|d| markdown::plain(d, 200)),
            canonical: Some(web.url(&format!("/a/{}", account.name))),
            alternates: feed_alternates(&web, &account.display_name, &feed_query),
            ..Meta::default()
        },
        body,
    ))
}

fn image_fields(profile: &ActorProfile) -> Markup {
    html! {
        fieldset {
            legend { "Images" }
            label for="avatar" { "Avatar (square JPEG, PNG or WebP, 8 MB at most)" }
            input #avatar type="file" name="avatar" accept="image/jpeg,image/png,image/webp";
            @if profile.avatar.is_some() {
                label.check { input type="checkbox" name="remove_avatar"; " Remove the current avatar" }
            }
            label for="banner" { "Banner (wide image, about 1920 × 317)" }
            input #banner type="file" name="banner" accept="image/jpeg,image/png,image/webp";
            @if profile.banner.is_some() {
                label.check { input type="checkbox" name="remove_banner"; " Remove the current banner" }
            }
        }
    }
}

/// Applies the image part of a settings form to a profile and returns the files it
/// replaced, to be removed once the profile is saved. Both images are checked before
/// either is written, so a bad one changes nothing.
async fn apply_images(
    web: &Web,
    form: &mut FormData,
    profile: &mut ActorProfile,
    stem: &str,
) -> WebResult<Vec<(&'static str, String)>> {
    let uploads = [
        ("avatar", AVATARS_DIR, "remove_avatar"),
        ("banner", BANNERS_DIR, "remove_banner"),
    ]
    .map(|(field, dir, remove)| (field, dir, remove, form.files.remove(field)));
    for (_, _, _, bytes) in &uploads {
        if let Some(b) = bytes {
            check_image(b, ANY_IMAGE)?;
        }
    }
    let mut replaced = Vec::new();
    for (field, dir, remove, bytes) in uploads {
        let slot = if field == "avatar" {
            &mut profile.avatar
        } else {
            &mut profile.banner
        };
        let new = match bytes {
            Some(b) => Some(web.store_image(dir, stem, b, ANY_IMAGE).await?),
            None => None,
        };
        if (new.is_some() || form.checked(remove))
            && let Some(old) = slot.take()
        {
            replaced.push((dir, old));
        }
        if new.is_some() {
            *slot = new;
        }
    }
    Ok(replaced)
}

fn check_len(what: &str, value: &str, min: usize, max: usize) -> WebResult<()> {
    let n = value.chars().count();
    if n < min || n > max {
        return Err(WebError::BadRequest(format!(
            "{what} must have between {min} and {max} characters."
        )));
    }
    Ok(())
}

fn optional(value: &str) -> Option<String> {
    let v = value.trim();
    (!v.is_empty()).then(|| v.to_string())
}

pub async fn manage_channel(
    State(web): State<Shared>,
    session: Session,
    Path(name): Path<String>,
) -> WebResult<Markup> {
    let channel = web.find_channel(&name)?;
    let user = session.require(&format!("/c/{name}/manage"))?;
    if !manages_account(Some(user), channel.account_id) {
        return Err(WebError::Forbidden(
            "Only the channel's owner can change it.".into(),
        ));
    }
    let profile = web.catalog().actor_profile(Actor::Channel(channel.id))?;
    let videos: Vec<Video> = web
        .catalog()
        .videos()?
        .into_iter()
        .filter(|v| v.attributes.channel_id == channel.id)
        .collect();
    let layout = &profile.layout;
    let body = html! {
        section.narrow {
            h1 { "Channel settings" }
            p { a href={ "/c/" (channel.name) } { "Back to " (channel.display_name) } }
            form.settings method="post" enctype="multipart/form-data" action={ "/c/" (channel.name) "/manage" } {
                input type="hidden" name="csrf" value=(session.csrf());
                label for="display_name" { "Display name" }
                input #display_name type="text" name="display_name" required maxlength="50" value=(channel.display_name);
                label for="description" { "Description (markdown)" }
                textarea #description name="description" rows="5" maxlength="1000" { (channel.description.as_deref().unwrap_or("")) }
                label for="support" { "Support text (markdown)" }
                textarea #support name="support" rows="3" maxlength="1000" { (channel.support.as_deref().unwrap_or("")) }
                (image_fields(&profile))
                fieldset {
                    legend { "Page layout" }
                    label for="featured_video" { "Featured video, shown first" }
                    select #featured_video name="featured_video" {
                        option value="" { "None" }
                        @for v in &videos {
                            option value=(v.uuid) selected[layout.featured_video == Some(v.uuid)] { (v.attributes.name) }
                        }
                    }
                    label.check { input type="checkbox" name="hide_older_videos" checked[layout.hide_older_videos]; " Hide older videos (show only the newest " (NEWEST_ONLY) ")" }
                    label.check { input type="checkbox" name="follow_box_only" checked[layout.follow_box_only]; " Show only a “follow for new videos” box, no videos" }
                }
                button type="submit" { "Save" }
            }
        }
    };
    Ok(page::page(
        &web,
        &session,
        Meta {
            title: format!("Settings of {}", channel.display_name),
            noindex: true,
            ..Meta::default()
        },
        body,
    ))
}

pub async fn save_channel(
    State(web): State<Shared>,
    session: Session,
    Path(name): Path<String>,
    req: Request,
) -> WebResult<Response> {
    let channel = web.find_channel(&name)?;
    let user = session.require(&format!("/c/{name}/manage"))?;
    if !manages_account(Some(user), channel.account_id) {
        return Err(WebError::Forbidden(
            "Only the channel's owner can change it.".into(),
        ));
    }
    let mut form = FormData::read(req, &web).await?;
    session.check_csrf(form.text("csrf"))?;
    let display_name = form.text("display_name").trim().to_string();
    check_len("The display name", &display_name, 1, 50)?;
    let description = optional(form.text("description"));
    let support = optional(form.text("support"));
    check_len(
        "The description",
        description.as_deref().unwrap_or(""),
        0,
        1000,
    )?;
    check_len(
        "The support text",
        support.as_deref().unwrap_or(""),
        0,
        1000,
    )?;
    let featured_video = match form.text("featured_video") {
        "" => None,
        id => {
            let uuid = uuid::Uuid::parse_str(id)
                .map_err(|_| WebError::BadRequest("Unknown featured video.".into()))?;
            let video = web
                .catalog()
                .video(peerbox_catalog::VideoRef::Uuid(uuid))?
                .filter(|v| v.attributes.channel_id == channel.id)
                .ok_or_else(|| {
                    WebError::BadRequest("The featured video must be one of this channel's.".into())
                })?;
            Some(video.uuid)
        }
    };
    let mut profile = web.catalog().actor_profile(Actor::Channel(channel.id))?;
    let replaced = apply_images(
        &web,
        &mut form,
        &mut profile,
        &format!("channel-{}", channel.id),
    )
    .await?;
    profile.layout = ChannelLayout {
        featured_video,
        hide_older_videos: form.checked("hide_older_videos"),
        follow_box_only: form.checked("follow_box_only"),
    };
    web.catalog()
        .set_actor_profile(Actor::Channel(channel.id), &profile)?;
    for (dir, old) in replaced {
        web.remove_image(dir, &old).await;
    }
    web.catalog().update_channel(
        channel.id,
        ChannelChanges {
            display_name: Some(display_name),
            description: Some(description),
            support: Some(support),
        },
    )?;
    Ok(Redirect::to(&format!("/c/{}", channel.name)).into_response())
}

pub async fn manage_account(
    State(web): State<Shared>,
    session: Session,
    Path(name): Path<String>,
) -> WebResult<Markup> {
    let account = web.find_account(&name)?;
    let user = session.require(&format!("/a/{name}/manage"))?;
    if !manages_account(Some(user), account.id) {
        return Err(WebError::Forbidden(
            "Only the account's owner can change it.".into(),
        ));
    }
    let profile = web.catalog().actor_profile(Actor::Account(account.id))?;
    let body = html! {
        section.narrow {
            h1 { "Account images" }
            p { a href={ "/a/" (account.name) } { "Back to " (account.display_name) } }
            form.settings method="post" enctype="multipart/form-data" action={ "/a/" (account.name) "/manage" } {
                input type="hidden" name="csrf" value=(session.csrf());
                (image_fields(&profile))
                button type="submit" { "Save" }
            }
            h2 { "Channels" }
            ul {
                @for c in web.catalog().channels_of_account(account.id)? {
                    li { a href={ "/c/" (c.name) "/manage" } { "Settings of " (c.display_name) } }
                }
            }
        }
    };
    Ok(page::page(
        &web,
        &session,
        Meta {
            title: format!("Settings of {}", account.display_name),
            noindex: true,
            ..Meta::default()
        },
        body,
    ))
}

pub async fn save_account(
    State(web): State<Shared>,
    session: Session,
    Path(name): Path<String>,
    req: Request,
) -> WebResult<Response> {
    let account = web.find_account(&name)?;
    let user = session.require(&format!("/a/{name}/manage"))?;
    if !manages_account(Some(user), account.id) {
        return Err(WebError::Forbidden(
            "Only the account's owner can change it.".into(),
        ));
    }
    let mut form = FormData::read(req, &web).await?;
    session.check_csrf(form.text("csrf"))?;
    let mut profile = web.catalog().actor_profile(Actor::Account(account.id))?;
    let replaced = apply_images(
        &web,
        &mut form,
        &mut profile,
        &format!("account-{}", account.id),
    )
    .await?;
    web.catalog()
        .set_actor_profile(Actor::Account(account.id), &profile)?;
    for (dir, old) in replaced {
        web.remove_image(dir, &old).await;
    }
    Ok(Redirect::to(&format!("/a/{}", account.name)).into_response())
}
