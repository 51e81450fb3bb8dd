//! What federation keeps: remote actors and videos as last fetched, follows in both
//! directions, and the queue of activities to deliver to remote inboxes.
//!
//! Every table here is created on first write and a missing table reads as empty, so older
//! catalogs need no migration. Each row and its indexes change in one write transaction.

use chrono::{DateTime, Utc};
use redb::{
    ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, WriteTransaction,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{CatalogError, Result};
use crate::store::{Catalog, VIDEOS_BY_UUID, get_row, next_id, put_row, read_table, row_by_index};
use crate::web_profiles::Actor;

const REMOTE_ACTORS: TableDefinition<&str, &[u8]> = TableDefinition::new("remote_actors");
const REMOTE_ACTORS_BY_KEY: TableDefinition<&str, &str> =
    TableDefinition::new("remote_actors_by_key");
/// `(name@host, url)`: an account and a channel may share a handle.
const REMOTE_ACTORS_BY_HANDLE: TableDefinition<(&str, &str), ()> =
    TableDefinition::new("remote_actors_by_handle");
const REMOTE_ACTORS_BY_HOST: TableDefinition<(&str, &str), ()> =
    TableDefinition::new("remote_actors_by_host");

const FOLLOWS: TableDefinition<u64, &[u8]> = TableDefinition::new("follows");
/// `(follower key, target key)` -> follow id; see `ActorRef::key`.
const FOLLOWS_BY_PAIR: TableDefinition<(&str, &str), u64> = TableDefinition::new("follows_by_pair");
const FOLLOWS_BY_ACTIVITY: TableDefinition<&str, u64> = TableDefinition::new("follows_by_activity");
/// `(actor key, follow id)`: ids grow with creation, so the reverse order is newest first.
const FOLLOWS_BY_TARGET: TableDefinition<(&str, u64), ()> =
    TableDefinition::new("follows_by_target");
const FOLLOWS_BY_FOLLOWER: TableDefinition<(&str, u64), ()> =
    TableDefinition::new("follows_by_follower");

const REMOTE_VIDEOS: TableDefinition<&str, &[u8]> = TableDefinition::new("remote_videos");
const REMOTE_VIDEOS_BY_UUID: TableDefinition<u128, &str> =
    TableDefinition::new("remote_videos_by_uuid");
const REMOTE_VIDEOS_BY_CHANNEL: TableDefinition<(&str, &str), ()> =
    TableDefinition::new("remote_videos_by_channel");
const REMOTE_VIDEOS_BY_ACCOUNT: TableDefinition<(&str, &str), ()> =
    TableDefinition::new("remote_videos_by_account");
/// `(published_at millis, url)`: the listing order.
const REMOTE_VIDEOS_BY_PUBLISHED: TableDefinition<(i64, &str), ()> =
    TableDefinition::new("remote_videos_by_published");

const DELIVERIES: TableDefinition<u64, &[u8]> = TableDefinition::new("deliveries");
/// `(next_attempt_at millis, delivery id)`: the order in which deliveries fall due.
const DELIVERIES_DUE: TableDefinition<(i64, u64), ()> = TableDefinition::new("deliveries_due");

/// Who follows or is followed / who signs a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActorRef {
    /// The instance actor (`/accounts/peertube`).
    Instance,
    /// A local account or channel.
    Local(#[serde(with = "local_actor")] Actor),
    /// A remote actor, by its ActivityPub id (URL).
    Remote(String),
}

impl ActorRef {
    /// The actor's name in the follow indexes.
    fn key(&self) -> String {
        match self {
            ActorRef::Instance => "instance".into(),
            ActorRef::Local(Actor::Account(id)) => format!("account:{id}"),
            ActorRef::Local(Actor::Channel(id)) => format!("channel:{id}"),
            ActorRef::Remote(url) => format!("remote:{url}"),
        }
    }
}

/// `web_profiles::Actor` has no serde derives; rows store it through this mirror.
mod local_actor {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::web_profiles::Actor;

    #[derive(Serialize, Deserialize)]
    enum Stored {
        Account(u64),
        Channel(u64),
    }

    pub fn serialize<S: Serializer>(actor: &Actor, s: S) -> Result<S::Ok, S::Error> {
        match *actor {
            Actor::Account(id) => Stored::Account(id),
            Actor::Channel(id) => Stored::Channel(id),
        }
        .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Actor, D::Error> {
        Ok(match Stored::deserialize(d)? {
            Stored::Account(id) => Actor::Account(id),
            Stored::Channel(id) => Actor::Channel(id),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RemoteActorKind {
    Person,
    Group,
    Application,
    Service,
    Organization,
}

/// A remote actor as fetched (refreshed by federation; PeerTube refreshes after 2 days).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteActor {
    /// ActivityPub id, the primary key.
    pub url: String,
    pub kind: RemoteActorKind,
    pub preferred_username: String,
    /// `host[:port]` of `url`.
    pub host: String,
    pub name: String,
    pub summary: Option<String>,
    pub inbox: String,
    pub shared_inbox: Option<String>,
    pub outbox: Option<String>,
    pub followers: Option<String>,
    pub following: Option<String>,
    pub public_key_id: String,
    pub public_key_pem: String,
    /// For a Group (channel): the owning account's URL.
    pub attributed_to: Option<String>,
    pub avatar_url: Option<String>,
    /// The watch/profile page (`url` field of the actor document when it is a link).
    pub profile_url: Option<String>,
    pub fetched_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FollowState {
    Pending,
    Accepted,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Follow {
    pub id: u64,
    pub follower: ActorRef,
    pub target: ActorRef,
    pub state: FollowState,
    /// The Follow activity's id (ours when we follow, theirs when they follow us).
    pub activity_id: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A remote video, normalised from its ActivityPub Video object (federation parses it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteVideo {
    /// ActivityPub id, the primary key.
    pub url: String,
    pub uuid: Uuid,
    pub name: String,
    pub description: Option<String>,
    /// Seconds.
    pub duration: u64,
    /// The remote Group id.
    pub channel_url: String,
    /// The remote Person id.
    pub account_url: String,
    /// The first text/html url: the origin's watch page.
    pub watch_url: String,
    pub thumbnail_url: Option<String>,
    /// 1 public, 2 unlisted.
    pub privacy: u8,
    pub language: Option<String>,
    pub category: Option<u32>,
    pub licence: Option<u32>,
    pub nsfw: bool,
    pub comments_enabled: bool,
    pub download_enabled: bool,
    pub tags: Vec<String>,
    pub views: u64,
    pub likes: u64,
    pub dislikes: u64,
    pub is_live: bool,
    pub hls: Option<RemoteHls>,
    pub published_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub fetched_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteHls {
    /// The master playlist (m3u8).
    pub playlist_url: String,
    pub segments_sha256_url: Option<String>,
    /// Hex, from the Infohash tags.
    pub infohashes: Vec<String>,
    pub files: Vec<RemoteFile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteFile {
    /// Height in pixels.
    pub resolution: u32,
    pub fps: u32,
    pub size: u64,
    /// The fragmented MP4.
    pub file_url: String,
    pub torrent_url: Option<String>,
    pub magnet_uri: Option<String>,
}

/// One activity to deliver to one inbox, signed by `signer` when sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: u64,
    pub inbox: String,
    /// `Instance` or `Local(..)`.
    pub signer: ActorRef,
    /// The activity JSON exactly as it will be sent.
    pub body: Vec<u8>,
    pub attempts: u32,
    pub first_tried_at: Option<DateTime<Utc>>,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub last_error: Option<String>,
}

/// The second halves of the `(prefix, _)` keys of a two-string index.
fn urls_under(
    table: &impl ReadableTable<(&'static str, &'static str), ()>,
    prefix: &str,
) -> Result<Vec<String>> {
    let mut urls = Vec::new();
    for entry in table.range((prefix, "")..)? {
        let (key, _) = entry?;
        let (first, url) = key.value();
        if first != prefix {
            break;
        }
        urls.push(url.to_string());
    }
    Ok(urls)
}

/// The follow ids indexed under `actor`, newest first.
fn follow_ids_under(
    table: &impl ReadableTable<(&'static str, u64), ()>,
    actor: &str,
) -> Result<Vec<u64>> {
    let mut ids = Vec::new();
    for entry in table.range((actor, 0)..=(actor, u64::MAX))?.rev() {
        ids.push(entry?.0.value().1);
    }
    Ok(ids)
}

fn handle(name: &str, host: &str) -> String {
    format!("{name}@{}", host.to_ascii_lowercase())
}

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn index_actor(txn: &WriteTransaction, a: &RemoteActor) -> Result<()> {
    txn.open_table(REMOTE_ACTORS_BY_KEY)?
        .insert(a.public_key_id.as_str(), a.url.as_str())?;
    txn.open_table(REMOTE_ACTORS_BY_HANDLE)?.insert(
        (
            handle(&a.preferred_username, &a.host).as_str(),
            a.url.as_str(),
        ),
        (),
    )?;
    txn.open_table(REMOTE_ACTORS_BY_HOST)?
        .insert((a.host.to_ascii_lowercase().as_str(), a.url.as_str()), ())?;
    Ok(())
}

fn unindex_actor(txn: &WriteTransaction, a: &RemoteActor) -> Result<()> {
    let mut by_key = txn.open_table(REMOTE_ACTORS_BY_KEY)?;
    // A key id that has since moved to another actor stays with it.
    let ours = by_key
        .get(a.public_key_id.as_str())?
        .is_some_and(|url| url.value() == a.url);
    if ours {
        by_key.remove(a.public_key_id.as_str())?;
    }
    txn.open_table(REMOTE_ACTORS_BY_HANDLE)?.remove((
        handle(&a.preferred_username, &a.host).as_str(),
        a.url.as_str(),
    ))?;
    txn.open_table(REMOTE_ACTORS_BY_HOST)?
        .remove((a.host.to_ascii_lowercase().as_str(), a.url.as_str()))?;
    Ok(())
}

fn index_follow(txn: &WriteTransaction, f: &Follow) -> Result<()> {
    let (follower, target) = (f.follower.key(), f.target.key());
    txn.open_table(FOLLOWS_BY_PAIR)?
        .insert((follower.as_str(), target.as_str()), f.id)?;
    txn.open_table(FOLLOWS_BY_ACTIVITY)?
        .insert(f.activity_id.as_str(), f.id)?;
    txn.open_table(FOLLOWS_BY_TARGET)?
        .insert((target.as_str(), f.id), ())?;
    txn.open_table(FOLLOWS_BY_FOLLOWER)?
        .insert((follower.as_str(), f.id), ())?;
    Ok(())
}

fn unindex_follow_activity(txn: &WriteTransaction, f: &Follow) -> Result<()> {
    let mut by_activity = txn.open_table(FOLLOWS_BY_ACTIVITY)?;
    let ours = by_activity
        .get(f.activity_id.as_str())?
        .is_some_and(|id| id.value() == f.id);
    if ours {
        by_activity.remove(f.activity_id.as_str())?;
    }
    Ok(())
}

fn index_video(txn: &WriteTransaction, v: &RemoteVideo) -> Result<()> {
    let url = v.url.as_str();
    txn.open_table(REMOTE_VIDEOS_BY_UUID)?
        .insert(v.uuid.as_u128(), url)?;
    txn.open_table(REMOTE_VIDEOS_BY_CHANNEL)?
        .insert((v.channel_url.as_str(), url), ())?;
    txn.open_table(REMOTE_VIDEOS_BY_ACCOUNT)?
        .insert((v.account_url.as_str(), url), ())?;
    txn.open_table(REMOTE_VIDEOS_BY_PUBLISHED)?
        .insert((millis(v.published_at), url), ())?;
    Ok(())
}

fn unindex_video(txn: &WriteTransaction, v: &RemoteVideo) -> Result<()> {
    let url = v.url.as_str();
    txn.open_table(REMOTE_VIDEOS_BY_UUID)?
        .remove(v.uuid.as_u128())?;
    txn.open_table(REMOTE_VIDEOS_BY_CHANNEL)?
        .remove((v.channel_url.as_str(), url))?;
    txn.open_table(REMOTE_VIDEOS_BY_ACCOUNT)?
        .remove((v.account_url.as_str(), url))?;
    txn.open_table(REMOTE_VIDEOS_BY_PUBLISHED)?
        .remove((millis(v.published_at), url))?;
    Ok(())
}

/// Removes a remote video and its index entries; `None` when there is none at `url`.
fn remove_video_at(txn: &WriteTransaction, url: &str) -> Result<Option<RemoteVideo>> {
    let mut videos = txn.open_table(REMOTE_VIDEOS)?;
    let Some(video) = get_row::<&str, RemoteVideo>(&videos, url)? else {
        return Ok(None);
    };
    videos.remove(url)?;
    unindex_video(txn, &video)?;
    crate::comments::forget_interactions(txn, video.uuid)?;
    Ok(Some(video))
}

fn page<T>(rows: Vec<T>, offset: usize, limit: usize) -> (Vec<T>, usize) {
    let total = rows.len();
    (rows.into_iter().skip(offset).take(limit).collect(), total)
}

/// Remote actors.
impl Catalog {
    /// Stores a fetched actor, replacing what was known of it.
    pub fn upsert_remote_actor(&self, actor: &RemoteActor) -> Result<()> {
        let txn = self.db.begin_write()?;
        {
            let mut actors = txn.open_table(REMOTE_ACTORS)?;
            if let Some(old) = get_row::<&str, RemoteActor>(&actors, actor.url.as_str())? {
                unindex_actor(&txn, &old)?;
            }
            put_row(&mut actors, actor.url.as_str(), actor)?;
            index_actor(&txn, actor)?;
        }
        txn.commit()?;
        Ok(())
    }

    pub fn remote_actor(&self, url: &str) -> Result<Option<RemoteActor>> {
        let txn = self.db.begin_read()?;
        match read_table(&txn, REMOTE_ACTORS)? {
            Some(actors) => get_row(&actors, url),
            None => Ok(None),
        }
    }

    /// The actor whose public key has this id (the `keyId` of an HTTP signature).
    pub fn remote_actor_by_key_id(&self, key_id: &str) -> Result<Option<RemoteActor>> {
        let txn = self.db.begin_read()?;
        let (Some(by_key), Some(actors)) = (
            read_table(&txn, REMOTE_ACTORS_BY_KEY)?,
            read_table(&txn, REMOTE_ACTORS)?,
        ) else {
            return Ok(None);
        };
        let Some(url) = by_key.get(key_id)?.map(|u| u.value().to_string()) else {
            return Ok(None);
        };
        get_row(&actors, url.as_str())
    }

    /// Every actor known as `name@host`: an account and a channel may share a name.
    pub fn remote_actor_by_handle(&self, name: &str, host: &str) -> Result<Vec<RemoteActor>> {
        self.actors_indexed(REMOTE_ACTORS_BY_HANDLE, &handle(name, host))
    }

    pub fn remote_actors_of_host(&self, host: &str) -> Result<Vec<RemoteActor>> {
        self.actors_indexed(REMOTE_ACTORS_BY_HOST, &host.to_ascii_lowercase())
    }

    fn actors_indexed(
        &self,
        index: TableDefinition<(&str, &str), ()>,
        prefix: &str,
    ) -> Result<Vec<RemoteActor>> {
        let txn = self.db.begin_read()?;
        let (Some(index), Some(actors)) =
            (read_table(&txn, index)?, read_table(&txn, REMOTE_ACTORS)?)
        else {
            return Ok(Vec::new());
        };
        let mut found = Vec::new();
        for url in urls_under(&index, prefix)? {
            if let Some(actor) = get_row(&actors, url.as_str())? {
                found.push(actor);
            }
        }
        Ok(found)
    }
}

/// Follows.
impl Catalog {
    /// Records that `follower` follows (or asked to follow) `target`. There is one follow per
    /// pair: an existing one is returned unchanged, except a rejected one, which becomes
    /// pending again under the new activity id.
    pub fn add_follow(
        &self,
        follower: &ActorRef,
        target: &ActorRef,
        activity_id: &str,
        state: FollowState,
    ) -> Result<Follow> {
        let txn = self.db.begin_write()?;
        let follow = {
            let existing = txn
                .open_table(FOLLOWS_BY_PAIR)?
                .get((follower.key().as_str(), target.key().as_str()))?
                .map(|id| id.value());
            let mut follows = txn.open_table(FOLLOWS)?;
            let now = Utc::now();
            match existing {
                Some(id) => {
                    let mut follow: Follow =
                        get_row(&follows, id)?.ok_or(CatalogError::NotFound("follow"))?;
                    if follow.state == FollowState::Rejected {
                        unindex_follow_activity(&txn, &follow)?;
                        follow.activity_id = activity_id.to_string();
                        follow.state = FollowState::Pending;
                        follow.updated_at = now;
                        put_row(&mut follows, id, &follow)?;
                        index_follow(&txn, &follow)?;
                    }
                    follow
                }
                None => {
                    let follow = Follow {
                        id: next_id(&txn, "follow_id")?,
                        follower: follower.clone(),
                        target: target.clone(),
                        state,
                        activity_id: activity_id.to_string(),
                        created_at: now,
                        updated_at: now,
                    };
                    put_row(&mut follows, follow.id, &follow)?;
                    index_follow(&txn, &follow)?;
                    follow
                }
            }
        };
        txn.commit()?;
        Ok(follow)
    }

    pub fn follow_between(&self, follower: &ActorRef, target: &ActorRef) -> Result<Option<Follow>> {
        let txn = self.db.begin_read()?;
        let pair = (follower.key(), target.key());
        row_by_index(
            &txn,
            FOLLOWS_BY_PAIR,
            FOLLOWS,
            (pair.0.as_str(), pair.1.as_str()),
        )
    }

    pub fn follow_by_activity(&self, activity_id: &str) -> Result<Option<Follow>> {
        let txn = self.db.begin_read()?;
        row_by_index(&txn, FOLLOWS_BY_ACTIVITY, FOLLOWS, activity_id)
    }

    pub fn follow_by_id(&self, id: u64) -> Result<Option<Follow>> {
        let txn = self.db.begin_read()?;
        match read_table(&txn, FOLLOWS)? {
            Some(follows) => get_row(&follows, id),
            None => Ok(None),
        }
    }

    pub fn set_follow_state(&self, id: u64, state: FollowState) -> Result<Option<Follow>> {
        let txn = self.db.begin_write()?;
        let follow = {
            let mut follows = txn.open_table(FOLLOWS)?;
            match get_row::<u64, Follow>(&follows, id)? {
                Some(mut follow) => {
                    follow.state = state;
                    follow.updated_at = Utc::now();
                    put_row(&mut follows, id, &follow)?;
                    Some(follow)
                }
                None => None,
            }
        };
        txn.commit()?;
        Ok(follow)
    }

    pub fn remove_follow(&self, id: u64) -> Result<Option<Follow>> {
        let txn = self.db.begin_write()?;
        let follow = {
            let mut follows = txn.open_table(FOLLOWS)?;
            let follow = get_row::<u64, Follow>(&follows, id)?;
            if let Some(f) = &follow {
                follows.remove(id)?;
                let (follower, target) = (f.follower.key(), f.target.key());
                txn.open_table(FOLLOWS_BY_PAIR)?
                    .remove((follower.as_str(), target.as_str()))?;
                unindex_follow_activity(&txn, f)?;
                txn.open_table(FOLLOWS_BY_TARGET)?
                    .remove((target.as_str(), id))?;
                txn.open_table(FOLLOWS_BY_FOLLOWER)?
                    .remove((follower.as_str(), id))?;
            }
            follow
        };
        txn.commit()?;
        Ok(follow)
    }

    /// Who follows `target`, in every state, newest first.
    pub fn followers_of(&self, target: &ActorRef) -> Result<Vec<Follow>> {
        self.follows_indexed(FOLLOWS_BY_TARGET, &target.key())
    }

    /// Whom `follower` follows, in every state, newest first.
    pub fn following_of(&self, follower: &ActorRef) -> Result<Vec<Follow>> {
        self.follows_indexed(FOLLOWS_BY_FOLLOWER, &follower.key())
    }

    /// The follows in which the remote actor `url` is either side, newest first.
    pub fn follows_with_remote(&self, url: &str) -> Result<Vec<Follow>> {
        let remote = ActorRef::Remote(url.to_string());
        let mut follows = self.followers_of(&remote)?;
        follows.extend(self.following_of(&remote)?);
        follows.sort_by_key(|f| std::cmp::Reverse(f.id));
        follows.dedup_by_key(|f| f.id);
        Ok(follows)
    }

    /// Every follow, oldest first.
    pub fn all_follows(&self) -> Result<Vec<Follow>> {
        let txn = self.db.begin_read()?;
        match read_table(&txn, FOLLOWS)? {
            Some(follows) => crate::store::all_rows(&follows),
            None => Ok(Vec::new()),
        }
    }

    fn follows_indexed(
        &self,
        index: TableDefinition<(&str, u64), ()>,
        actor: &str,
    ) -> Result<Vec<Follow>> {
        let txn = self.db.begin_read()?;
        let (Some(index), Some(follows)) = (read_table(&txn, index)?, read_table(&txn, FOLLOWS)?)
        else {
            return Ok(Vec::new());
        };
        let mut found = Vec::new();
        for id in follow_ids_under(&index, actor)? {
            if let Some(follow) = get_row(&follows, id)? {
                found.push(follow);
            }
        }
        Ok(found)
    }
}

/// Remote videos.
impl Catalog {
    /// Stores a fetched video, replacing what was known of it. Its UUID must not be that of a
    /// local video or of another remote one: a UUID names one video on every page.
    pub fn upsert_remote_video(&self, v: &RemoteVideo) -> Result<()> {
        let txn = self.db.begin_write()?;
        {
            if txn
                .open_table(VIDEOS_BY_UUID)?
                .get(v.uuid.as_u128())?
                .is_some()
            {
                return Err(CatalogError::Conflict(format!(
                    "video {} is a local video",
                    v.uuid
                )));
            }
            let holder = txn
                .open_table(REMOTE_VIDEOS_BY_UUID)?
                .get(v.uuid.as_u128())?
                .map(|url| url.value().to_string());
            if let Some(other) = holder.filter(|u| *u != v.url) {
                return Err(CatalogError::Conflict(format!(
                    "video {} is already known as {other}",
                    v.uuid
                )));
            }
            remove_video_at(&txn, &v.url)?;
            put_row(&mut txn.open_table(REMOTE_VIDEOS)?, v.url.as_str(), v)?;
            index_video(&txn, v)?;
        }
        txn.commit()?;
        Ok(())
    }

    pub fn remote_video(&self, url: &str) -> Result<Option<RemoteVideo>> {
        let txn = self.db.begin_read()?;
        match read_table(&txn, REMOTE_VIDEOS)? {
            Some(videos) => get_row(&videos, url),
            None => Ok(None),
        }
    }

    pub fn remote_video_by_uuid(&self, uuid: Uuid) -> Result<Option<RemoteVideo>> {
        let txn = self.db.begin_read()?;
        let (Some(by_uuid), Some(videos)) = (
            read_table(&txn, REMOTE_VIDEOS_BY_UUID)?,
            read_table(&txn, REMOTE_VIDEOS)?,
        ) else {
            return Ok(None);
        };
        let Some(url) = by_uuid.get(uuid.as_u128())?.map(|u| u.value().to_string()) else {
            return Ok(None);
        };
        get_row(&videos, url.as_str())
    }

    pub fn remove_remote_video(&self, url: &str) -> Result<Option<RemoteVideo>> {
        let txn = self.db.begin_write()?;
        let removed = remove_video_at(&txn, url)?;
        txn.commit()?;
        Ok(removed)
    }

    /// A page of remote videos, newest published first, with the total count.
    pub fn remote_videos(&self, offset: usize, limit: usize) -> Result<(Vec<RemoteVideo>, usize)> {
        let txn = self.db.begin_read()?;
        let (Some(order), Some(videos)) = (
            read_table(&txn, REMOTE_VIDEOS_BY_PUBLISHED)?,
            read_table(&txn, REMOTE_VIDEOS)?,
        ) else {
            return Ok((Vec::new(), 0));
        };
        let total = usize::try_from(order.len()?).unwrap_or(usize::MAX);
        let mut found = Vec::new();
        for entry in order.iter()?.rev().skip(offset).take(limit) {
            let (key, _) = entry?;
            if let Some(video) = get_row(&videos, key.value().1)? {
                found.push(video);
            }
        }
        Ok((found, total))
    }

    /// A page of the videos of these remote channels, newest published first, with the
    /// total count.
    pub fn remote_videos_of_channels(
        &self,
        channel_urls: &[String],
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<RemoteVideo>, usize)> {
        let txn = self.db.begin_read()?;
        let (Some(by_channel), Some(videos)) = (
            read_table(&txn, REMOTE_VIDEOS_BY_CHANNEL)?,
            read_table(&txn, REMOTE_VIDEOS)?,
        ) else {
            return Ok((Vec::new(), 0));
        };
        let mut channels: Vec<&String> = channel_urls.iter().collect();
        channels.sort();
        channels.dedup();
        let mut found: Vec<RemoteVideo> = Vec::new();
        for channel in channels {
            for url in urls_under(&by_channel, channel)? {
                if let Some(video) = get_row(&videos, url.as_str())? {
                    found.push(video);
                }
            }
        }
        found.sort_by(|a, b| (b.published_at, &b.url).cmp(&(a.published_at, &a.url)));
        Ok(page(found, offset, limit))
    }

    /// Removes every video of a remote channel or account; returns how many.
    pub fn remove_remote_videos_of_actor(&self, url: &str) -> Result<usize> {
        let txn = self.db.begin_write()?;
        let count = {
            let mut urls = urls_under(&txn.open_table(REMOTE_VIDEOS_BY_CHANNEL)?, url)?;
            urls.extend(urls_under(&txn.open_table(REMOTE_VIDEOS_BY_ACCOUNT)?, url)?);
            urls.sort();
            urls.dedup();
            let mut count = 0;
            for video in urls {
                if remove_video_at(&txn, &video)?.is_some() {
                    count += 1;
                }
            }
            count
        };
        txn.commit()?;
        Ok(count)
    }
}

/// The delivery queue.
impl Catalog {
    /// Queues activities for delivery, all due now; returns their ids in order.
    pub fn enqueue_deliveries(&self, items: &[(String, ActorRef, Vec<u8>)]) -> Result<Vec<u64>> {
        let txn = self.db.begin_write()?;
        let ids = {
            let mut rows = txn.open_table(DELIVERIES)?;
            let mut due = txn.open_table(DELIVERIES_DUE)?;
            let now = Utc::now();
            let mut ids = Vec::with_capacity(items.len());
            for (inbox, signer, body) in items {
                let delivery = Delivery {
                    id: next_id(&txn, "delivery_id")?,
                    inbox: inbox.clone(),
                    signer: signer.clone(),
                    body: body.clone(),
                    attempts: 0,
                    first_tried_at: None,
                    next_attempt_at: now,
                    created_at: now,
                    last_error: None,
                };
                put_row(&mut rows, delivery.id, &delivery)?;
                due.insert((millis(now), delivery.id), ())?;
                ids.push(delivery.id);
            }
            ids
        };
        txn.commit()?;
        Ok(ids)
    }

    /// Up to `limit` deliveries whose next attempt is at or before `now`, earliest first.
    pub fn due_deliveries(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Delivery>> {
        let txn = self.db.begin_read()?;
        let (Some(due), Some(rows)) = (
            read_table(&txn, DELIVERIES_DUE)?,
            read_table(&txn, DELIVERIES)?,
        ) else {
            return Ok(Vec::new());
        };
        let mut found = Vec::new();
        for entry in due.range(..=(millis(now), u64::MAX))?.take(limit) {
            let (key, _) = entry?;
            if let Some(delivery) = get_row(&rows, key.value().1)? {
                found.push(delivery);
            }
        }
        Ok(found)
    }

    /// When the earliest queued delivery falls due; `None` when the queue is empty.
    pub fn next_delivery_at(&self) -> Result<Option<DateTime<Utc>>> {
        let txn = self.db.begin_read()?;
        let (Some(due), Some(rows)) = (
            read_table(&txn, DELIVERIES_DUE)?,
            read_table(&txn, DELIVERIES)?,
        ) else {
            return Ok(None);
        };
        let Some(id) = due.first()?.map(|(key, _)| key.value().1) else {
            return Ok(None);
        };
        Ok(get_row::<u64, Delivery>(&rows, id)?.map(|d| d.next_attempt_at))
    }

    /// Removes a delivered activity (nothing happens if it is gone already).
    pub fn delivery_done(&self, id: u64) -> Result<()> {
        self.change_delivery(id, |_| false)
    }

    /// Records a failed attempt: tried again at `next_attempt_at`, or given up (removed) when
    /// that is `None`. Nothing happens if the delivery is gone already.
    pub fn delivery_failed(
        &self,
        id: u64,
        error: &str,
        next_attempt_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        self.change_delivery(id, |d| {
            let Some(at) = next_attempt_at else {
                return false;
            };
            d.attempts += 1;
            d.first_tried_at.get_or_insert_with(Utc::now);
            d.last_error = Some(error.to_string());
            d.next_attempt_at = at;
            true
        })
    }

    pub fn pending_deliveries(&self) -> Result<usize> {
        let txn = self.db.begin_read()?;
        match read_table(&txn, DELIVERIES)? {
            Some(rows) => Ok(usize::try_from(rows.len()?).unwrap_or(usize::MAX)),
            None => Ok(0),
        }
    }

    /// Applies `change` to a queued delivery; it stays queued when `change` returns true and
    /// is removed otherwise.
    fn change_delivery(&self, id: u64, change: impl FnOnce(&mut Delivery) -> bool) -> Result<()> {
        let txn = self.db.begin_write()?;
        {
            let mut rows = txn.open_table(DELIVERIES)?;
            if let Some(mut delivery) = get_row::<u64, Delivery>(&rows, id)? {
                let mut due = txn.open_table(DELIVERIES_DUE)?;
                due.remove((millis(delivery.next_attempt_at), id))?;
                if change(&mut delivery) {
                    put_row(&mut rows, id, &delivery)?;
                    due.insert((millis(delivery.next_attempt_at), id), ())?;
                } else {
                    rows.remove(id)?;
                }
            }
        }
        txn.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::model::*;

    fn catalog() -> (tempfile::TempDir, Catalog) {
        let dir = tempfile::tempdir().expect("temp dir");
        let c = Catalog::open(&dir.path().join("c.redb")).expect("catalog");
        (dir, c)
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).expect("time")
    }

    fn remote(url: &str) -> ActorRef {
        ActorRef::Remote(url.to_string())
    }

    fn actor(url: &str, kind: RemoteActorKind, name: &str, host: &str) -> RemoteActor {
        RemoteActor {
            url: url.into(),
            kind,
            preferred_username: name.into(),
            host: host.into(),
            name: format!("The {name}"),
            summary: None,
            inbox: format!("{url}/inbox"),
            shared_inbox: Some(format!("https://{host}/inbox")),
            outbox: Some(format!("{url}/outbox")),
            followers: Some(format!("{url}/followers")),
            following: None,
            public_key_id: format!("{url}#main-key"),
            public_key_pem: "-----BEGIN PUBLIC KEY-----".into(),
            attributed_to: None,
            avatar_url: None,
            profile_url: None,
            fetched_at: at(0),
        }
    }

    fn video(url: &str, channel: &str, account: &str, published: i64) -> RemoteVideo {
        RemoteVideo {
            url: url.into(),
            uuid: Uuid::new_v4(),
            name: format!("Video at {url}"),
            description: None,
            duration: 93,
            channel_url: channel.into(),
            account_url: account.into(),
            watch_url: url.replace("/videos/watch/", "/w/"),
            thumbnail_url: None,
            privacy: 1,
            language: Some("en".into()),
            category: Some(15),
            licence: None,
            nsfw: false,
            comments_enabled: true,
            download_enabled: true,
            tags: vec!["garden".into()],
            views: 3,
            likes: 1,
            dislikes: 0,
            is_live: false,
            hls: Some(RemoteHls {
                playlist_url: format!("{url}/master.m3u8"),
                segments_sha256_url: None,
                infohashes: vec!["ab".repeat(20)],
                files: vec![RemoteFile {
                    resolution: 720,
                    fps: 30,
                    size: 1_000_000,
                    file_url: format!("{url}-720-fragmented.mp4"),
                    torrent_url: None,
                    magnet_uri: None,
                }],
            }),
            published_at: at(published),
            updated_at: at(published),
            fetched_at: at(published),
        }
    }

    fn urls(videos: &[RemoteVideo]) -> Vec<&str> {
        videos.iter().map(|v| v.url.as_str()).collect()
    }

    #[test]
    fn an_empty_catalog_answers_every_read() {
        let (_dir, c) = catalog();
        assert_eq!(c.remote_actor("https://a.example/a/x").expect("read"), None);
        assert_eq!(c.remote_actor_by_key_id("k").expect("read"), None);
        assert!(
            c.remote_actor_by_handle("x", "a.example")
                .expect("read")
                .is_empty()
        );
        assert!(
            c.remote_actors_of_host("a.example")
                .expect("read")
                .is_empty()
        );
        assert_eq!(c.follow_by_id(1).expect("read"), None);
        assert_eq!(c.follow_by_activity("a").expect("read"), None);
        assert_eq!(
            c.follow_between(&ActorRef::Instance, &remote("r"))
                .expect("read"),
            None
        );
        assert!(
            c.followers_of(&ActorRef::Instance)
                .expect("read")
                .is_empty()
        );
        assert!(c.all_follows().expect("read").is_empty());
        assert_eq!(c.remote_video_by_uuid(Uuid::new_v4()).expect("read"), None);
        assert_eq!(c.remote_videos(0, 10).expect("read"), (vec![], 0));
        assert_eq!(
            c.remote_videos_of_channels(&["c".into()], 0, 10)
                .expect("read"),
            (vec![], 0)
        );
        assert!(c.due_deliveries(at(0), 10).expect("read").is_empty());
        assert_eq!(c.next_delivery_at().expect("read"), None);
        assert_eq!(c.pending_deliveries().expect("read"), 0);
    }

    #[test]
    fn follow_lifecycle() {
        let (_dir, c) = catalog();
        let alice = "https://tube.example/accounts/alice";
        let garden = ActorRef::Local(Actor::Channel(3));

        let f = c
            .add_follow(
                &remote(alice),
                &garden,
                "https://tube.example/f/1",
                FollowState::Pending,
            )
            .expect("follow");
        assert_eq!(f.state, FollowState::Pending);
        assert_eq!(f.follower, remote(alice));
        assert_eq!(f.target, garden);

        // The same pair again: the same follow, unchanged, even with another activity id.
        let again = c
            .add_follow(
                &remote(alice),
                &garden,
                "https://tube.example/f/2",
                FollowState::Accepted,
            )
            .expect("follow");
        assert_eq!(again, f);
        assert_eq!(c.all_follows().expect("all").len(), 1);
        assert_eq!(
            c.follow_by_activity("https://tube.example/f/2")
                .expect("read"),
            None
        );

        let accepted = c
            .set_follow_state(f.id, FollowState::Accepted)
            .expect("state")
            .expect("exists");
        assert_eq!(accepted.state, FollowState::Accepted);
        assert_eq!(c.follow_by_id(f.id).expect("read"), Some(accepted.clone()));
        assert_eq!(
            c.follow_between(&remote(alice), &garden).expect("read"),
            Some(accepted)
        );
        assert_eq!(
            c.follow_by_activity("https://tube.example/f/1")
                .expect("read")
                .map(|f| f.id),
            Some(f.id)
        );

        // A rejected follow asked again becomes pending under the new activity id.
        c.set_follow_state(f.id, FollowState::Rejected)
            .expect("state");
        let renewed = c
            .add_follow(
                &remote(alice),
                &garden,
                "https://tube.example/f/3",
                FollowState::Accepted,
            )
            .expect("follow");
        assert_eq!((renewed.id, renewed.state), (f.id, FollowState::Pending));
        assert_eq!(renewed.activity_id, "https://tube.example/f/3");
        assert_eq!(
            c.follow_by_activity("https://tube.example/f/1")
                .expect("read"),
            None
        );
        assert_eq!(
            c.follow_by_activity("https://tube.example/f/3")
                .expect("read")
                .map(|f| f.id),
            Some(f.id)
        );

        assert_eq!(
            c.set_follow_state(999, FollowState::Accepted)
                .expect("state"),
            None
        );
        let removed = c.remove_follow(f.id).expect("remove").expect("existed");
        assert_eq!(removed.id, f.id);
        assert_eq!(c.remove_follow(f.id).expect("remove"), None);
        assert_eq!(c.follow_by_id(f.id).expect("read"), None);
        assert_eq!(
            c.follow_between(&remote(alice), &garden).expect("read"),
            None
        );
        assert_eq!(
            c.follow_by_activity("https://tube.example/f/3")
                .expect("read"),
            None
        );
        assert!(c.followers_of(&garden).expect("read").is_empty());
        assert!(c.following_of(&remote(alice)).expect("read").is_empty());

        // After removal the pair may follow anew, as a new follow.
        let anew = c
            .add_follow(
                &remote(alice),
                &garden,
                "https://tube.example/f/4",
                FollowState::Accepted,
            )
            .expect("follow");
        assert_ne!(anew.id, f.id);
        assert_eq!(anew.state, FollowState::Accepted);
    }

    #[test]
    fn followers_and_following_are_listed_newest_first() {
        let (_dir, c) = catalog();
        let garden = ActorRef::Local(Actor::Channel(3));
        let kitchen = ActorRef::Local(Actor::Channel(4));
        let bob = "https://masto.example/users/bob";
        let tube = "https://tube.example/accounts/peertube";
        let a = c
            .add_follow(&remote(bob), &garden, "a1", FollowState::Accepted)
            .expect("follow");
        let b = c
            .add_follow(&remote(tube), &garden, "a2", FollowState::Pending)
            .expect("follow");
        let d = c
            .add_follow(&remote(bob), &kitchen, "a3", FollowState::Rejected)
            .expect("follow");
        let e = c
            .add_follow(
                &ActorRef::Instance,
                &remote(tube),
                "a4",
                FollowState::Pending,
            )
            .expect("follow");
        let ids = |fs: Vec<Follow>| fs.into_iter().map(|f| f.id).collect::<Vec<_>>();

        assert_eq!(
            ids(c.followers_of(&garden).expect("read")),
            vec![b.id, a.id]
        );
        assert_eq!(ids(c.followers_of(&kitchen).expect("read")), vec![d.id]);
        assert_eq!(
            ids(c.following_of(&remote(bob)).expect("read")),
            vec![d.id, a.id]
        );
        assert_eq!(
            ids(c.following_of(&ActorRef::Instance).expect("read")),
            vec![e.id]
        );
        assert_eq!(
            ids(c.followers_of(&remote(tube)).expect("read")),
            vec![e.id]
        );
        assert_eq!(
            ids(c.follows_with_remote(tube).expect("read")),
            vec![e.id, b.id]
        );
        assert_eq!(
            ids(c.all_follows().expect("read")),
            vec![a.id, b.id, d.id, e.id]
        );
        // An account and a channel with the same number are different actors.
        assert!(
            c.followers_of(&ActorRef::Local(Actor::Account(3)))
                .expect("read")
                .is_empty()
        );
    }

    #[test]
    fn remote_actors_are_found_by_url_key_id_handle_and_host() {
        let (_dir, c) = catalog();
        let account = actor(
            "https://tube.example/accounts/ann",
            RemoteActorKind::Person,
            "ann",
            "tube.example",
        );
        let mut channel = actor(
            "https://tube.example/video-channels/ann",
            RemoteActorKind::Group,
            "ann",
            "tube.example",
        );
        channel.attributed_to = Some(account.url.clone());
        let other = actor(
            "https://other.example/users/ann",
            RemoteActorKind::Person,
            "ann",
            "other.example",
        );
        for a in [&account, &channel, &other] {
            c.upsert_remote_actor(a).expect("upsert");
        }

        assert_eq!(
            c.remote_actor(&channel.url).expect("read"),
            Some(channel.clone())
        );
        assert_eq!(
            c.remote_actor_by_key_id("https://tube.example/accounts/ann#main-key")
                .expect("read"),
            Some(account.clone())
        );
        let mut both = c
            .remote_actor_by_handle("ann", "tube.example")
            .expect("read");
        both.sort_by_key(|a| a.url.clone());
        assert_eq!(both, vec![account.clone(), channel.clone()]);
        assert_eq!(
            c.remote_actor_by_handle("ann", "Other.Example")
                .expect("read"),
            vec![other.clone()]
        );
        assert!(
            c.remote_actor_by_handle("an", "tube.example")
                .expect("read")
                .is_empty()
        );
        assert_eq!(
            c.remote_actors_of_host("tube.example").expect("read").len(),
            2
        );
        assert_eq!(
            c.remote_actors_of_host("other.example").expect("read"),
            vec![other.clone()]
        );

        // A refetch with a new key and name replaces the old indexes.
        let mut renamed = account.clone();
        renamed.preferred_username = "anna".into();
        renamed.public_key_id = "https://tube.example/accounts/ann#key-2".into();
        renamed.fetched_at = at(60);
        c.upsert_remote_actor(&renamed).expect("upsert");
        assert_eq!(
            c.remote_actor(&account.url).expect("read"),
            Some(renamed.clone())
        );
        assert_eq!(
            c.remote_actor_by_key_id("https://tube.example/accounts/ann#main-key")
                .expect("read"),
            None
        );
        assert_eq!(
            c.remote_actor_by_key_id("https://tube.example/accounts/ann#key-2")
                .expect("read"),
            Some(renamed.clone())
        );
        assert_eq!(
            c.remote_actor_by_handle("ann", "tube.example")
                .expect("read"),
            vec![channel]
        );
        assert_eq!(
            c.remote_actor_by_handle("anna", "tube.example")
                .expect("read"),
            vec![renamed]
        );
        assert_eq!(
            c.remote_actors_of_host("tube.example").expect("read").len(),
            2
        );
    }

    #[test]
    fn a_remote_video_is_replaced_with_its_indexes() {
        let (_dir, c) = catalog();
        let url = "https://tube.example/videos/watch/1";
        let v = video(
            url,
            "https://tube.example/c/old",
            "https://tube.example/a/ann",
            10,
        );
        c.upsert_remote_video(&v).expect("upsert");
        assert_eq!(c.remote_video(url).expect("read"), Some(v.clone()));
        assert_eq!(
            c.remote_video_by_uuid(v.uuid).expect("read"),
            Some(v.clone())
        );

        let mut moved = v.clone();
        moved.channel_url = "https://tube.example/c/new".into();
        moved.name = "Renamed".into();
        moved.published_at = at(20);
        c.upsert_remote_video(&moved).expect("upsert");
        assert_eq!(c.remote_video(url).expect("read"), Some(moved.clone()));
        assert_eq!(
            c.remote_videos_of_channels(&["https://tube.example/c/old".into()], 0, 10)
                .expect("read"),
            (vec![], 0)
        );
        assert_eq!(
            c.remote_videos_of_channels(&["https://tube.example/c/new".into()], 0, 10)
                .expect("read"),
            (vec![moved.clone()], 1)
        );
        assert_eq!(
            c.remote_videos(0, 10).expect("read"),
            (vec![moved.clone()], 1)
        );

        let removed = c.remove_remote_video(url).expect("remove");
        assert_eq!(removed, Some(moved.clone()));
        assert_eq!(c.remove_remote_video(url).expect("remove"), None);
        assert_eq!(c.remote_video_by_uuid(v.uuid).expect("read"), None);
        assert_eq!(c.remote_videos(0, 10).expect("read"), (vec![], 0));
        assert_eq!(
            c.remote_videos_of_channels(&[moved.channel_url], 0, 10)
                .expect("read"),
            (vec![], 0)
        );
    }

    #[test]
    fn a_uuid_names_one_video_only() {
        let (_dir, c) = catalog();
        let user = c
            .create_user(NewUser {
                username: "owner".into(),
                email: "owner@example.org".into(),
                password: "secret-pass".into(),
                role: Role::User,
                video_quota: -1,
                video_quota_daily: -1,
            })
            .expect("user");
        let channel_id = c.channels_of_account(user.account_id).expect("channels")[0].id;
        let local = c
            .create_video(
                NewVideo {
                    uuid: Uuid::new_v4(),
                    attributes: VideoAttributes::new("Local", channel_id, Privacy::Public),
                    source: SourceFile {
                        path: "media/original-video-files/l.mp4".into(),
                        original_name: "l.mp4".into(),
                        extension: ".mp4".into(),
                        size: 1,
                        mime_type: "video/mp4".into(),
                        info_hash: None,
                    },
                },
                None,
            )
            .expect("local video");

        let mut copy = video(
            "https://evil.example/v/1",
            "https://evil.example/c",
            "https://evil.example/a",
            0,
        );
        copy.uuid = local.uuid;
        assert!(matches!(
            c.upsert_remote_video(&copy),
            Err(CatalogError::Conflict(_))
        ));
        assert_eq!(c.remote_video(&copy.url).expect("read"), None);

        let first = video(
            "https://a.example/v/1",
            "https://a.example/c",
            "https://a.example/a",
            0,
        );
        c.upsert_remote_video(&first).expect("upsert");
        let mut second = video(
            "https://b.example/v/1",
            "https://b.example/c",
            "https://b.example/a",
            0,
        );
        second.uuid = first.uuid;
        assert!(matches!(
            c.upsert_remote_video(&second),
            Err(CatalogError::Conflict(_))
        ));
        assert_eq!(
            c.remote_video_by_uuid(first.uuid).expect("read"),
            Some(first)
        );
        assert_eq!(c.remote_videos(0, 10).expect("read").1, 1);
    }

    #[test]
    fn remote_videos_are_listed_newest_first_in_pages() {
        let (_dir, c) = catalog();
        let (red, blue, green) = (
            "https://a.example/c/red",
            "https://a.example/c/blue",
            "https://b.example/c/green",
        );
        let ann = "https://a.example/a/ann";
        let vids = [
            video("https://a.example/v/1", red, ann, 10),
            video("https://a.example/v/2", blue, ann, 40),
            video("https://b.example/v/3", green, "https://b.example/a/bo", 30),
            video("https://a.example/v/4", red, ann, 20),
            video("https://a.example/v/5", red, ann, 50),
        ];
        for v in &vids {
            c.upsert_remote_video(v).expect("upsert");
        }

        let (all, total) = c.remote_videos(0, 10).expect("list");
        assert_eq!(total, 5);
        assert_eq!(
            urls(&all),
            [
                "https://a.example/v/5",
                "https://a.example/v/2",
                "https://b.example/v/3",
                "https://a.example/v/4",
                "https://a.example/v/1"
            ]
        );
        let (page2, total) = c.remote_videos(2, 2).expect("list");
        assert_eq!(total, 5);
        assert_eq!(
            urls(&page2),
            ["https://b.example/v/3", "https://a.example/v/4"]
        );
        assert_eq!(c.remote_videos(5, 2).expect("list"), (vec![], 5));

        let channels = [red.to_string(), green.to_string(), red.to_string()];
        let (of, total) = c.remote_videos_of_channels(&channels, 0, 10).expect("list");
        assert_eq!(total, 4);
        assert_eq!(
            urls(&of),
            [
                "https://a.example/v/5",
                "https://b.example/v/3",
                "https://a.example/v/4",
                "https://a.example/v/1"
            ]
        );
        let (of, total) = c.remote_videos_of_channels(&channels, 1, 2).expect("list");
        assert_eq!(total, 4);
        assert_eq!(
            urls(&of),
            ["https://b.example/v/3", "https://a.example/v/4"]
        );
    }

    #[test]
    fn videos_are_removed_by_channel_or_account() {
        let (_dir, c) = catalog();
        let ann = "https://a.example/a/ann";
        for v in [
            video("https://a.example/v/1", "https://a.example/c/red", ann, 1),
            video("https://a.example/v/2", "https://a.example/c/red", ann, 2),
            video("https://a.example/v/3", "https://a.example/c/blue", ann, 3),
            video(
                "https://b.example/v/4",
                "https://b.example/c/x",
                "https://b.example/a/bo",
                4,
            ),
        ] {
            c.upsert_remote_video(&v).expect("upsert");
        }
        assert_eq!(
            c.remove_remote_videos_of_actor("https://a.example/c/red")
                .expect("remove"),
            2
        );
        assert_eq!(
            urls(&c.remote_videos(0, 10).expect("list").0),
            ["https://b.example/v/4", "https://a.example/v/3"]
        );
        assert_eq!(c.remove_remote_videos_of_actor(ann).expect("remove"), 1);
        assert_eq!(c.remove_remote_videos_of_actor(ann).expect("remove"), 0);
        assert_eq!(
            urls(&c.remote_videos(0, 10).expect("list").0),
            ["https://b.example/v/4"]
        );
    }

    #[test]
    fn delivery_queue_orders_retries_and_gives_up() {
        let (_dir, c) = catalog();
        let signer = ActorRef::Local(Actor::Account(1));
        let before = Utc::now();
        let ids = c
            .enqueue_deliveries(&[
                (
                    "https://a.example/inbox".into(),
                    signer.clone(),
                    b"{\"a\":1}".to_vec(),
                ),
                (
                    "https://b.example/inbox".into(),
                    ActorRef::Instance,
                    b"{\"b\":2}".to_vec(),
                ),
                (
                    "https://c.example/inbox".into(),
                    signer.clone(),
                    b"{\"c\":3}".to_vec(),
                ),
            ])
            .expect("enqueue");
        assert_eq!(ids.len(), 3);
        assert_eq!(c.pending_deliveries().expect("count"), 3);
        let now = Utc::now();
        let next = c.next_delivery_at().expect("next").expect("queued");
        assert!(before <= next && next <= now);

        assert!(
            c.due_deliveries(before - Duration::seconds(1), 10)
                .expect("due")
                .is_empty()
        );
        let due = c.due_deliveries(now, 10).expect("due");
        assert_eq!(due.iter().map(|d| d.id).collect::<Vec<_>>(), ids);
        assert_eq!(due[1].inbox, "https://b.example/inbox");
        assert_eq!(due[1].signer, ActorRef::Instance);
        assert_eq!(due[1].body, b"{\"b\":2}");
        assert_eq!((due[1].attempts, due[1].first_tried_at), (0, None));
        assert_eq!(c.due_deliveries(now, 2).expect("due").len(), 2);

        // The first fails and is retried later: the others come first now.
        let retry = now + Duration::seconds(300);
        c.delivery_failed(ids[0], "503 Service Unavailable", Some(retry))
            .expect("failed");
        let due = c.due_deliveries(now, 10).expect("due");
        assert_eq!(
            due.iter().map(|d| d.id).collect::<Vec<_>>(),
            [ids[1], ids[2]]
        );
        let later = c.due_deliveries(retry, 10).expect("due");
        assert_eq!(
            later.iter().map(|d| d.id).collect::<Vec<_>>(),
            [ids[1], ids[2], ids[0]]
        );
        let failed = &later[2];
        assert_eq!(failed.attempts, 1);
        assert_eq!(
            failed.last_error.as_deref(),
            Some("503 Service Unavailable")
        );
        assert_eq!(failed.next_attempt_at, retry);
        let first_tried = failed.first_tried_at.expect("tried");

        // A second failure keeps the first try's time.
        let retry2 = retry + Duration::seconds(600);
        c.delivery_failed(ids[0], "timeout", Some(retry2))
            .expect("failed");
        let again = c.due_deliveries(retry2, 10).expect("due");
        let again = again.iter().find(|d| d.id == ids[0]).expect("queued");
        assert_eq!(again.attempts, 2);
        assert_eq!(again.first_tried_at, Some(first_tried));
        assert_eq!(again.last_error.as_deref(), Some("timeout"));

        c.delivery_done(ids[1]).expect("done");
        c.delivery_done(ids[1]).expect("done twice is harmless");
        c.delivery_failed(ids[2], "410 Gone", None)
            .expect("give up");
        assert_eq!(c.pending_deliveries().expect("count"), 1);
        assert_eq!(
            c.due_deliveries(retry2, 10)
                .expect("due")
                .iter()
                .map(|d| d.id)
                .collect::<Vec<_>>(),
            [ids[0]]
        );
        assert_eq!(c.next_delivery_at().expect("next"), Some(retry2));
        c.delivery_done(ids[0]).expect("done");
        assert_eq!(c.next_delivery_at().expect("next"), None);
        assert_eq!(c.pending_deliveries().expect("count"), 0);
    }

    #[test]
    fn everything_survives_reopening_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("c.redb");
        let ann = actor(
            "https://a.example/a/ann",
            RemoteActorKind::Person,
            "ann",
            "a.example",
        );
        let v = video(
            "https://a.example/v/1",
            "https://a.example/c/red",
            &ann.url,
            5,
        );
        let (follow, delivery_id) = {
            let c = Catalog::open(&path).expect("catalog");
            c.upsert_remote_actor(&ann).expect("actor");
            c.upsert_remote_video(&v).expect("video");
            let follow = c
                .add_follow(
                    &ActorRef::Instance,
                    &remote(&ann.url),
                    "f1",
                    FollowState::Accepted,
                )
                .expect("follow");
            let ids = c
                .enqueue_deliveries(&[(ann.inbox.clone(), ActorRef::Instance, b"{}".to_vec())])
                .expect("enqueue");
            c.delivery_failed(ids[0], "refused", Some(at(100)))
                .expect("failed");
            (follow, ids[0])
        };

        let c = Catalog::open(&path).expect("reopen");
        assert_eq!(
            c.remote_actor_by_key_id(&ann.public_key_id).expect("read"),
            Some(ann.clone())
        );
        assert_eq!(
            c.remote_video_by_uuid(v.uuid).expect("read"),
            Some(v.clone())
        );
        assert_eq!(
            c.follow_by_activity("f1").expect("read"),
            Some(follow.clone())
        );
        assert_eq!(c.follows_with_remote(&ann.url).expect("read"), vec![follow]);
        assert_eq!(c.pending_deliveries().expect("count"), 1);
        assert_eq!(c.next_delivery_at().expect("next"), Some(at(100)));
        let due = c.due_deliveries(at(100), 10).expect("due");
        assert_eq!(due.len(), 1);
        assert_eq!((due[0].id, due[0].attempts), (delivery_id, 1));
        assert_eq!(due[0].last_error.as_deref(), Some("refused"));
        // Ids keep growing after a restart.
        let next = c
            .enqueue_deliveries(&[(ann.inbox.clone(), ActorRef::Instance, b"{}".to_vec())])
            .expect("enqueue");
        assert!(next[0] > delivery_id);
    }
}
