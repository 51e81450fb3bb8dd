//! Comments and ratings across servers, in PeerTube's formats: comments travel as `Note`
//! objects (replies from Mastodon too, whose HTML becomes plain text here), ratings as
//! `Like` and `Dislike` of a video's URL and their `Undo`, a removed comment as a `Delete`
//! of its Tombstone. What arrives changes the catalog; what leaves goes into the delivery
//! queue like every other activity. The documents other servers fetch to check what they
//! were told (a comment, a rating, a video's likes) are answered here too.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use peerbox_catalog::web_profiles::Actor as Owner;
use peerbox_catalog::{
    AccountRef, ActorRef, Comment, NewComment, Rating, RemoteActor, RemoteVideo, Video, VideoRef,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::Federation;
use crate::activities::{Activity, is_url, object_id};
use crate::outbox::{PUBLIC, inbox_of, with_context};

/// PeerTube's longest comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 10_000;

/// PeerTube's comments policy that turns comments off.
pub const COMMENTS_DISABLED: u8 = 2;

/// How far up a thread the authors of parent comments are looked for.
const MAX_THREAD_DEPTH: usize = 100;

/// A Note that answers a video or a comment, as received.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingNote {
    pub id: String,
    /// The video's or the parent comment's ActivityPub id.
    pub in_reply_to: String,
    pub attributed_to: String,
    /// Plain text: HTML turned to text, or PeerTube's markdown without HTML tags.
    pub text: String,
    pub published: DateTime<Utc>,
}

fn str_field<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    object.get(field).and_then(Value::as_str)
}

/// The ids of an audience field, given as one string or a list.
fn audience(value: Option<&Value>) -> Vec<&str> {
    match value {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn is_public(id: &str) -> bool {
    matches!(id, PUBLIC | "as:Public" | "Public")
}

/// The author of an object: `attributedTo` as a string, an object or the first of a list.
fn attributed_to(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Array(items) => items.iter().find_map(object_id),
        other => object_id(other),
    }
}

/// Checks a Note as PeerTube's validator does (id, text, what it answers, a publication
/// date, a public audience) and turns its content into text.
pub fn parse_note(object: &Value) -> Result<IncomingNote, String> {
    if str_field(object, "type") != Some("Note") {
        return Err("not a Note".into());
    }
    let id = str_field(object, "id")
        .filter(|id| is_url(id))
        .ok_or("the Note has no valid id")?;
    let in_reply_to = object
        .get("inReplyTo")
        .and_then(object_id)
        .filter(|u| is_url(u))
        .ok_or("the Note answers nothing")?;
    let attributed_to = attributed_to(object.get("attributedTo"))
        .filter(|u| is_url(u))
        .ok_or("the Note has no author")?;
    let public = audience(object.get("to"))
        .into_iter()
        .chain(audience(object.get("cc")))
        .any(is_public);
    if !public {
        return Err("only public comments are taken".into());
    }
    let published = str_field(object, "published")
        .and_then(|d| DateTime::parse_from_rfc3339(d).ok())
        .ok_or("the Note has no valid publication date")?
        .with_timezone(&Utc);
    let content = str_field(object, "content").unwrap_or_default();
    let text = match str_field(object, "mediaType") {
        Some("text/markdown") => strip_tags(content),
        // ActivityStreams content is HTML unless said otherwise (Mastodon's is).
        _ => html_to_text(content),
    };
    let text: String = text.trim().chars().take(MAX_COMMENT_CHARS).collect();
    if text.is_empty() {
        return Err("the Note has no text".into());
    }
    Ok(IncomingNote {
        id: id.to_string(),
        in_reply_to,
        attributed_to,
        text,
        published,
    })
}

fn date(d: &DateTime<Utc>) -> String {
    peerbox_api::format_date(d)
}

/// PeerTube's Note for a comment: markdown content, what it answers, its author, a public
/// audience (`cc` the author's followers and whoever else the caller names).
pub fn note_object(comment: &Comment, in_reply_to: &str, author_url: &str, cc: &[String]) -> Value {
    json!({
        "type": "Note",
        "id": comment.url,
        "content": comment.text,
        "mediaType": "text/markdown",
        "inReplyTo": in_reply_to,
        "updated": date(&comment.updated_at),
        "published": date(&comment.created_at),
        "url": comment.url,
        "attributedTo": author_url,
        "to": [PUBLIC],
        "cc": cc,
        "tag": [],
    })
}

/// What is left of a deleted comment, as PeerTube shows it.
pub fn tombstone(comment: &Comment, in_reply_to: &str) -> Value {
    let deleted = comment.deleted_at.unwrap_or(comment.updated_at);
    json!({
        "type": "Tombstone",
        "formerType": "Note",
        "id": comment.url,
        "url": comment.url,
        "inReplyTo": in_reply_to,
        "published": date(&comment.created_at),
        "updated": date(&comment.updated_at),
        "deleted": date(&deleted),
        "to": [PUBLIC],
    })
}

fn rating_path(rating: Rating) -> &'static str {
    match rating {
        Rating::Like => "likes",
        Rating::Dislike => "dislikes",
    }
}

