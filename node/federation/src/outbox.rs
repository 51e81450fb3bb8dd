//! What this node sends: follows and their answers, and its videos to their followers.
//! Nothing is sent from here directly: every activity goes into the catalog's delivery
//! queue, and the deliverer sends it (signed, retried).

use std::collections::BTreeSet;
use std::sync::Arc;

use peerbox_catalog::web_profiles::Actor as Owner;
use peerbox_catalog::{
    ActorRef, FederatedVideo, Follow, FollowState, Privacy, RemoteActor, Video, VideoChange,
    VideoRef, VideoState,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::Federation;

pub const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// The `@context` of the activities PeerTube sends: the Video one (a superset) when a
/// Video object travels inline.
pub(crate) fn with_context(mut activity: Value) -> Value {
    let context = match activity["object"]["type"].as_str() {
        Some("Video") => crate::video_object::video_context(),
        _ => json!([
            "https://www.w3.org/ns/activitystreams",
            "https://w3id.org/security/v1",
            {"RsaSignature2017": "https://w3id.org/security#RsaSignature2017"}
        ]),
    };
    if let Some(map) = activity.as_object_mut() {
        map.insert("@context".into(), context);
    }
    activity
}

/// `sharer`'s Announce of a local video to its followers.
fn announce(sharer_url: &str, video_url: &str, uuid: Uuid) -> Value {
    json!({
        "type": "Announce",
        "id": format!("{sharer_url}/announces/{uuid}"),
        "actor": sharer_url,
        "object": video_url,
        "to": [PUBLIC],
        "cc": [format!("{sharer_url}/followers")],
    })
}

/// Where to deliver to an actor: its server's shared inbox when it has one.
pub(crate) fn inbox_of(actor: &RemoteActor) -> String {
    actor
        .shared_inbox
        .clone()
        .unwrap_or_else(|| actor.inbox.clone())
}

fn follow_object(follow_id: &str, follower: &str, target: &str) -> Value {
    json!({"type": "Follow", "id": follow_id, "actor": follower, "object": target})
}

impl Federation {
    /// Queues `activity` (signed by `signer`) for each inbox that is neither this node's
    /// nor blocked.
    pub(crate) fn send(
        &self,
        signer: &ActorRef,
        inboxes: BTreeSet<String>,
        activity: &Value,
    ) -> Result<(), String> {
        let items: Vec<_> = inboxes
            .into_iter()
            .filter(|inbox| !self.is_local_url(inbox) && !self.is_blocked(inbox))
            .collect();
        if items.is_empty() {
            return Ok(());
        }
        let body = serde_json::to_vec(&with_context(activity.clone())).map_err(text)?;
        let items: Vec<_> = items
            .into_iter()
            .map(|inbox| (inbox, signer.clone(), body.clone()))
            .collect();
        self.catalog
            .enqueue_deliveries(&items)
            .map_err(|e| e.to_string())?;
        self.deliverer.wake();
        Ok(())
    }

    /// Follows a remote actor (an instance actor, a channel or an account) as `follower`.
    pub async fn follow(
        &self,
        follower: &ActorRef,
        target: &RemoteActor,
    ) -> Result<Follow, String> {
        let follower_url = self.actor_url(follower).ok_or("the follower is gone")?;
        let target_ref = ActorRef::Remote(target.url.clone());
        if let Some(known) = self
            .catalog
            .follow_between(follower, &target_ref)
            .map_err(text)?
            && known.state == FollowState::Accepted
        {
            return Ok(known);
        }
        let activity_id = format!("{follower_url}/follows/{}", Uuid::new_v4());
        let follow = self
            .catalog
            .add_follow(follower, &target_ref, &activity_id, FollowState::Pending)
            .map_err(text)?;
        let activity = follow_object(&follow.activity_id, &follower_url, &target.url);
        self.send(follower, [target.inbox.clone()].into(), &activity)?;
        Ok(follow)
    }

    /// Stops following: the follow goes now, and an Undo tells the other side.
    pub fn unfollow(&self, follow: &Follow) -> Result<(), String> {
        let ActorRef::Remote(target_url) = &follow.target else {
            return Err("not a follow of a remote actor".into());
        };
        let follower_url = self
            .actor_url(&follow.follower)
            .ok_or("the follower is gone")?;
        self.catalog.remove_follow(follow.id).map_err(text)?;
        let target = self.catalog.remote_actor(target_url).map_err(text)?;
        let Some(target) = target else { return Ok(()) };
        let activity = json!({
            "type": "Undo",
            "id": format!("{}/undo", follow.activity_id),
            "actor": follower_url,
            "object": follow_object(&follow.activity_id, &follower_url, target_url),
        });
        self.send(&follow.follower, [target.inbox].into(), &activity)
    }

    /// Accepts or rejects a remote follower of a local actor.
    pub(crate) fn send_follow_answer(
        &self,
        follow: &Follow,
        follower: &RemoteActor,
        accept: bool,
    ) -> Result<(), String> {
        let target_url = self
            .actor_url(&follow.target)
            .ok_or("the followed actor is gone")?;
        let kind = if accept { "Accept" } else { "Reject" };
        let activity = json!({
            "type": kind,
            "id": format!("{target_url}/{}/follows/{}", kind.to_lowercase(), follow.id),
            "actor": target_url,
            "object": follow_object(&follow.activity_id, &follower.url, &target_url),
        });
        self.send(&follow.target, [follower.inbox.clone()].into(), &activity)
    }

    /// Tells a remote video's origin it was watched here, as PeerTube's instance actor does
    /// (the origin counts views).
    pub fn send_view(&self, video_url: &str) -> Result<(), String> {
        let video = self
            .catalog
            .remote_video(video_url)
            .map_err(text)?
            .ok_or("unknown remote video")?;
        let channel = self
            .catalog
            .remote_actor(&video.channel_url)
            .map_err(text)?
            .ok_or("unknown channel")?;
        let instance_url = self.actor_url(&ActorRef::Instance).unwrap_or_default();
        let activity = json!({
            "type": "View",
            "id": format!("{instance_url}/views/videos/{}/{}", video.uuid, Uuid::new_v4()),
            "actor": instance_url,
            "object": video.url,
        });
        self.send(&ActorRef::Instance, [inbox_of(&channel)].into(), &activity)
    }

    /// An administrator's answer to a pending follower of the instance.
    pub fn answer_follower(&self, follow: &Follow, accept: bool) -> Result<(), String> {
        let ActorRef::Remote(url) = &follow.follower else {
            return Err("not a remote follower".into());
        };
        let follower = self
            .catalog
            .remote_actor(url)
            .map_err(text)?
            .ok_or("the follower is unknown")?;
        match accept {
            true => {
                self.catalog
                    .set_follow_state(follow.id, FollowState::Accepted)
                    .map_err(text)?;
            }
            false => {
                self.catalog.remove_follow(follow.id).map_err(text)?;
            }
        }
        self.send_follow_answer(follow, &follower, accept)
    }

    /// The inboxes of the accepted remote followers of these local actors, a shared inbox
    /// once for all the actors of a server that has one.
    pub(crate) fn follower_inboxes(&self, of: &[ActorRef]) -> Result<BTreeSet<String>, String> {
        let mut inboxes = BTreeSet::new();
        for target in of {
            for follow in self.catalog.followers_of(target).map_err(text)? {
                let ActorRef::Remote(url) = &follow.follower else {
                    continue;
                };
                if follow.state != FollowState::Accepted {
                    continue;
                }
                if let Some(actor) = self.catalog.remote_actor(url).map_err(text)? {
                    inboxes.insert(inbox_of(&actor));
                }
            }
        }
        Ok(inboxes)
    }

    /// Tells followers about every video marked as changed: Create (and the instance's
    /// Announce) when it starts to federate, Update when what they see changed, Delete when
    /// it is gone or no longer public.
    pub fn federate_changed_videos(&self) -> Result<usize, String> {
        let changed = self.catalog.changed_videos().map_err(text)?;
        for change in &changed {
            if let Err(e) = self.federate_video(*change) {
                tracing::warn!(video = %change.uuid, "not federated yet: {e}");
            }
        }
        Ok(changed.len())
    }

    /// Published, with its torrents written (followers get the infohashes in the first
    /// Create, as PeerTube sends them), and public or, when configured, unlisted.
    pub(crate) fn federates(&self, video: &Video) -> bool {
        let torrents_written = video
            .outputs
            .as_ref()
            .is_none_or(|o| o.hls.files.iter().all(|f| f.info_hash.is_some()));
        video.state == VideoState::Published
            && torrents_written
            && match video.attributes.privacy {
                Privacy::Public => true,
                Privacy::Unlisted => self.settings.federate_unlisted,
                _ => false,
            }
    }

    fn federate_video(&self, change: VideoChange) -> Result<(), String> {
        let uuid = change.uuid;
        let base = self.settings.public_url.clone();
        let video_url = format!("{base}/videos/watch/{uuid}");
        let current = self
            .catalog
            .video(VideoRef::Uuid(uuid))
            .map_err(text)?
            .filter(|v| self.federates(v));
        let known = self.catalog.federated_video(uuid).map_err(text)?;
        let audience = |channel_id: u64, account_id: u64| {
            vec![
                ActorRef::Local(Owner::Channel(channel_id)),
                ActorRef::Local(Owner::Account(account_id)),
                ActorRef::Instance,
            ]
        };
        match (current, known) {
            (Some(video), known) => {
                let channel = self
                    .catalog
                    .channel(video.attributes.channel_id)
                    .map_err(text)?
                    .ok_or("the video's channel is gone")?;
                let object = self.local_video_object(&video)?;
                // Views change without an edit; followers count them at the origin.
                let mut compared = object.clone();
                compared["views"] = Value::Null;
                let hash = hex::encode(Sha256::digest(compared.to_string()));
                if known.as_ref().is_some_and(|k| k.object_hash == hash) {
                    return self
                        .catalog
                        .settle_video_change(change, known.as_ref())
                        .map_err(text);
                }
                let author = ActorRef::Local(Owner::Account(channel.account_id));
                let author_url = self
                    .actor_url(&author)
                    .ok_or("the video's account is gone")?;
                let inboxes = self.follower_inboxes(&audience(channel.id, channel.account_id))?;
                let (kind, id) = match known {
                    None => ("Create", format!("{video_url}/activity")),
                    Some(_) => (
                        "Update",
                        format!(
                            "{video_url}/updates/{}",
                            video.updated_at.timestamp_millis()
                        ),
                    ),
                };
                let activity = json!({
                    "type": kind,
                    "id": id,
                    "actor": author_url,
                    "to": object.get("to").cloned().unwrap_or_else(|| json!([PUBLIC])),
                    "cc": object.get("cc").cloned().unwrap_or_else(|| json!([])),
                    "object": object,
                });
                self.send(&author, inboxes, &activity)?;
                if kind == "Create" {
                    // As PeerTube, the instance and the channel share each new video with
                    // their followers (the same Announce ids as in their outboxes).
                    let sharers = [
                        ActorRef::Instance,
                        ActorRef::Local(Owner::Channel(channel.id)),
                    ];
                    for sharer in sharers {
                        let sharer_url = self.actor_url(&sharer).unwrap_or_default();
                        let announce = announce(&sharer_url, &video_url, uuid);
                        let inboxes = self.follower_inboxes(std::slice::from_ref(&sharer))?;
                        self.send(&sharer, inboxes, &announce)?;
                    }
                }
                let told = FederatedVideo {
                    channel_id: channel.id,
                    account_id: channel.account_id,
                    object_hash: hash,
                };
                self.catalog
                    .settle_video_change(change, Some(&told))
                    .map_err(text)
            }
            (None, Some(known)) => {
                let account = ActorRef::Local(Owner::Account(known.account_id));
                // A deleted account can no longer sign; its instance speaks for it.
                let signer = match self.actor_url(&account) {
                    Some(_) => account,
                    None => ActorRef::Instance,
                };
                let actor_url = self.actor_url(&signer).unwrap_or_default();
                let inboxes =
                    self.follower_inboxes(&audience(known.channel_id, known.account_id))?;
                let activity = json!({
                    "type": "Delete",
                    "id": format!("{video_url}/delete/{}", chrono::Utc::now().timestamp_millis()),
                    "actor": actor_url,
                    "object": video_url,
                    "to": [PUBLIC],
                });
                self.send(&signer, inboxes, &activity)?;
                self.catalog.settle_video_change(change, None).map_err(text)
            }
            (None, None) => self.catalog.settle_video_change(change, None).map_err(text),
        }
    }

    /// A local actor's outbox: an Announce of each of its videos that federates, newest
    /// first (the instance's outbox has them all), so that a new follower can fetch what
    /// was published before it followed.
    pub(crate) fn outbox_items(&self, actor_url: &str) -> Vec<Value> {
        let Some(actor) = self.local_actor(actor_url) else {
            return Vec::new();
        };
        let channels: Option<Vec<u64>> = match actor {
            ActorRef::Instance => None,
            ActorRef::Local(Owner::Channel(id)) => Some(vec![id]),
            ActorRef::Local(Owner::Account(id)) => Some(
                self.catalog
                    .channels_of_account(id)
                    .unwrap_or_default()
                    .iter()
                    .map(|c| c.id)
                    .collect(),
            ),
            ActorRef::Remote(_) => return Vec::new(),
        };
        let base = &self.settings.public_url;
        self.catalog
            .videos()
            .unwrap_or_default()
            .into_iter()
            .filter(|v| self.federates(v))
            .filter(|v| {
                channels
                    .as_ref()
                    .is_none_or(|c| c.contains(&v.attributes.channel_id))
            })
            .map(|v| {
                let video_url = format!("{base}/videos/watch/{}", v.uuid);
                let mut item = announce(actor_url, &video_url, v.uuid);
                item["published"] = json!(peerbox_api::format_date(&v.published_at));
                item
            })
            .collect()
    }

    /// Runs `federate_changed_videos` at start, whenever the catalog says a video changed,
    /// and every few minutes (a change whose delivery could not be queued is tried again).
    pub async fn run_video_changes(self: Arc<Self>, stop: tokio_util::sync::CancellationToken) {
        loop {
            if let Err(e) = self.federate_changed_videos() {
                tracing::warn!("federating video changes: {e}");
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = self.videos_changed.notified() => {}
                _ = tokio::time::sleep(std::time::Duration::from_secs(300)) => {}
            }
        }
    }
}

fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}
