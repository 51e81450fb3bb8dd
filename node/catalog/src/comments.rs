//! Comments on videos and ratings (likes and dislikes) of videos, local and remote, by
//! local accounts and remote actors.
//!
//! A comment is kept by its ActivityPub id too, so that a Note received twice is stored
//! once and a reply names its parent by URL. A deleted comment stays as a placeholder
//! without text or author (PeerTube shows it when it has replies, and a late copy of the
//! Note must not bring it back). A rating changes the local video's `likes` and `dislikes`
//! counters in the same transaction. Every table is created on first write; a missing
//! table reads as empty, so older catalogs need no migration.

use chrono::{DateTime, Utc};
use redb::{ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{CatalogError, Result};
use crate::model::Video;
use crate::store::{
    Catalog, VIDEOS, VIDEOS_BY_UUID, get_row, next_id, put_row, read_table, row_by_index,
};

const COMMENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("comments");
/// `(video uuid, comment id)`: a video's comments in the order they came.
const COMMENTS_BY_VIDEO: TableDefinition<(u128, u64), ()> =
    TableDefinition::new("comments_by_video");
const COMMENTS_BY_URL: TableDefinition<&str, u64> = TableDefinition::new("comments_by_url");

/// `(rater key, video uuid)`; see `AccountRef::key`.
const RATINGS: TableDefinition<(&str, u128), &[u8]> = TableDefinition::new("ratings");
/// The rating activity's id -> `(rater key, video uuid)`.
const RATINGS_BY_URL: TableDefinition<&str, (&str, u128)> = TableDefinition::new("ratings_by_url");
/// `(video uuid, rater key)`: who rated a video.
const RATINGS_BY_VIDEO: TableDefinition<(u128, &str), ()> =
    TableDefinition::new("ratings_by_video");

/// Who wrote a comment or rated a video.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccountRef {
    /// A local account, by id.
    Local(u64),
    /// A remote actor, by its ActivityPub id.
    Remote(String),
}

impl AccountRef {
    fn key(&self) -> String {
        match self {
            AccountRef::Local(id) => format!("account:{id}"),
            AccountRef::Remote(url) => format!("remote:{url}"),
        }
    }
}

/// A comment: a thread's first comment (`in_reply_to` None) or a reply in a thread.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    pub id: u64,
    /// The video's UUID, local or remote (a UUID names one video in the catalog).
    pub video: Uuid,
    /// The video's ActivityPub id when it is a remote video.
    pub remote_video: Option<String>,
    /// The id of the thread's first comment (its own id for a first comment).
    pub thread_id: u64,
    pub in_reply_to: Option<u64>,
    /// `None` once deleted, as PeerTube forgets the author of a deleted comment.
    pub author: Option<AccountRef>,
    /// Plain text or PeerTube's markdown; empty once deleted.
    pub text: String,
    /// The ActivityPub id: this node's for its own comments, the origin's for others.
    pub url: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl Comment {
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }
}

/// A comment about to be stored.
#[derive(Debug, Clone)]
pub struct NewComment {
    pub video: Uuid,
    pub remote_video: Option<String>,
    pub in_reply_to: Option<u64>,
    pub author: AccountRef,
    pub text: String,
    /// When it was written (a remote comment's `published`); now when `None`.
    pub published: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rating {
    Like,
    Dislike,
}

/// One rater's rating of one video.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoRating {
    pub rater: AccountRef,
    pub video: Uuid,
    pub rating: Rating,
    /// The Like or Dislike activity's id.
    pub url: String,
    pub created_at: DateTime<Utc>,
}

fn counter(video: &mut Video, rating: Rating) -> &mut u64 {
    match rating {
        Rating::Like => &mut video.likes,
        Rating::Dislike => &mut video.dislikes,
    }
}

/// Moves the counters of the local video `uuid` (a remote video's are its origin's).
fn count_rating(
    txn: &WriteTransaction,
    uuid: Uuid,
    before: Option<Rating>,
    after: Option<Rating>,
) -> Result<()> {
    if before == after {
        return Ok(());
    }
    let Some(id) = txn
        .open_table(VIDEOS_BY_UUID)?
        .get(uuid.as_u128())?
        .map(|id| id.value())
    else {
        return Ok(());
    };
    let mut videos = txn.open_table(VIDEOS)?;
    let Some(mut video) = get_row::<u64, Video>(&videos, id)? else {
        return Ok(());
    };
    if let Some(r) = before {
        let c = counter(&mut video, r);
        *c = c.saturating_sub(1);
    }
    if let Some(r) = after {
        *counter(&mut video, r) += 1;
    }
    put_row(&mut videos, id, &video)?;
    Ok(())
}