/// The Like or Dislike of `video_url` by `actor_url`, addressed to the video's account.
pub fn rating_activity(
    id: &str,
    rating: Rating,
    actor_url: &str,
    video_url: &str,
    owner_url: &str,
) -> Value {
    let kind = match rating {
        Rating::Like => "Like",
        Rating::Dislike => "Dislike",
    };
    json!({
        "type": kind,
        "id": id,
        "actor": actor_url,
        "object": video_url,
        "to": [owner_url],
        "cc": [],
    })
}

/// Where a tag that starts at `s` (on its `<`) ends, quotes taken into account.
fn tag_end(s: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in s.char_indices().skip(1) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

/// True when `s` (starting at `<`) opens an HTML tag, a comment or a declaration, rather
/// than being a `<` of text ("a <3 b", "x < y").
fn opens_tag(s: &str) -> bool {
    let mut chars = s.chars().skip(1);
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '!' || c == '?' => true,
        Some('/') => chars.next().is_some_and(|c| c.is_ascii_alphabetic()),
        _ => false,
    }
}

fn tag_name(tag: &str) -> String {
    tag.trim_start_matches(['<', '/'])
        .split(|c: char| c.is_whitespace() || c == '/' || c == '>')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// Ends the current line with `breaks` line breaks in all (no more), unless nothing was
/// written yet.
fn line_break(out: &mut String, breaks: usize) {
    while out.ends_with(' ') {
        out.pop();
    }
    if out.is_empty() {
        return;
    }
    let present = out.len() - out.trim_end_matches('\n').len();
    for _ in present..breaks {
        out.push('\n');
    }
}

/// The character an HTML entity at the start of `s` (on its `&`) stands for, and its length.
fn entity(s: &str) -> Option<(char, usize)> {
    let end = s.char_indices().take(12).find(|(_, c)| *c == ';')?.0;
    let name = &s[1..end];
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        _ => {
            let number = name.strip_prefix('#')?;
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => number.parse().ok()?,
            };
            char::from_u32(code).filter(|c| !c.is_control() || c.is_whitespace())?
        }
    };
    Some((c, end + 1))
}

/// The text of an HTML fragment (a Mastodon post's content): tags removed, paragraphs and
/// line breaks kept as new lines, entities decoded, whitespace collapsed, scripts and
/// styles dropped with their content. The result is text, never markup.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        if c == '<' && rest.starts_with("<!--") {
            rest = rest[4..].find("-->").map_or("", |i| &rest[4 + i + 3..]);
            continue;
        }
        if c == '<' && opens_tag(rest) {
            let Some(end) = tag_end(rest) else {
                // An unclosed tag runs to the end: nothing of it is text.
                break;
            };
            let tag = &rest[..=end];
            rest = &rest[end + 1..];
            let name = tag_name(tag);
            match name.as_str() {
                "br" => line_break(&mut out, 1),
                "p" | "div" | "blockquote" | "pre" | "ul" | "ol" | "li" | "tr" | "h1" | "h2"
                | "h3" | "h4" | "h5" | "h6" => line_break(&mut out, 2),
                "script" | "style" if !tag.starts_with("</") => {
                    let closing = format!("</{name}");
                    rest = rest
                        .to_ascii_lowercase()
                        .find(&closing)
                        .map_or("", |i| &rest[i..]);
                }
                _ => {}
            }
            continue;
        }
        if c == '&'
            && let Some((decoded, len)) = entity(rest)
        {
            out.push(decoded);
            rest = &rest[len..];
            continue;
        }
        if c.is_whitespace() {
            if !out.is_empty() && !out.ends_with([' ', '\n']) {
                out.push(' ');
            }
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    out.trim().to_string()
}

