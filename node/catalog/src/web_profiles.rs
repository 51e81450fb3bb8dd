//! What the web pages keep beyond PeerTube's API fields: account and channel images
//! (avatar, banner), a channel owner's page layout choices, and custom video thumbnails.
//! Plain storage in one table keyed by `account:{id}`, `channel:{id}` or `thumbnail:{uuid}`;
//! the table is created on first write, so older catalogs need no migration.

use redb::{ReadableDatabase, TableDefinition, TableError};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::Result;
use crate::store::{Catalog, decode, encode};

const WEB_PROFILES: TableDefinition<&str, &[u8]> = TableDefinition::new("web_profiles");

/// Whose profile: an account or a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Account(u64),
    Channel(u64),
}

impl Actor {
    fn key(self) -> String {
        match self {
            Actor::Account(id) => format!("account:{id}"),
            Actor::Channel(id) => format!("channel:{id}"),
        }
    }
}

/// Image files are named under `media/avatars/` and `media/banners/` of the data dir.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ActorProfile {
    pub avatar: Option<String>,
    pub banner: Option<String>,
    pub layout: ChannelLayout,
}

/// How a channel's page presents it, as its owner chose.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChannelLayout {
    /// Shown large at the top of the page (when the viewer may see it).
    pub featured_video: Option<Uuid>,
    /// Only the featured video and the newest few, not the full list.
    pub hide_older_videos: bool,
    /// Only the channel's description and a "follow for new videos" box.
    pub follow_box_only: bool,
}

impl Catalog {
    fn web_row(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let txn = self.db.begin_read()?;
        let table = match txn.open_table(WEB_PROFILES) {
            Ok(t) => t,
            Err(TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(table.get(key)?.map(|v| v.value().to_vec()))
    }

    fn set_web_row(&self, key: &str, value: Option<&[u8]>) -> Result<()> {
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(WEB_PROFILES)?;
            match value {
                Some(v) => {
                    table.insert(key, v)?;
                }
                None => {
                    table.remove(key)?;
                }
            }
        }
        txn.commit()?;
        Ok(())
    }

    pub fn actor_profile(&self, actor: Actor) -> Result<ActorProfile> {
        match self.web_row(&actor.key())? {
            Some(bytes) => decode(&bytes),
            None => Ok(ActorProfile::default()),
        }
    }

    pub fn set_actor_profile(&self, actor: Actor, profile: &ActorProfile) -> Result<()> {
        self.set_web_row(&actor.key(), Some(&encode(profile)?))
    }

    /// A thumbnail the owner chose, as a file name under `media/thumbnails/`.
    pub fn custom_thumbnail(&self, video: Uuid) -> Result<Option<String>> {
        match self.web_row(&format!("thumbnail:{video}"))? {
            Some(bytes) => decode(&bytes),
            None => Ok(None),
        }
    }

    pub fn set_custom_thumbnail(&self, video: Uuid, name: Option<&str>) -> Result<()> {
        let key = format!("thumbnail:{video}");
        match name {
            Some(n) => self.set_web_row(&key, Some(&encode(&n)?)),
            None => self.set_web_row(&key, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_default_then_round_trip() {
        let dir = tempfile::tempdir().expect("temp dir");
        let c = Catalog::open(&dir.path().join("c.redb")).expect("catalog");
        assert_eq!(
            c.actor_profile(Actor::Channel(1)).expect("catalog"),
            ActorProfile::default()
        );
        let profile = ActorProfile {
            avatar: Some("a.jpg".into()),
            banner: None,
            layout: ChannelLayout {
                featured_video: Some(Uuid::new_v4()),
                hide_older_videos: true,
                follow_box_only: false,
            },
        };
        c.set_actor_profile(Actor::Channel(1), &profile)
            .expect("catalog");
        assert_eq!(
            c.actor_profile(Actor::Channel(1)).expect("catalog"),
            profile
        );
        assert_eq!(
            c.actor_profile(Actor::Account(1)).expect("catalog"),
            ActorProfile::default()
        );
        let v = Uuid::new_v4();
        assert_eq!(c.custom_thumbnail(v).expect("catalog"), None);
        c.set_custom_thumbnail(v, Some("t.jpg")).expect("catalog");
        assert_eq!(
            c.custom_thumbnail(v).expect("catalog").as_deref(),
            Some("t.jpg")
        );
        c.set_custom_thumbnail(v, None).expect("catalog");
        assert_eq!(c.custom_thumbnail(v).expect("catalog"), None);
    }
}
