//! Incoming activities: their shape (checked before the signature, as PeerTube's validators
//! run first) and what each does to the catalog. Every handler is idempotent, since senders
//! retry and the same video arrives by Create and by several Announces.

use peerbox_catalog::{ActorRef, FollowState, Rating, RemoteActor, RemoteActorKind};
use serde_json::Value;

use crate::Federation;
use crate::video_object::parse_video_object;

/// The activity types PeerTube sends and accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Create,
    Update,
    Delete,
    Follow,
    Accept,
    Reject,
    Undo,
    Announce,
    Like,
    Dislike,
    View,
    Flag,
    ApproveReply,
    RejectReply,
}

impl Kind {
    fn parse(name: &str) -> Option<Kind> {
        Some(match name {
            "Create" => Kind::Create,
            "Update" => Kind::Update,
            "Delete" => Kind::Delete,
            "Follow" => Kind::Follow,
            "Accept" => Kind::Accept,
            "Reject" => Kind::Reject,
            "Undo" => Kind::Undo,
            "Announce" => Kind::Announce,
            "Like" => Kind::Like,
            "Dislike" => Kind::Dislike,
            "View" => Kind::View,
            "Flag" => Kind::Flag,
            "ApproveReply" => Kind::ApproveReply,
            "RejectReply" => Kind::RejectReply,
            _ => return None,
        })
    }
}

/// An activity that has the shape PeerTube requires.
#[derive(Debug, Clone)]
pub struct Activity {
    pub id: String,
    pub kind: Kind,
    /// The actor's id (PeerTube accepts the actor as a string or an object with an id).
    pub actor: String,
    pub object: Value,
}