/// PeerTube's markdown without the HTML tags it may carry; everything else, autolinks
/// (`<https://…>`) included, is kept as written.
pub fn strip_tags(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len());
    let mut rest = markdown;
    while let Some(c) = rest.chars().next() {
        if c == '<' && opens_tag(rest) {
            let Some(end) = tag_end(rest) else {
                break;
            };
            let inner = &rest[1..end];
            let autolink = ["http://", "https://", "mailto:"]
                .iter()
                .any(|scheme| inner.to_ascii_lowercase().starts_with(scheme))
                && !inner.contains(char::is_whitespace);
            if autolink {
                out.push_str(&rest[..=end]);
            }
            rest = &rest[end + 1..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// What a comment answers, as the catalog knows it.
struct ReplyTarget {
    video: Uuid,
    remote_video: Option<String>,
    parent: Option<u64>,
}

/// Incoming.
impl Federation {
    /// The local video an ActivityPub id names, if it federates.
    pub(crate) fn local_video_at(&self, url: &str) -> Option<Video> {
        let rest = url
            .strip_prefix(self.settings.public_url.as_str())?
            .strip_prefix("/videos/watch/")?;
        let video = self.catalog.video(VideoRef::parse(rest)?).ok()??;
        self.federates(&video).then_some(video)
    }

    /// Whether the video takes comments from other servers: open comments, as a video
    /// whose comments need approval would (approval is not offered here yet).
    fn takes_remote_comments(&self, video: Uuid, remote_video: Option<&str>) -> bool {
        match remote_video {
            Some(url) => self
                .catalog
                .remote_video(url)
                .ok()
                .flatten()
                .is_some_and(|v| v.comments_enabled),
            None => self
                .catalog
                .video(VideoRef::Uuid(video))
                .ok()
                .flatten()
                .is_some_and(|v| self.federates(&v) && v.attributes.comments_policy == 1),
        }
    }

    /// The video or comment a Note answers: a local video, a remote one known here, or a
    /// comment of either.
    fn reply_target(&self, url: &str) -> Result<Option<ReplyTarget>, String> {
        if let Some(video) = self.local_video_at(url) {
            return Ok(Some(ReplyTarget {
                video: video.uuid,
                remote_video: None,
                parent: None,
            }));
        }
        if let Some(video) = self.catalog.remote_video(url).map_err(text)? {
            return Ok(Some(ReplyTarget {
                video: video.uuid,
                remote_video: Some(video.url),
                parent: None,
            }));
        }
        Ok(self
            .catalog
            .comment_by_url(url)
            .map_err(text)?
            .map(|c| ReplyTarget {
                video: c.video,
                remote_video: c.remote_video,
                parent: Some(c.id),
            }))
    }

    /// `Create` of a Note: a comment on a video known here (or a reply to one of its
    /// comments) by the actor who signed it. Notes about anything else are ignored.
    pub(crate) fn on_note(&self, actor: &RemoteActor, activity: &Activity) -> Result<(), String> {
        let note = parse_note(&activity.object)?;
        if note.attributed_to != actor.url {
            return Err(format!("{} may not publish {}", actor.url, note.id));
        }
        if crate::host_of(&note.id).as_deref() != Some(actor.host.as_str()) {
            return Err(format!("{} is not on {}'s server", note.id, actor.url));
        }
        let Some(target) = self.reply_target(&note.in_reply_to)? else {
            tracing::debug!(note = %note.id, "a comment on nothing known here: ignored");
            return Ok(());
        };
        if !self.takes_remote_comments(target.video, target.remote_video.as_deref()) {
            tracing::debug!(note = %note.id, "comments are closed on its video: ignored");
            return Ok(());
        }
        let new = NewComment {
            video: target.video,
            remote_video: target.remote_video,
            in_reply_to: target.parent,
            author: AccountRef::Remote(actor.url.clone()),
            text: note.text,
            published: Some(note.published),
        };
        let id = note.id.clone();
        let (comment, created) = self.catalog.add_comment(new, |_| id).map_err(text)?;
        if created {
            tracing::info!(comment = %comment.url, video = %comment.video, "remote comment stored");
        }
        Ok(())
    }

    /// `Like` or `Dislike` of a local video by a remote actor. Ratings of other videos are
    /// their origin's to count.
    pub(crate) fn on_rate(
        &self,
        actor: &RemoteActor,
        activity: &Activity,
        rating: Rating,
    ) -> Result<(), String> {
        let target = object_id(&activity.object).ok_or("a rating of nothing")?;
        let Some(video) = self.local_video_at(&target) else {
            tracing::debug!(activity = %activity.id, "a rating of {target}: not a video of this node");
            return Ok(());
        };
        let rater = AccountRef::Remote(actor.url.clone());
        let before = self
            .catalog
            .set_rating(&rater, video.uuid, Some(rating), &activity.id)
            .map_err(text)?;
        tracing::debug!(rater = %actor.url, video = %video.uuid, ?before, ?rating, "rated");
        Ok(())
    }

    /// `Undo` of a Like or Dislike: the rating goes if it is still that one.
    pub(crate) fn on_undo_rate(
        &self,
        actor: &RemoteActor,
        activity: &Activity,
    ) -> Result<(), String> {
        let undone = &activity.object;
        let rating = match str_field(undone, "type") {
            Some("Like") => Rating::Like,
            Some("Dislike") => Rating::Dislike,
            _ => return Err("an Undo of no rating".into()),
        };
        let rater = AccountRef::Remote(actor.url.clone());
        // The video the undone activity named, or else the rating its id names.
        let video = match undone
            .get("object")
            .and_then(object_id)
            .and_then(|url| self.local_video_at(&url))
        {
            Some(v) => Some(v.uuid),
            None => match object_id(undone) {
                Some(id) => self
                    .catalog
                    .rating_by_url(&id)
                    .map_err(text)?
                    .filter(|r| r.rater == rater)
                    .map(|r| r.video),
                None => None,
            },
        };
        // Only if it is still that rating: a Dislike that replaced the Like may have come
        // first (deliveries run in parallel) and must stay.
        let undone = match video {
            Some(v) => self.catalog.undo_rating(&rater, v, rating).map_err(text)?,
            None => false,
        };
        tracing::debug!(activity = %activity.id, undone, "undo of a rating");
        Ok(())
    }

    /// `Delete` of a comment by its author or by the account of its (remote) video. False
    /// when `url` is no comment known here.
    pub(crate) fn on_delete_comment(&self, actor: &RemoteActor, url: &str) -> Result<bool, String> {
        let Some(comment) = self.catalog.comment_by_url(url).map_err(text)? else {
            return Ok(false);
        };
        if comment.is_deleted() {
            return Ok(true);
        }
        let author = comment.author == Some(AccountRef::Remote(actor.url.clone()));
        let video_owner = match &comment.remote_video {
            Some(video) => self
                .catalog
                .remote_video(video)
                .map_err(text)?
                .is_some_and(|v| v.account_url == actor.url || v.channel_url == actor.url),
            None => false,
        };
        if !author && !video_owner {
            return Err(format!("{} may not delete {url}", actor.url));
        }
        self.catalog.delete_comment(comment.id).map_err(text)?;
        tracing::info!(comment = %url, "remote comment deleted");
        Ok(true)
    }
}

/// Outgoing.
impl Federation {
    /// The ActivityPub id of a comment's video.
    fn video_url_of(&self, comment: &Comment) -> String {
        match &comment.remote_video {
            Some(url) => url.clone(),
            None => format!(
                "{}/videos/watch/{}",
                self.settings.public_url, comment.video
            ),
        }
    }

    /// What a comment answers: its parent comment's id, or its video's.
    fn in_reply_to_of(&self, comment: &Comment) -> Result<String, String> {
        match comment.in_reply_to {
            Some(parent) => Ok(self
                .catalog
                .comment(parent)
                .map_err(text)?
                .ok_or("the parent comment is gone")?
                .url),
            None => Ok(self.video_url_of(comment)),
        }
    }

    /// The id of `account`'s rating of `video`, as PeerTube names them under the account.
    pub fn rating_url(&self, account_id: u64, rating: Rating, video: Uuid) -> Option<String> {
        let account = self.actor_url(&ActorRef::Local(Owner::Account(account_id)))?;
        Some(format!("{account}/{}/{video}", rating_path(rating)))
    }

    /// Who hears of a comment (its creation or its deletion), as PeerTube tells them: the
    /// followers of `signer`, the remote authors of the comments it answers, and the
    /// video's origin (a remote video) or the followers of the video's channel, account
    /// and instance (a local video).
    async fn comment_audience(
        &self,
        comment: &Comment,
        signer: &ActorRef,
    ) -> Result<BTreeSet<String>, String> {
        let mut inboxes = self.follower_inboxes(std::slice::from_ref(signer))?;
        let mut parent = comment.in_reply_to;
        for _ in 0..MAX_THREAD_DEPTH {
            let Some(id) = parent else { break };
            let Some(above) = self.catalog.comment(id).map_err(text)? else {
                break;
            };
            if let Some(AccountRef::Remote(url)) = &above.author {
                match self.remote_actor(url, false).await {
                    Ok(actor) => {
                        inboxes.insert(inbox_of(&actor));
                    }
                    Err(e) => tracing::debug!("the author of {} is not reached: {e}", above.url),
                }
            }
            parent = above.in_reply_to;
        }
        match &comment.remote_video {
            Some(url) => {
                let video = self
                    .catalog
                    .remote_video(url)
                    .map_err(text)?
                    .ok_or("the video is gone")?;
                let origin = self.remote_actor(&video.account_url, false).await?;
                inboxes.insert(inbox_of(&origin));
            }
            None => {
                let channel = self.channel_of_video(comment.video)?;
                inboxes.extend(self.follower_inboxes(&[
                    ActorRef::Local(Owner::Channel(channel.id)),
                    ActorRef::Local(Owner::Account(channel.account_id)),
                    ActorRef::Instance,
                ])?);
            }
        }
        Ok(inboxes)
    }

    /// Whether other servers hear of the comments of this video: a remote video, or a
    /// local one that federates.
    fn comments_federate(&self, comment: &Comment) -> Result<bool, String> {
        if comment.remote_video.is_some() {
            return Ok(true);
        }
        Ok(self
            .catalog
            .video(VideoRef::Uuid(comment.video))
            .map_err(text)?
            .is_some_and(|v| self.federates(&v)))
    }

    /// Tells other servers of a new comment by a local account: `Create` of its Note.
    pub async fn send_comment(&self, comment: &Comment) -> Result<(), String> {
        let Some(AccountRef::Local(account_id)) = &comment.author else {
            return Err("not a comment of a local account".into());
        };
        if !self.comments_federate(comment)? {
            return Ok(());
        }
        let author = ActorRef::Local(Owner::Account(*account_id));
        let author_url = self
            .actor_url(&author)
            .ok_or("the comment's account is gone")?;
        let in_reply_to = self.in_reply_to_of(comment)?;
        let cc = vec![format!("{author_url}/followers")];
        let activity = json!({
            "type": "Create",
            "id": format!("{}/activity", comment.url),
            "actor": author_url,
            "to": [PUBLIC],
            "cc": cc,
            "object": note_object(comment, &in_reply_to, &author_url, &cc),
        });
        let inboxes = self.comment_audience(comment, &author).await?;
        self.send(&author, inboxes, &activity)
    }

    /// Tells other servers that a comment was deleted here (`comment` as it was before):
    /// signed by its author when local, else by the account of the local video it was on.
    /// A remote comment on a remote video is deleted here only.
    pub async fn send_comment_deletion(&self, comment: &Comment) -> Result<(), String> {
        if !self.comments_federate(comment)? {
            return Ok(());
        }
        let signer = match &comment.author {
            Some(AccountRef::Local(id)) => ActorRef::Local(Owner::Account(*id)),
            _ if comment.remote_video.is_none() => {
                let channel = self.channel_of_video(comment.video)?;
                ActorRef::Local(Owner::Account(channel.account_id))
            }
            _ => return Ok(()),
        };
        let Some(signer_url) = self.actor_url(&signer) else {
            return Ok(());
        };
        let in_reply_to = self.in_reply_to_of(comment)?;
        let activity = json!({
            "type": "Delete",
            "id": format!("{}/delete", comment.url),
            "actor": signer_url,
            "to": [PUBLIC],
            "object": tombstone(comment, &in_reply_to),
        });
        let inboxes = self.comment_audience(comment, &signer).await?;
        self.send(&signer, inboxes, &activity)
    }

    /// Tells a remote video's origin that a local account's rating changed from `before` to
    /// `after`: `Undo` of the old one first, then the new one, as PeerTube sends them.
    pub async fn send_rating(
        &self,
        account_id: u64,
        video: &RemoteVideo,
        before: Option<Rating>,
        after: Option<Rating>,
    ) -> Result<(), String> {
        if before == after {
            return Ok(());
        }
        let rater = ActorRef::Local(Owner::Account(account_id));
        let rater_url = self.actor_url(&rater).ok_or("the account is gone")?;
        let origin = self.remote_actor(&video.account_url, false).await?;
        let inbox = BTreeSet::from([inbox_of(&origin)]);
        let activity = |rating: Rating| {
            let id = format!("{rater_url}/{}/{}", rating_path(rating), video.uuid);
            rating_activity(&id, rating, &rater_url, &video.url, &origin.url)
        };
        if let Some(old) = before {
            let undone = activity(old);
            let undo = json!({
                "type": "Undo",
                "id": format!("{}/undo", undone["id"].as_str().unwrap_or_default()),
                "actor": rater_url,
                "to": [origin.url],
                "cc": [],
                "object": undone,
            });
            self.send(&rater, inbox.clone(), &undo)?;
        }
        if let Some(new) = after {
            self.send(&rater, inbox, &activity(new))?;
        }
        Ok(())
    }
}

fn not_found(what: &str) -> Response {
    crate::routes::problem(StatusCode::NOT_FOUND, what)
}

fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!("federation: {e}");
    crate::routes::problem(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
}

/// `page` of a query string, when it is a positive integer.
fn page_of(query: Option<&str>) -> Option<u64> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("page="))
        .and_then(|p| p.parse().ok())
        .filter(|p| *p >= 1)
}

/// The documents of comments and ratings, for servers that check what they were told.
impl Federation {
    /// The answer to an ActivityPub request for `path` when it names a comment of this node
    /// (`/videos/watch/{uuid}/comments/{id}`), a local video's comments, likes or dislikes
    /// (`/videos/watch/{uuid}/comments`, `/likes`) or a local account's rating
    /// (`/accounts/{name}/likes/{uuid}`); `None` for any other path.
    pub(crate) fn interaction_document(&self, path: &str, query: Option<&str>) -> Option<Response> {
        let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
        Some(match segments.as_slice() {
            ["videos", "watch", _, "comments", _] => self.comment_document(path),
            ["videos", "watch", video, "comments"] => {
                self.comments_collection(video, page_of(query))
            }
            ["videos", "watch", video, kind @ ("likes" | "dislikes")] => {
                self.ratings_collection(video, kind, page_of(query))
            }
            ["accounts", name, kind @ ("likes" | "dislikes"), video] => {
                self.rating_document(name, kind, video)
            }
            _ => return None,
        })
    }

    fn comment_document(&self, path: &str) -> Response {
        let url = format!("{}{path}", self.settings.public_url);
        let comment = match self.catalog.comment_by_url(&url) {
            Ok(Some(c)) => c,
            Ok(None) => return not_found("Video comment not found"),
            Err(e) => return internal(e),
        };
        match self.comments_federate(&comment) {
            Ok(true) => {}
            Ok(false) => return not_found("Video comment not found"),
            Err(e) => return internal(e),
        }
        let in_reply_to = match self.in_reply_to_of(&comment) {
            Ok(u) => u,
            Err(e) => return internal(e),
        };
        let document = match &comment.author {
            None => tombstone(&comment, &in_reply_to),
            Some(AccountRef::Local(id)) => {
                let Some(author) = self.actor_url(&ActorRef::Local(Owner::Account(*id))) else {
                    return not_found("Video comment not found");
                };
                let cc = [format!("{author}/followers")];
                note_object(&comment, &in_reply_to, &author, &cc)
            }
            Some(AccountRef::Remote(_)) => return not_found("Video comment not found"),
        };
        crate::routes::activity_response(&with_context(document))
    }

    /// The ids of a local video's comments (the node's and those it received), oldest
    /// first, as PeerTube lists them for servers that take a video's existing comments.
    fn comments_collection(&self, video: &str, page: Option<u64>) -> Response {
        let base = &self.settings.public_url;
        let Some(video) = self.local_video_at(&format!("{base}/videos/watch/{video}")) else {
            return not_found("Video not found");
        };
        let items: Vec<Value> = match self.catalog.comments_of_video(video.uuid) {
            Ok(comments) => comments
                .into_iter()
                .filter(|c| !c.is_deleted())
                .map(|c| Value::String(c.url))
                .collect(),
            Err(e) => return internal(e),
        };
        let id = format!("{base}/videos/watch/{}/comments", video.uuid);
        crate::routes::activity_response(&crate::actors::collection(&id, &items, page))
    }

    fn ratings_collection(&self, video: &str, kind: &str, page: Option<u64>) -> Response {
        let base = &self.settings.public_url;
        let Some(video) = self.local_video_at(&format!("{base}/videos/watch/{video}")) else {
            return not_found("Video not found");
        };
        let rating = if kind == "likes" {
            Rating::Like
        } else {
            Rating::Dislike
        };
        let items: Vec<Value> = match self.catalog.ratings_of_video(video.uuid, rating) {
            Ok(rows) => rows.into_iter().map(|r| Value::String(r.url)).collect(),
            Err(e) => return internal(e),
        };
        let id = format!("{base}/videos/watch/{}/{kind}", video.uuid);
        crate::routes::activity_response(&crate::actors::collection(&id, &items, page))
    }

    fn rating_document(&self, name: &str, kind: &str, video: &str) -> Response {
        let account = match self.catalog.account_by_name(name) {
            Ok(Some(a)) => a,
            Ok(None) => return not_found("Video rate not found"),
            Err(e) => return internal(e),
        };
        let Some(VideoRef::Uuid(uuid)) = VideoRef::parse(video) else {
            return not_found("Video rate not found");
        };
        let wanted = if kind == "likes" {
            Rating::Like
        } else {
            Rating::Dislike
        };
        let rating = match self.catalog.rating(&AccountRef::Local(account.id), uuid) {
            Ok(Some(r)) if r.rating == wanted => r,
            Ok(_) => return not_found("Video rate not found"),
            Err(e) => return internal(e),
        };
        // Only ratings of videos that federate are shown: the URL names the video.
        let (video_url, owner_url) = match self
            .local_video_at(&format!("{}/videos/watch/{uuid}", self.settings.public_url))
        {
            Some(v) => {
                let owner = self
                    .catalog
                    .channel(v.attributes.channel_id)
                    .ok()
                    .flatten()
                    .and_then(|c| self.actor_url(&ActorRef::Local(Owner::Account(c.account_id))));
                (
                    format!("{}/videos/watch/{uuid}", self.settings.public_url),
                    owner,
                )
            }
            None => match self.catalog.remote_video_by_uuid(uuid) {
                Ok(Some(v)) => (v.url, Some(v.account_url)),
                Ok(None) => return not_found("Video rate not found"),
                Err(e) => return internal(e),
            },
        };
        let Some(rater) = self.actor_url(&ActorRef::Local(Owner::Account(account.id))) else {
            return not_found("Video rate not found");
        };
        let document = rating_activity(
            &rating.url,
            rating.rating,
            &rater,
            &video_url,
            &owner_url.unwrap_or_else(|| PUBLIC.to_string()),
        );
        crate::routes::activity_response(&with_context(document))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mastodon_reply() -> Value {
        json!({
            "id": "https://masto.example/users/bo/statuses/110",
            "type": "Note",
            "summary": null,
            "inReplyTo": "https://box.example/videos/watch/9c9de5e8-0a1e-484a-b099-e80766180a6d",
            "published": "2025-03-01T10:20:30Z",
            "url": "https://masto.example/@bo/110",
            "attributedTo": "https://masto.example/users/bo",
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "cc": [
                "https://masto.example/users/bo/followers",
                "https://box.example/accounts/alice"
            ],
            "sensitive": false,
            "content": "<p><span class=\"h-card\" translate=\"no\"><a href=\"https://box.example/accounts/alice\" class=\"u-url mention\">@<span>alice</span></a></span> Lovely light &amp; colours!</p><p>Where was it?<br />Near <a href=\"https://example.org\">the lake</a>?<script>alert(1)</script></p>",
            "contentMap": {"en": "<p>…</p>"},
            "tag": [{"type": "Mention", "href": "https://box.example/accounts/alice", "name": "@alice@box.example"}],
            "replies": {"id": "https://masto.example/users/bo/statuses/110/replies", "type": "Collection"}
        })
    }

    fn peertube_comment() -> Value {
        json!({
            "type": "Note",
            "id": "https://tube.example/videos/watch/5b2c1f1e-8a6d-4c3e-9e0b-2f4d6a8c0e1f/comments/42",
            "content": "**Great** video <img src=x onerror=alert(1)>, see <https://tube.example/w/abc> x < y",
            "mediaType": "text/markdown",
            "inReplyTo": "https://tube.example/videos/watch/5b2c1f1e-8a6d-4c3e-9e0b-2f4d6a8c0e1f/comments/41",
            "updated": "2025-03-01T10:20:31.000Z",
            "published": "2025-03-01T10:20:30.000Z",
            "url": "https://tube.example/videos/watch/5b2c1f1e-8a6d-4c3e-9e0b-2f4d6a8c0e1f/comments/42",
            "attributedTo": "https://tube.example/accounts/chocobozzz",
            "replyApproval": "https://tube.example/videos/watch/5b2c1f1e-8a6d-4c3e-9e0b-2f4d6a8c0e1f/comments/42/approve-reply",
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "cc": ["https://tube.example/accounts/chocobozzz/followers"],
            "tag": [{"type": "Mention", "href": "https://box.example/accounts/alice", "name": "@alice@box.example"}]
        })
    }

    #[test]
    fn a_mastodon_reply_becomes_plain_text() {
        let note = parse_note(&mastodon_reply()).expect("valid");
        assert_eq!(note.id, "https://masto.example/users/bo/statuses/110");
        assert_eq!(note.attributed_to, "https://masto.example/users/bo");
        assert_eq!(
            note.in_reply_to,
            "https://box.example/videos/watch/9c9de5e8-0a1e-484a-b099-e80766180a6d"
        );
        assert_eq!(
            note.text,
            "@alice Lovely light & colours!\n\nWhere was it?\nNear the lake?"
        );
        assert_eq!(note.published.timestamp(), 1_740_824_430);
    }

    #[test]
    fn a_peertube_comment_keeps_its_markdown_without_tags() {
        let note = parse_note(&peertube_comment()).expect("valid");
        assert_eq!(
            note.text,
            "**Great** video , see <https://tube.example/w/abc> x < y"
        );
        assert!(note.in_reply_to.ends_with("/comments/41"));
        assert_eq!(
            note.attributed_to,
            "https://tube.example/accounts/chocobozzz"
        );
    }

    #[test]
    fn notes_peertube_refuses_are_refused() {
        let cases: [(&str, Value, &str); 7] = [
            ("type", json!("Article"), "not a Note"),
            ("id", json!("not a url"), "no valid id"),
            ("inReplyTo", Value::Null, "answers nothing"),
            ("attributedTo", json!(3), "no author"),
            ("published", json!("yesterday"), "publication date"),
            ("content", json!("<p> <br> </p>"), "no text"),
            (
                "to",
                json!(["https://masto.example/users/bo/followers"]),
                "public",
            ),
        ];
        for (field, value, why) in cases {
            let mut note = mastodon_reply();
            note[field] = value;
            if field == "to" {
                note["cc"] = json!([]);
            }
            let err = parse_note(&note).expect_err(field);
            assert!(err.contains(why), "{field}: {err}");
        }
        // Unlisted (public in cc) is public enough, as for PeerTube; a list of authors too.
        let mut unlisted = mastodon_reply();
        unlisted["to"] = json!("https://masto.example/users/bo/followers");
        unlisted["cc"] = json!(["https://www.w3.org/ns/activitystreams#Public"]);
        unlisted["attributedTo"] =
            json!([{"type": "Person", "id": "https://masto.example/users/bo"}]);
        assert_eq!(
            parse_note(&unlisted).expect("unlisted").attributed_to,
            "https://masto.example/users/bo"
        );
        // Long comments are cut at PeerTube's limit.
        let mut long = peertube_comment();
        long["content"] = json!("é".repeat(MAX_COMMENT_CHARS + 5));
        assert_eq!(
            parse_note(&long).expect("long").text.chars().count(),
            MAX_COMMENT_CHARS
        );
    }

    #[test]
    fn html_becomes_text_and_never_markup() {
        for (html, expected) in [
            ("<p>a</p><p>b</p>", "a\n\nb"),
            ("a<br>b<br/>c", "a\nb\nc"),
            ("  lots \n of\t space  ", "lots of space"),
            (
                "&lt;script&gt;x&lt;/script&gt; &#39;q&#x27; &eacute;",
                "<script>x</script> 'q' &eacute;",
            ),
            (
                "<style>p{}</style>shown<script type=\"x\">hidden()</script>",
                "shown",
            ),
            ("x < y and 1<3", "x < y and 1<3"),
            ("<a title=\"a>b\" href=\"h\">link</a>", "link"),
            ("before<!-- secret -->after", "beforeafter"),
            ("<b>cut <i", "cut"),
            ("&#0;&#xD800;ok", "&#0;&#xD800;ok"),
        ] {
            assert_eq!(html_to_text(html), expected, "{html}");
        }
    }

    #[test]
    fn our_note_has_peertubes_shape() {
        let now = DateTime::from_timestamp(1_740_824_430, 0).expect("time");
        let comment = Comment {
            id: 7,
            video: Uuid::nil(),
            remote_video: Some("https://tube.example/videos/watch/x".into()),
            thread_id: 7,
            in_reply_to: None,
            author: Some(AccountRef::Local(1)),
            text: "Nice *video*".into(),
            url: "https://box.example/videos/watch/x/comments/7".into(),
            created_at: now,
            updated_at: now,
            deleted_at: None,
        };
        let cc = ["https://box.example/accounts/alice/followers".to_string()];
        let note = note_object(
            &comment,
            "https://tube.example/videos/watch/x",
            "https://box.example/accounts/alice",
            &cc,
        );
        assert_eq!(note["type"], "Note");
        assert_eq!(note["id"], comment.url.as_str());
        assert_eq!(note["url"], comment.url.as_str());
        assert_eq!(note["mediaType"], "text/markdown");
        assert_eq!(note["content"], "Nice *video*");
        assert_eq!(note["inReplyTo"], "https://tube.example/videos/watch/x");
        assert_eq!(note["attributedTo"], "https://box.example/accounts/alice");
        assert_eq!(note["published"], "2025-03-01T10:20:30.000Z");
        assert_eq!(note["to"], json!([PUBLIC]));
        assert_eq!(note["cc"], json!(cc));
        assert_eq!(note["tag"], json!([]));
        // What we send, we would take (as PeerTube's validator does).
        let back = parse_note(&note).expect("our own Note parses");
        assert_eq!(back.text, "Nice *video*");
        assert_eq!(back.published, now);

        let mut deleted = comment.clone();
        deleted.deleted_at = Some(now);
        let t = tombstone(&deleted, "https://tube.example/videos/watch/x");
        assert_eq!(
            (t["type"].as_str(), t["formerType"].as_str()),
            (Some("Tombstone"), Some("Note"))
        );
        assert_eq!(t["deleted"], "2025-03-01T10:20:30.000Z");
        assert!(parse_note(&t).is_err());
    }

    #[test]
    fn ratings_and_paths() {
        let like = rating_activity(
            "https://box.example/accounts/alice/likes/u",
            Rating::Like,
            "https://box.example/accounts/alice",
            "https://tube.example/videos/watch/u",
            "https://tube.example/accounts/bob",
        );
        assert_eq!(like["type"], "Like");
        assert_eq!(like["object"], "https://tube.example/videos/watch/u");
        assert_eq!(like["to"], json!(["https://tube.example/accounts/bob"]));
        let parsed = Activity::parse(&like).expect("a valid activity");
        assert_eq!(parsed.actor, "https://box.example/accounts/alice");
        assert_eq!(page_of(Some("a=1&page=3")), Some(3));
        assert_eq!(page_of(Some("page=0")), None);
        assert_eq!(page_of(None), None);
    }
}