/// Drops every comment on and rating of a video that is gone, in its removal's transaction.
pub(crate) fn forget_interactions(txn: &WriteTransaction, video: Uuid) -> Result<()> {
    let key = video.as_u128();
    let comment_ids: Vec<u64> = {
        let by_video = txn.open_table(COMMENTS_BY_VIDEO)?;
        let mut ids = Vec::new();
        for entry in by_video.range((key, 0)..=(key, u64::MAX))? {
            ids.push(entry?.0.value().1);
        }
        ids
    };
    {
        let mut comments = txn.open_table(COMMENTS)?;
        let mut by_video = txn.open_table(COMMENTS_BY_VIDEO)?;
        let mut by_url = txn.open_table(COMMENTS_BY_URL)?;
        for id in comment_ids {
            if let Some(comment) = get_row::<u64, Comment>(&comments, id)? {
                by_url.remove(comment.url.as_str())?;
            }
            comments.remove(id)?;
            by_video.remove((key, id))?;
        }
    }
    let raters: Vec<String> = {
        let by_video = txn.open_table(RATINGS_BY_VIDEO)?;
        let mut raters = Vec::new();
        for entry in by_video.range((key, "")..)? {
            let (k, _) = entry?;
            let (uuid, rater) = k.value();
            if uuid != key {
                break;
            }
            raters.push(rater.to_string());
        }
        raters
    };
    let mut ratings = txn.open_table(RATINGS)?;
    let mut by_url = txn.open_table(RATINGS_BY_URL)?;
    let mut by_video = txn.open_table(RATINGS_BY_VIDEO)?;
    for rater in raters {
        if let Some(rating) = get_row::<(&str, u128), VideoRating>(&ratings, (rater.as_str(), key))?
        {
            by_url.remove(rating.url.as_str())?;
        }
        ratings.remove((rater.as_str(), key))?;
        by_video.remove((key, rater.as_str()))?;
    }
    Ok(())
}

/// Comments.
impl Catalog {
    /// Stores a comment; `url` makes its ActivityPub id from the id it gets (a remote
    /// comment's is the origin's). A comment whose id is known already is returned as it
    /// is, with `false`: a Note received again changes nothing. A reply's parent must be a
    /// comment of the same video.
    pub fn add_comment(
        &self,
        new: NewComment,
        url: impl FnOnce(u64) -> String,
    ) -> Result<(Comment, bool)> {
        let txn = self.db.begin_write()?;
        let (comment, created) = {
            let mut comments = txn.open_table(COMMENTS)?;
            let id = next_id(&txn, "comment_id")?;
            let url = url(id);
            let mut by_url = txn.open_table(COMMENTS_BY_URL)?;
            let known = by_url.get(url.as_str())?.map(|id| id.value());
            match known {
                Some(known) => {
                    let comment = get_row::<u64, Comment>(&comments, known)?
                        .ok_or(CatalogError::NotFound("comment"))?;
                    (comment, false)
                }
                None => {
                    let parent = match new.in_reply_to {
                        Some(id) => Some(
                            get_row::<u64, Comment>(&comments, id)?
                                .filter(|p| p.video == new.video)
                                .ok_or(CatalogError::NotFound("comment"))?,
                        ),
                        None => None,
                    };
                    let now = Utc::now();
                    let comment = Comment {
                        id,
                        video: new.video,
                        remote_video: new.remote_video,
                        thread_id: parent.as_ref().map_or(id, |p| p.thread_id),
                        in_reply_to: new.in_reply_to,
                        author: Some(new.author),
                        text: new.text,
                        url,
                        created_at: new.published.unwrap_or(now),
                        updated_at: now,
                        deleted_at: None,
                    };
                    put_row(&mut comments, id, &comment)?;
                    by_url.insert(comment.url.as_str(), id)?;
                    txn.open_table(COMMENTS_BY_VIDEO)?
                        .insert((comment.video.as_u128(), id), ())?;
                    (comment, true)
                }
            }
        };
        // An id taken for a comment known already is simply not used.
        txn.commit()?;
        Ok((comment, created))
    }