impl Activity {
    pub fn parse(json: &Value) -> Result<Activity, String> {
        let kind_name = json
            .get("type")
            .and_then(Value::as_str)
            .ok_or("The activity has no type")?;
        let kind = Kind::parse(kind_name)
            .ok_or_else(|| format!("Unknown activity type {:?}", truncate(kind_name)))?;
        let id = json
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| is_url(id))
            .ok_or("The activity has no valid id")?;
        let actor = object_id(json.get("actor").unwrap_or(&Value::Null))
            .filter(|a| is_url(a))
            .ok_or("The activity has no valid actor")?;
        let object = json
            .get("object")
            .cloned()
            .filter(|o| !o.is_null())
            .ok_or("The activity has no object")?;
        if crate::host_of(id) != crate::host_of(&actor) {
            return Err("The activity's id is not on its actor's host".into());
        }
        Ok(Activity {
            id: id.to_string(),
            kind,
            actor,
            object,
        })
    }

    pub fn actor_host(&self) -> String {
        crate::host_of(&self.actor).unwrap_or_default()
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

/// An http(s) URL of reasonable length (PeerTube's `isActivityPubUrlValid`).
pub(crate) fn is_url(s: &str) -> bool {
    s.len() <= 2000
        && (s.starts_with("https://") || s.starts_with("http://"))
        && crate::host_of(s).is_some_and(|h| !h.is_empty())
}

/// The id of an object given inline or by reference.
pub(crate) fn object_id(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("id").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

fn object_type(v: &Value) -> Option<&str> {
    v.get("type").and_then(Value::as_str)
}

/// Runs an activity whose signature verified and whose actor is its signer.
pub async fn process(fed: &Federation, activity: Activity) -> Result<(), String> {
    let actor = fed.remote_actor(&activity.actor, false).await?;
    if fed.is_blocked(&actor.url) {
        return Err(format!("{} is blocked", actor.url));
    }
    match activity.kind {
        Kind::Follow => on_follow(fed, &actor, &activity).await,
        Kind::Accept => on_follow_answer(fed, &actor, &activity, FollowState::Accepted).await,
        Kind::Reject => on_follow_answer(fed, &actor, &activity, FollowState::Rejected).await,
        Kind::Undo => on_undo(fed, &actor, &activity),
        Kind::Create | Kind::Update => match object_type(&activity.object) {
            Some("Video") => on_video(fed, &actor, &activity.object, false).await,
            // PeerTube does not edit comments: an Update of a Note changes nothing.
            Some("Note") if activity.kind == Kind::Create => fed.on_note(&actor, &activity),
            Some("Person" | "Group" | "Application" | "Service" | "Organization") => {
                // An actor's new profile: fetch it from its origin rather than trust a copy.
                fed.remote_actor(&actor.url, true).await.map(drop)
            }
            other => ignored(&activity, other),
        },
        Kind::Delete => on_delete(fed, &actor, &activity),
        Kind::Announce => on_announce(fed, &actor, &activity).await,
        Kind::View => on_view(fed, &activity),
        Kind::Like => fed.on_rate(&actor, &activity, Rating::Like),
        Kind::Dislike => fed.on_rate(&actor, &activity, Rating::Dislike),
        // Reports and comment moderation: nothing to keep of them yet.
        _ => ignored(&activity, object_type(&activity.object)),
    }
}

fn ignored(activity: &Activity, object_type: Option<&str>) -> Result<(), String> {
    tracing::debug!(
        "inbox: nothing to do with {:?} of {:?} ({})",
        activity.kind,
        object_type,
        activity.id
    );
    Ok(())
}

async fn on_follow(
    fed: &Federation,
    actor: &RemoteActor,
    activity: &Activity,
) -> Result<(), String> {
    let target_url = object_id(&activity.object).ok_or("Follow of nothing")?;
    let target = fed
        .local_actor(&target_url)
        .ok_or_else(|| format!("Follow of {target_url}, not an actor of this node"))?;
    let follower = ActorRef::Remote(actor.url.clone());
    let needs_approval = target == ActorRef::Instance && fed.settings.manual_approval;
    let state = match fed
        .catalog
        .follow_between(&follower, &target)
        .map_err(text)?
    {
        // A follow asked again (its sender retried, or forgot it): the same answer again.
        Some(known) if known.state == FollowState::Accepted => FollowState::Accepted,
        _ if needs_approval => FollowState::Pending,
        _ => FollowState::Accepted,
    };
    let follow = fed
        .catalog
        .add_follow(&follower, &target, &activity.id, state)
        .map_err(text)?;
    let follow = match follow.state != state {
        true => fed
            .catalog
            .set_follow_state(follow.id, state)
            .map_err(text)?
            .unwrap_or(follow),
        false => follow,
    };
    tracing::info!(follower = %actor.url, target = %target_url, state = ?follow.state, "followed");
    if follow.state == FollowState::Accepted {
        fed.send_follow_answer(&follow, actor, true)?;
    }
    Ok(())
}

/// Accept or Reject of a Follow this node sent.
async fn on_follow_answer(
    fed: &Federation,
    actor: &RemoteActor,
    activity: &Activity,
    state: FollowState,
) -> Result<(), String> {
    let follow_id = object_id(&activity.object).ok_or("answer to nothing")?;
    let target = ActorRef::Remote(actor.url.clone());
    let follow = match fed.catalog.follow_by_activity(&follow_id).map_err(text)? {
        Some(f) => Some(f),
        // PeerTube answers with the Follow inline; its actor is ours.
        None => match activity.object.get("actor").and_then(object_id) {
            Some(follower) => match fed.local_actor(&follower) {
                Some(local) => fed.catalog.follow_between(&local, &target).map_err(text)?,
                None => None,
            },
            None => None,
        },
    };
    let Some(follow) = follow.filter(|f| f.target == target) else {
        return Err(format!("{} answered a follow it was not asked", actor.url));
    };
    fed.catalog
        .set_follow_state(follow.id, state)
        .map_err(text)?;
    tracing::info!(target = %actor.url, ?state, "follow answered");
    if state == FollowState::Accepted {
        match fed.import_outbox(actor).await {
            Ok(n) => tracing::info!(actor = %actor.url, videos = n, "imported the outbox"),
            Err(e) => tracing::info!(actor = %actor.url, "outbox not imported: {e}"),
        }
    }
    Ok(())
}

fn on_undo(fed: &Federation, actor: &RemoteActor, activity: &Activity) -> Result<(), String> {
    match object_type(&activity.object) {
        Some("Follow") | None => {
            let follower = ActorRef::Remote(actor.url.clone());
            let by_id = object_id(&activity.object)
                .and_then(|id| fed.catalog.follow_by_activity(&id).ok().flatten())
                .filter(|f| f.follower == follower);
            let by_target = || {
                let target = activity.object.get("object").and_then(object_id)?;
                let target = fed.local_actor(&target)?;
                fed.catalog
                    .follow_between(&follower, &target)
                    .ok()
                    .flatten()
            };
            match by_id.or_else(by_target) {
                Some(follow) => {
                    fed.catalog.remove_follow(follow.id).map_err(text)?;
                    tracing::info!(follower = %actor.url, "unfollowed");
                    Ok(())
                }
                // Undone twice, or never known: nothing to do.
                None => Ok(()),
            }
        }
        Some("Like" | "Dislike") => fed.on_undo_rate(actor, activity),
        other => ignored(activity, other),
    }
}

fn on_delete(fed: &Federation, actor: &RemoteActor, activity: &Activity) -> Result<(), String> {
    let target = object_id(&activity.object).ok_or("Delete of nothing")?;
    if target == actor.url {
        // The actor itself is gone: its follows and videos go with it.
        fed.forget_actor(&actor.url)?;
        return Ok(());
    }
    if fed.on_delete_comment(actor, &target)? {
        return Ok(());
    }
    if let Some(video) = fed.catalog.remote_video(&target).map_err(text)? {
        if !owns_video(actor, &video.channel_url, &video.account_url) {
            return Err(format!("{} may not delete {target}", actor.url));
        }
        fed.catalog.remove_remote_video(&target).map_err(text)?;
        tracing::info!(video = %target, "remote video deleted");
    }
    Ok(())
}

/// A view of one of this node's videos, watched on another server.
fn on_view(fed: &Federation, activity: &Activity) -> Result<(), String> {
    let url = object_id(&activity.object).ok_or("View of nothing")?;
    let uuid = url
        .strip_prefix(&format!("{}/videos/watch/", fed.settings.public_url))
        .and_then(peerbox_catalog::VideoRef::parse);
    let video = match uuid {
        Some(r) => fed.catalog.video(r).map_err(text)?,
        None => None,
    };
    match video.filter(|v| fed.federates(v)) {
        Some(video) => fed.catalog.count_view(video.id).map(drop).map_err(text),
        None => ignored(activity, Some("View of an unknown video")),
    }
}

/// The video's account or channel, or its instance's actor.
fn owns_video(actor: &RemoteActor, channel_url: &str, account_url: &str) -> bool {
    actor.url == channel_url
        || actor.url == account_url
        || (actor.kind == RemoteActorKind::Application
            && crate::host_of(channel_url).as_deref() == Some(actor.host.as_str()))
}

async fn on_announce(
    fed: &Federation,
    actor: &RemoteActor,
    activity: &Activity,
) -> Result<(), String> {
    let url = object_id(&activity.object).ok_or("Announce of nothing")?;
    if !fed.follows(&actor.url)? {
        return Err(format!("{} is not followed here", actor.url));
    }
    fed.import_video(&url).await
}

/// How many items of a newly followed actor's outbox are looked at.
const OUTBOX_IMPORT_LIMIT: usize = 100;

impl Federation {
    /// Fetches the Video object at `url` from its origin (whatever came inline is not
    /// trusted) and stores it, on behalf of a follow that asked for it.
    pub(crate) async fn import_video(&self, url: &str) -> Result<(), String> {
        let object = self
            .client
            .fetch_object(url, Some(&self.instance_signer))
            .await
            .map_err(text)?;
        self.import_video_object(&object).await
    }

    /// Stores a Video object fetched from its origin.
    pub(crate) async fn import_video_object(&self, object: &Value) -> Result<(), String> {
        if object_type(object) != Some("Video") {
            return Err("not a video".into());
        }
        let video = parse_video_object(object, chrono::Utc::now()).map_err(text)?;
        let owner = self.remote_actor(&video.channel_url, false).await?;
        on_video(self, &owner, object, true).await
    }

    /// After a follow is accepted: the videos the actor published before, from its outbox
    /// (the newest [`OUTBOX_IMPORT_LIMIT`] items), as PeerTube fetches a new following's
    /// outbox.
    pub(crate) async fn import_outbox(&self, actor: &RemoteActor) -> Result<usize, String> {
        let Some(outbox) = &actor.outbox else {
            return Ok(0);
        };
        let fetch = |url: String| async move {
            self.client
                .fetch_object(&url, Some(&self.instance_signer))
                .await
                .map_err(text)
        };
        let collection = fetch(outbox.clone()).await?;
        let mut page = match collection.get("first") {
            Some(Value::String(url)) => Some(fetch(url.clone()).await?),
            Some(first @ Value::Object(_)) => Some(first.clone()),
            _ => Some(collection),
        };
        let (mut seen, mut imported) = (0, 0);
        while let Some(current) = page.take() {
            let items = current
                .get("orderedItems")
                .or_else(|| current.get("items"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for item in items {
                seen += 1;
                if seen > OUTBOX_IMPORT_LIMIT {
                    return Ok(imported);
                }
                let video = match object_type(&item) {
                    Some("Create" | "Announce") => item.get("object").and_then(object_id),
                    _ => None,
                };
                let Some(url) = video else { continue };
                match self.import_video(&url).await {
                    Ok(()) => imported += 1,
                    Err(e) => tracing::debug!("outbox of {}: {url} not imported: {e}", actor.url),
                }
            }
            if let Some(Value::String(next)) = current.get("next") {
                page = Some(fetch(next.clone()).await?);
            }
        }
        Ok(imported)
    }
}

/// A video from its channel or account (Create, Update) or fetched after an Announce.
async fn on_video(
    fed: &Federation,
    actor: &RemoteActor,
    object: &Value,
    announced: bool,
) -> Result<(), String> {
    let mut video = parse_video_object(object, chrono::Utc::now()).map_err(|e| e.to_string())?;
    if crate::host_of(&video.url).as_deref() != Some(actor.host.as_str())
        || !owns_video(actor, &video.channel_url, &video.account_url)
    {
        return Err(format!("{} may not publish {}", actor.url, video.url));
    }
    let stored = fed.catalog.remote_video(&video.url).map_err(text)?;
    // Deliveries run in parallel: an older version may come after a newer one.
    if stored
        .as_ref()
        .is_some_and(|s| s.updated_at > video.updated_at)
    {
        return Ok(());
    }
    let known = stored.is_some();
    let wanted = known
        || announced
        || fed.follows(&video.channel_url)?
        || fed.follows(&video.account_url)?
        || fed.follows_instance_of(&video.url)?;
    if !wanted {
        return Err(format!("nobody here follows the channel of {}", video.url));
    }
    // The channel and account are shown with the video: know them.
    let channel = fed.remote_actor(&video.channel_url, false).await?;
    fed.remote_actor(&video.account_url, false).await?;
    if channel.kind != RemoteActorKind::Group {
        return Err(format!("{} is not a channel", channel.url));
    }
    // The object names its rating collections; their sizes are the counts (as PeerTube
    // reads them). An origin that does not answer leaves them as they were.
    let stored_counts = stored.map(|s| (s.likes, s.dislikes)).unwrap_or_default();
    video.likes = fed
        .collection_size(object, "likes")
        .await
        .unwrap_or(stored_counts.0);
    video.dislikes = fed
        .collection_size(object, "dislikes")
        .await
        .unwrap_or(stored_counts.1);
    fed.catalog.upsert_remote_video(&video).map_err(text)?;
    tracing::info!(video = %video.url, "remote video stored");
    Ok(())
}

fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl Federation {
    /// `totalItems` of the collection an object names under `key`, fetched from the
    /// object's own server.
    async fn collection_size(&self, object: &Value, key: &str) -> Option<u64> {
        let url = object.get(key).and_then(Value::as_str)?;
        let id = object.get("id").and_then(Value::as_str)?;
        if crate::host_of(url) != crate::host_of(id) {
            return None;
        }
        let collection = self
            .client
            .fetch_object(url, Some(&self.instance_signer))
            .await
            .ok()?;
        collection.get("totalItems").and_then(Value::as_u64)
    }

    /// True when a local actor (or the instance) follows `url` and was accepted.
    pub(crate) fn follows(&self, url: &str) -> Result<bool, String> {
        Ok(self
            .catalog
            .followers_of(&ActorRef::Remote(url.to_string()))
            .map_err(text)?
            .iter()
            .any(|f| {
                f.state == FollowState::Accepted && !matches!(f.follower, ActorRef::Remote(_))
            }))
    }

    /// True when this instance follows the instance actor of `url`'s host.
    fn follows_instance_of(&self, url: &str) -> Result<bool, String> {
        let Some(host) = crate::host_of(url) else {
            return Ok(false);
        };
        for actor in self.catalog.remote_actors_of_host(&host).map_err(text)? {
            if actor.kind == RemoteActorKind::Application && self.follows(&actor.url)? {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_shape_peertube_requires() {
        let ok = json!({
            "type": "Follow",
            "id": "https://a.example/accounts/peertube/follows/1",
            "actor": "https://a.example/accounts/peertube",
            "object": "https://b.example/accounts/peertube",
        });
        let a = Activity::parse(&ok).expect("valid");
        assert_eq!(a.kind, Kind::Follow);
        assert_eq!(a.actor_host(), "a.example");

        let mut actor_object = ok.clone();
        actor_object["actor"] = json!({"id": "https://a.example/accounts/peertube"});
        assert!(Activity::parse(&actor_object).is_ok());

        for (field, value, why) in [
            ("type", json!("Dance"), "Unknown activity type"),
            ("type", Value::Null, "no type"),
            ("id", json!("not a url"), "no valid id"),
            (
                "id",
                json!("https://c.example/x"),
                "not on its actor's host",
            ),
            ("actor", json!(7), "no valid actor"),
            ("object", Value::Null, "no object"),
        ] {
            let mut bad = ok.clone();
            bad[field] = value;
            let err = Activity::parse(&bad).expect_err(field);
            assert!(err.contains(why), "{field}: {err}");
        }
    }
}
