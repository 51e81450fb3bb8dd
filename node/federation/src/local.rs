//! This node's own actors as federation names them: `ActorRef` to URL and back, and the
//! signer of each.

use peerbox_catalog::web_profiles::Actor as Owner;
use peerbox_catalog::{ActorRef, INSTANCE_ACTOR_NAME};

use crate::Federation;
use crate::actors::{account_url, channel_url, instance_actor_url};
use crate::signatures::Signer;

impl Federation {
    /// The ActivityPub id of an actor; `None` for a local actor that no longer exists.
    pub fn actor_url(&self, actor: &ActorRef) -> Option<String> {
        let base = self.settings.public_url.as_str();
        match actor {
            ActorRef::Instance => Some(instance_actor_url(base)),
            ActorRef::Remote(url) => Some(url.clone()),
            ActorRef::Local(Owner::Account(id)) => self
                .catalog
                .account(*id)
                .ok()
                .flatten()
                .map(|a| account_url(base, &a.name)),
            ActorRef::Local(Owner::Channel(id)) => self
                .catalog
                .channel(*id)
                .ok()
                .flatten()
                .map(|c| channel_url(base, &c.name)),
        }
    }

    /// The local actor a URL of this node names (`/accounts/peertube`, `/accounts/{name}`,
    /// `/video-channels/{name}`).
    pub fn local_actor(&self, url: &str) -> Option<ActorRef> {
        let path = url.strip_prefix(self.settings.public_url.as_str())?;
        let path = path.split(['#', '?']).next().unwrap_or_default();
        if let Some(name) = path.strip_prefix("/accounts/") {
            if name.eq_ignore_ascii_case(INSTANCE_ACTOR_NAME) {
                return Some(ActorRef::Instance);
            }
            let account = self.catalog.account_by_name(name).ok()??;
            return Some(ActorRef::Local(Owner::Account(account.id)));
        }
        let name = path.strip_prefix("/video-channels/")?;
        let channel = self.catalog.channel_by_name(name).ok()??;
        Some(ActorRef::Local(Owner::Channel(channel.id)))
    }

    /// The signer of a local actor (or of the instance); `None` for a remote actor or a
    /// local one that is gone.
    pub fn signer(&self, actor: &ActorRef) -> Option<Signer> {
        let pem = match actor {
            ActorRef::Instance => self.instance_key.private_pem.clone(),
            ActorRef::Local(owner) => self.catalog.actor_key(*owner).ok()??.private_pem,
            ActorRef::Remote(_) => return None,
        };
        let key = crate::keys::private_key(&pem).ok()?;
        Some(Signer::new(&self.actor_url(actor)?, key))
    }

    /// The accepted followers (or followings) of a local actor, as URLs for its collection.
    pub(crate) fn follow_urls(&self, actor_url: &str, followers: bool) -> Vec<serde_json::Value> {
        let Some(actor) = self.local_actor(actor_url) else {
            return Vec::new();
        };
        let follows = match followers {
            true => self.catalog.followers_of(&actor),
            false => self.catalog.following_of(&actor),
        };
        follows
            .unwrap_or_default()
            .into_iter()
            .filter(|f| f.state == peerbox_catalog::FollowState::Accepted)
            .filter_map(|f| self.actor_url(if followers { &f.follower } else { &f.target }))
            .map(serde_json::Value::String)
            .collect()
    }

    /// The channel of a local video.
    pub(crate) fn channel_of_video(
        &self,
        uuid: uuid::Uuid,
    ) -> Result<peerbox_catalog::Channel, String> {
        let video = self
            .catalog
            .video(peerbox_catalog::VideoRef::Uuid(uuid))
            .map_err(|e| e.to_string())?
            .ok_or("the video is gone")?;
        self.catalog
            .channel(video.attributes.channel_id)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "the video's channel is gone".to_string())
    }
}