    pub fn comment(&self, id: u64) -> Result<Option<Comment>> {
        let txn = self.db.begin_read()?;
        match read_table(&txn, COMMENTS)? {
            Some(comments) => get_row(&comments, id),
            None => Ok(None),
        }
    }

    /// The comment whose ActivityPub id is `url`.
    pub fn comment_by_url(&self, url: &str) -> Result<Option<Comment>> {
        let txn = self.db.begin_read()?;
        row_by_index(&txn, COMMENTS_BY_URL, COMMENTS, url)
    }

    /// Every comment of a video, deleted ones included, oldest first.
    pub fn comments_of_video(&self, video: Uuid) -> Result<Vec<Comment>> {
        let txn = self.db.begin_read()?;
        let (Some(by_video), Some(comments)) = (
            read_table(&txn, COMMENTS_BY_VIDEO)?,
            read_table(&txn, COMMENTS)?,
        ) else {
            return Ok(Vec::new());
        };
        let key = video.as_u128();
        let mut found = Vec::new();
        for entry in by_video.range((key, 0)..=(key, u64::MAX))? {
            let id = entry?.0.value().1;
            if let Some(comment) = get_row(&comments, id)? {
                found.push(comment);
            }
        }
        Ok(found)
    }

    /// Deletes a comment, keeping its place in its thread; `None` when there is no such
    /// comment. Deleting twice changes nothing.
    pub fn delete_comment(&self, id: u64) -> Result<Option<Comment>> {
        let txn = self.db.begin_write()?;
        let comment = {
            let mut comments = txn.open_table(COMMENTS)?;
            match get_row::<u64, Comment>(&comments, id)? {
                Some(mut c) => {
                    if !c.is_deleted() {
                        let now = Utc::now();
                        c.text.clear();
                        c.author = None;
                        c.deleted_at = Some(now);
                        c.updated_at = now;
                        put_row(&mut comments, id, &c)?;
                    }
                    Some(c)
                }
                None => None,
            }
        };
        txn.commit()?;
        Ok(comment)
    }
}

/// Ratings.
impl Catalog {
    /// Sets (or with `None` removes) `rater`'s rating of the video `video`, whose activity
    /// id is `url`; a local video's counters move in the same transaction. Returns the
    /// rating it replaced.
    pub fn set_rating(
        &self,
        rater: &AccountRef,
        video: Uuid,
        rating: Option<Rating>,
        url: &str,
    ) -> Result<Option<Rating>> {
        self.change_rating(rater, video, rating, url, None)
    }

    /// Removes `rater`'s rating of `video` if it is still `rating` (an Undo of a Like must
    /// not take away the Dislike that replaced it); true when it was removed.
    pub fn undo_rating(&self, rater: &AccountRef, video: Uuid, rating: Rating) -> Result<bool> {
        let before = self.change_rating(rater, video, None, "", Some(rating))?;
        Ok(before == Some(rating))
    }

    /// The rating change, made only when the stored rating is `only_if` (when given), in
    /// one transaction with the counters.
    fn change_rating(
        &self,
        rater: &AccountRef,
        video: Uuid,
        rating: Option<Rating>,
        url: &str,
        only_if: Option<Rating>,
    ) -> Result<Option<Rating>> {
        let key = rater.key();
        let row_key = (key.as_str(), video.as_u128());
        let txn = self.db.begin_write()?;
        let before = {
            let mut ratings = txn.open_table(RATINGS)?;
            let old = get_row::<(&str, u128), VideoRating>(&ratings, row_key)?;
            let before = old.as_ref().map(|o| o.rating);
            if only_if.is_some_and(|wanted| before != Some(wanted)) {
                return Ok(before);
            }
            let mut by_url = txn.open_table(RATINGS_BY_URL)?;
            let mut by_video = txn.open_table(RATINGS_BY_VIDEO)?;
            if let Some(old) = &old {
                by_url.remove(old.url.as_str())?;
            }
            match rating {
                Some(r) => {
                    let row = VideoRating {
                        rater: rater.clone(),
                        video,
                        rating: r,
                        url: url.to_string(),
                        created_at: Utc::now(),
                    };
                    put_row(&mut ratings, row_key, &row)?;
                    by_url.insert(url, row_key)?;
                    by_video.insert((video.as_u128(), key.as_str()), ())?;
                }
                None => {
                    ratings.remove(row_key)?;
                    by_video.remove((video.as_u128(), key.as_str()))?;
                }
            }
            count_rating(&txn, video, before, rating)?;
            before
        };
        txn.commit()?;
        Ok(before)
    }

    pub fn rating(&self, rater: &AccountRef, video: Uuid) -> Result<Option<VideoRating>> {
        let txn = self.db.begin_read()?;
        match read_table(&txn, RATINGS)? {
            Some(ratings) => get_row(&ratings, (rater.key().as_str(), video.as_u128())),
            None => Ok(None),
        }
    }

    /// The rating whose Like or Dislike activity has the id `url`.
    pub fn rating_by_url(&self, url: &str) -> Result<Option<VideoRating>> {
        let txn = self.db.begin_read()?;
        let (Some(by_url), Some(ratings)) = (
            read_table(&txn, RATINGS_BY_URL)?,
            read_table(&txn, RATINGS)?,
        ) else {
            return Ok(None);
        };
        let Some(key) = by_url.get(url)? else {
            return Ok(None);
        };
        let (rater, video) = key.value();
        get_row(&ratings, (rater, video))
    }

    /// Every rating of a video of one kind, in no particular order.
    pub fn ratings_of_video(&self, video: Uuid, rating: Rating) -> Result<Vec<VideoRating>> {
        let txn = self.db.begin_read()?;
        let (Some(by_video), Some(ratings)) = (
            read_table(&txn, RATINGS_BY_VIDEO)?,
            read_table(&txn, RATINGS)?,
        ) else {
            return Ok(Vec::new());
        };
        let key = video.as_u128();
        let mut found = Vec::new();
        for entry in by_video.range((key, "")..)? {
            let entry = entry?;
            let (uuid, rater) = entry.0.value();
            if uuid != key {
                break;
            }
            if let Some(row) = get_row::<(&str, u128), VideoRating>(&ratings, (rater, uuid))?
                && row.rating == rating
            {
                found.push(row);
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::*;

    /// A public video of a new user.
    pub(crate) fn local_video(c: &Catalog) -> Video {
        let user = c
            .create_user(crate::users::tests::new_user("owner"))
            .expect("user");
        let channel = c.channels_of_account(user.account_id).expect("channels")[0].id;
        let source = SourceFile {
            path: "media/original-video-files/x.mp4".into(),
            original_name: "x.mp4".into(),
            extension: ".mp4".into(),
            size: 1,
            mime_type: "video/mp4".into(),
            info_hash: None,
        };
        c.create_video(
            NewVideo {
                uuid: Uuid::new_v4(),
                attributes: VideoAttributes::new("Rated", channel, Privacy::Public),
                source,
            },
            None,
        )
        .expect("video")
    }

    fn catalog() -> (tempfile::TempDir, Catalog) {
        let dir = tempfile::tempdir().expect("temp dir");
        let c = Catalog::open(&dir.path().join("c.redb")).expect("catalog");
        (dir, c)
    }

    fn comment_on(video: Uuid, author: AccountRef, text: &str, parent: Option<u64>) -> NewComment {
        NewComment {
            video,
            remote_video: None,
            in_reply_to: parent,
            author,
            text: text.into(),
            published: None,
        }
    }

    fn ours(video: Uuid) -> impl FnOnce(u64) -> String {
        move |id| format!("https://here.example/videos/watch/{video}/comments/{id}")
    }

    #[test]
    fn an_empty_catalog_answers_every_read() {
        let (_dir, c) = catalog();
        let v = Uuid::new_v4();
        assert_eq!(c.comment(1).expect("read"), None);
        assert_eq!(
            c.comment_by_url("https://a.example/c/1").expect("read"),
            None
        );
        assert!(c.comments_of_video(v).expect("read").is_empty());
        assert_eq!(c.rating(&AccountRef::Local(1), v).expect("read"), None);
        assert_eq!(
            c.rating_by_url("https://a.example/l/1").expect("read"),
            None
        );
        assert!(
            c.ratings_of_video(v, Rating::Like)
                .expect("read")
                .is_empty()
        );
        assert_eq!(c.delete_comment(1).expect("delete"), None);
    }

    #[test]
    fn threads_replies_and_their_urls() {
        let (_dir, c) = catalog();
        let (v, other) = (Uuid::new_v4(), Uuid::new_v4());
        let (root, created) = c
            .add_comment(comment_on(v, AccountRef::Local(1), "First!", None), ours(v))
            .expect("thread");
        assert!(created);
        assert_eq!(root.thread_id, root.id);
        assert_eq!(
            root.url,
            format!("https://here.example/videos/watch/{v}/comments/{}", root.id)
        );

        let remote_url = "https://masto.example/users/bo/statuses/9";
        let reply = NewComment {
            published: DateTime::from_timestamp(1_700_000_000, 0),
            ..comment_on(
                v,
                AccountRef::Remote("https://masto.example/users/bo".into()),
                "@alice agreed",
                Some(root.id),
            )
        };
        let (reply, created) = c
            .add_comment(reply.clone(), |_| remote_url.to_string())
            .expect("reply");
        assert!(created);
        assert_eq!(
            (reply.thread_id, reply.in_reply_to),
            (root.id, Some(root.id))
        );
        assert_eq!(reply.created_at.timestamp(), 1_700_000_000);

        // The same Note again: the stored comment, nothing new.
        let (again, created) = c
            .add_comment(
                comment_on(v, AccountRef::Local(9), "changed", Some(root.id)),
                |_| remote_url.to_string(),
            )
            .expect("again");
        assert!(!created);
        assert_eq!(again, reply);
        assert_eq!(
            c.comment_by_url(remote_url).expect("read"),
            Some(reply.clone())
        );

        // A reply to a comment of another video is refused.
        let refused = c.add_comment(
            comment_on(other, AccountRef::Local(1), "elsewhere", Some(root.id)),
            ours(other),
        );
        assert!(matches!(refused, Err(CatalogError::NotFound(_))));
        assert!(c.comments_of_video(other).expect("read").is_empty());

        let (second, _) = c
            .add_comment(comment_on(v, AccountRef::Local(2), "Second", None), ours(v))
            .expect("thread");
        let all = c.comments_of_video(v).expect("read");
        assert_eq!(
            all.iter().map(|c| c.id).collect::<Vec<_>>(),
            [root.id, reply.id, second.id]
        );
    }

    #[test]
    fn a_deleted_comment_keeps_its_place_without_text_or_author() {
        let (_dir, c) = catalog();
        let v = Uuid::new_v4();
        let (root, _) = c
            .add_comment(comment_on(v, AccountRef::Local(1), "Oops", None), ours(v))
            .expect("thread");
        let deleted = c.delete_comment(root.id).expect("delete").expect("known");
        assert!(deleted.is_deleted());
        assert_eq!((deleted.text.as_str(), deleted.author.clone()), ("", None));
        assert_eq!(c.comment(root.id).expect("read"), Some(deleted.clone()));
        assert_eq!(
            c.delete_comment(root.id).expect("again"),
            Some(deleted.clone())
        );
        // A late copy of the Note does not bring it back.
        let (late, created) = c
            .add_comment(comment_on(v, AccountRef::Local(1), "Oops", None), |_| {
                deleted.url.clone()
            })
            .expect("late");
        assert!(!created && late.is_deleted());
        // Replies still find their place under it.
        let (reply, _) = c
            .add_comment(
                comment_on(v, AccountRef::Local(2), "?", Some(root.id)),
                ours(v),
            )
            .expect("reply");
        assert_eq!(reply.thread_id, root.id);
    }

    #[test]
    fn ratings_move_a_local_videos_counters_once() {
        let (_dir, c) = catalog();
        let video = local_video(&c);
        let counters = |c: &Catalog| {
            let v = c
                .video(crate::VideoRef::Uuid(video.uuid))
                .expect("read")
                .expect("video");
            (v.likes, v.dislikes)
        };
        let alice = AccountRef::Local(1);
        let bo = AccountRef::Remote("https://tube.example/accounts/bo".into());
        let like = "https://here.example/accounts/alice/likes/1";
        assert_eq!(
            c.set_rating(&alice, video.uuid, Some(Rating::Like), like)
                .expect("rate"),
            None
        );
        assert_eq!(
            c.set_rating(&alice, video.uuid, Some(Rating::Like), like)
                .expect("again"),
            Some(Rating::Like)
        );
        assert_eq!(counters(&c), (1, 0));
        c.set_rating(
            &bo,
            video.uuid,
            Some(Rating::Like),
            "https://tube.example/accounts/bo/likes/7",
        )
        .expect("rate");
        assert_eq!(counters(&c), (2, 0));
        assert_eq!(
            c.ratings_of_video(video.uuid, Rating::Like)
                .expect("read")
                .len(),
            2
        );

        let dislike = "https://here.example/accounts/alice/dislikes/1";
        assert_eq!(
            c.set_rating(&alice, video.uuid, Some(Rating::Dislike), dislike)
                .expect("change"),
            Some(Rating::Like)
        );
        assert_eq!(counters(&c), (1, 1));
        assert_eq!(c.rating_by_url(like).expect("read"), None);
        let found = c.rating_by_url(dislike).expect("read").expect("by url");
        assert_eq!(
            (found.rater, found.rating),
            (alice.clone(), Rating::Dislike)
        );
        assert_eq!(
            c.ratings_of_video(video.uuid, Rating::Dislike)
                .expect("read")
                .len(),
            1
        );
        // An Undo of the like it replaced leaves the dislike.
        assert!(
            !c.undo_rating(&alice, video.uuid, Rating::Like)
                .expect("undo")
        );
        assert_eq!(counters(&c), (1, 1));

        assert_eq!(
            c.set_rating(&alice, video.uuid, None, dislike)
                .expect("none"),
            Some(Rating::Dislike)
        );
        assert_eq!(
            c.set_rating(&alice, video.uuid, None, dislike)
                .expect("none"),
            None
        );
        assert_eq!(counters(&c), (1, 0));
        assert_eq!(c.rating(&alice, video.uuid).expect("read"), None);
        assert!(
            c.ratings_of_video(video.uuid, Rating::Dislike)
                .expect("read")
                .is_empty()
        );

        // A remote video's rating is kept; it has no counters here.
        let remote = Uuid::new_v4();
        c.set_rating(
            &alice,
            remote,
            Some(Rating::Like),
            "https://here.example/l/2",
        )
        .expect("rate");
        assert_eq!(
            c.rating(&alice, remote).expect("read").map(|r| r.rating),
            Some(Rating::Like)
        );
        assert_eq!(counters(&c), (1, 0));
    }

    #[test]
    fn a_deleted_video_takes_its_comments_and_ratings_along() {
        let (_dir, c) = catalog();
        let video = local_video(&c);
        let v = video.uuid;
        let (comment, _) = c
            .add_comment(comment_on(v, AccountRef::Local(1), "Bye", None), ours(v))
            .expect("comment");
        let like = "https://here.example/accounts/alice/likes/9";
        c.set_rating(&AccountRef::Local(1), v, Some(Rating::Like), like)
            .expect("rate");
        c.delete_video(video.id).expect("delete");
        assert!(c.comments_of_video(v).expect("read").is_empty());
        assert_eq!(c.comment_by_url(&comment.url).expect("read"), None);
        assert_eq!(c.rating(&AccountRef::Local(1), v).expect("read"), None);
        assert_eq!(c.rating_by_url(like).expect("read"), None);
    }

    #[test]
    fn comments_and_ratings_survive_reopening_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("c.redb");
        let v = Uuid::new_v4();
        let root = {
            let c = Catalog::open(&path).expect("catalog");
            c.set_rating(
                &AccountRef::Local(1),
                v,
                Some(Rating::Dislike),
                "https://x.example/d",
            )
            .expect("rate");
            c.add_comment(comment_on(v, AccountRef::Local(1), "kept", None), ours(v))
                .expect("thread")
                .0
        };
        let c = Catalog::open(&path).expect("reopen");
        assert_eq!(c.comment(root.id).expect("read"), Some(root.clone()));
        assert_eq!(
            c.rating(&AccountRef::Local(1), v)
                .expect("read")
                .map(|r| r.rating),
            Some(Rating::Dislike)
        );
        let (next, _) = c
            .add_comment(comment_on(v, AccountRef::Local(1), "later", None), ours(v))
            .expect("thread");
        assert!(next.id > root.id);
    }
}
