//! Videos and the queries over them.

use chrono::{Duration, Utc};
use redb::{ReadableDatabase, ReadableTable, WriteTransaction};

use crate::error::{CatalogError, Result};
use crate::ids::VideoRef;
use crate::model::*;
use crate::store::*;

pub(crate) fn remove_video_rows(txn: &WriteTransaction, video: &Video) -> Result<()> {
    crate::video_changes::mark_video_change(txn, video.uuid)?;
    crate::comments::forget_interactions(txn, video.uuid)?;
    txn.open_table(VIDEOS)?.remove(video.id)?;
    txn.open_table(VIDEOS_BY_UUID)?
        .remove(video.uuid.as_u128())?;
    let mut jobs = txn.open_table(JOBS)?;
    let ids: Vec<u64> = all_rows::<u64, Job>(&jobs)?
        .into_iter()
        .filter(|j| j.video_id == video.id)
        .map(|j| j.id)
        .collect();
    for id in ids {
        jobs.remove(id)?;
    }
    Ok(())
}

impl Catalog {
    /// Records a freshly uploaded video, in state "to transcode", together with its
    /// transcoding job and the completion of the upload session that brought it (if any): one
    /// transaction, so a crash leaves either all of them or none.
    pub fn create_video(&self, new: NewVideo, finished_upload: Option<&str>) -> Result<Video> {
        let txn = self.db.begin_write()?;
        let video = {
            let mut by_uuid = txn.open_table(VIDEOS_BY_UUID)?;
            if by_uuid.get(new.uuid.as_u128())?.is_some() {
                return Err(CatalogError::Conflict(format!(
                    "video {} exists already",
                    new.uuid
                )));
            }
            let now = Utc::now();
            let video = Video {
                id: next_id(&txn, "video_id")?,
                uuid: new.uuid,
                attributes: new.attributes,
                state: VideoState::ToTranscode,
                source: Some(new.source),
                outputs: None,
                error: None,
                duration: 0,
                views: 0,
                likes: 0,
                dislikes: 0,
                created_at: now,
                updated_at: now,
                published_at: now,
            };
            by_uuid.insert(video.uuid.as_u128(), video.id)?;
            put_row(&mut txn.open_table(VIDEOS)?, video.id, &video)?;
            let job = Job {
                id: next_id(&txn, "job_id")?,
                kind: "video-transcoding".into(),
                video_id: video.id,
                state: JobState::Pending,
                attempts: 0,
                progress: None,
                error: None,
                created_at: now,
                updated_at: now,
                run_after: None,
            };
            put_row(&mut txn.open_table(JOBS)?, job.id, &job)?;
            if let Some(upload_id) = finished_upload {
                let mut uploads = txn.open_table(UPLOADS)?;
                let mut upload: Upload =
                    get_row(&uploads, upload_id)?.ok_or(CatalogError::NotFound("upload"))?;
                upload.video_id = Some(video.id);
                upload.last_activity = now;
                put_row(&mut uploads, upload_id, &upload)?;
            }
            video
        };
        txn.commit()?;
        Ok(video)
    }

    pub fn video(&self, r: VideoRef) -> Result<Option<Video>> {
        let txn = self.db.begin_read()?;
        let id = match r {
            VideoRef::Id(id) => id,
            VideoRef::Uuid(u) => match txn.open_table(VIDEOS_BY_UUID)?.get(u.as_u128())? {
                Some(id) => id.value(),
                None => return Ok(None),
            },
        };
        get_row(&txn.open_table(VIDEOS)?, id)
    }

    /// Every video, newest first. A node holds thousands of videos at most, so callers
    /// filter and page this list in memory.
    pub fn videos(&self) -> Result<Vec<Video>> {
        let txn = self.db.begin_read()?;
        let mut videos: Vec<Video> = all_rows(&txn.open_table(VIDEOS)?)?;
        videos.reverse();
        Ok(videos)
    }

    pub fn update_video(&self, id: u64, change: impl FnOnce(&mut Video)) -> Result<Video> {
        let txn = self.db.begin_write()?;
        let video = {
            let mut videos = txn.open_table(VIDEOS)?;
            let mut video: Video = get_row(&videos, id)?.ok_or(CatalogError::NotFound("video"))?;
            change(&mut video);
            video.updated_at = Utc::now();
            put_row(&mut videos, id, &video)?;
            video
        };
        crate::video_changes::mark_video_change(&txn, video.uuid)?;
        txn.commit()?;
        self.video_changed();
        Ok(video)
    }

    /// Counts one view (it does not change when the video was last updated).
    pub fn count_view(&self, id: u64) -> Result<u64> {
        let txn = self.db.begin_write()?;
        let views = {
            let mut videos = txn.open_table(VIDEOS)?;
            let mut video: Video = get_row(&videos, id)?.ok_or(CatalogError::NotFound("video"))?;
            video.views += 1;
            put_row(&mut videos, id, &video)?;
            video.views
        };
        txn.commit()?;
        Ok(views)
    }

    /// Removes a video and its jobs; the caller removes its files afterwards.
    pub fn delete_video(&self, id: u64) -> Result<Video> {
        let txn = self.db.begin_write()?;
        let video = {
            let video: Video =
                get_row(&txn.open_table(VIDEOS)?, id)?.ok_or(CatalogError::NotFound("video"))?;
            remove_video_rows(&txn, &video)?;
            video
        };
        txn.commit()?;
        self.video_changed();
        Ok(video)
    }

    /// Bytes a user's videos take, counted like PeerTube: the size of each uploaded source;
    /// "daily" counts those uploaded in the last 24 hours.
    pub fn quota_used(&self, user: &User) -> Result<QuotaUsed> {
        let channels: Vec<u64> = self
            .channels_of_account(user.account_id)?
            .iter()
            .map(|c| c.id)
            .collect();
        let day_ago = Utc::now() - Duration::hours(24);
        let mut used = QuotaUsed::default();
        for v in self
            .videos()?
            .iter()
            .filter(|v| channels.contains(&v.attributes.channel_id))
        {
            let size = v.source.as_ref().map_or(0, |s| s.size);
            used.total += size;
            if v.created_at > day_ago {
                used.daily += size;
            }
        }
        Ok(used)
    }

    pub fn stats(&self) -> Result<Stats> {
        let videos = self.videos()?;
        Ok(Stats {
            users: self.users()?.len() as u64,
            local_videos: videos.len() as u64,
            local_video_views: videos.iter().map(|v| v.views).sum(),
            local_channels: self.channels()?.len() as u64,
        })
    }

    /// Every file path (relative to the data dir) that a video of the catalog owns; used to
    /// sweep files left behind by a crash.
    pub fn referenced_sources(&self) -> Result<Vec<String>> {
        Ok(self
            .videos()?
            .into_iter()
            .filter_map(|v| v.source.map(|s| s.path))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn attrs(channel_id: u64) -> VideoAttributes {
        VideoAttributes::new("A video", channel_id, Privacy::Public)
    }

    #[test]
    fn video_and_job_are_created_together_and_count_in_quota() {
        let dir = tempfile::tempdir().unwrap();
        let c = Catalog::open(&dir.path().join("c.redb")).unwrap();
        let u = c
            .create_user(NewUser {
                username: "v".into(),
                email: "v@example.org".into(),
                password: "secret-pass".into(),
                role: Role::User,
                video_quota: -1,
                video_quota_daily: -1,
            })
            .unwrap();
        let channel = c.channels_of_account(u.account_id).unwrap()[0].id;
        let uuid = Uuid::new_v4();
        let source = SourceFile {
            path: "media/original-video-files/x.mp4".into(),
            original_name: "x.mp4".into(),
            extension: ".mp4".into(),
            size: 1234,
            mime_type: "video/mp4".into(),
            info_hash: None,
        };
        let v = c
            .create_video(
                NewVideo {
                    uuid,
                    attributes: attrs(channel),
                    source,
                },
                None,
            )
            .unwrap();
        assert_eq!(v.state, VideoState::ToTranscode);
        assert_eq!(c.video(VideoRef::Uuid(uuid)).unwrap().unwrap().id, v.id);
        assert_eq!(c.jobs().unwrap().len(), 1);
        assert_eq!(
            c.quota_used(&u).unwrap(),
            QuotaUsed {
                total: 1234,
                daily: 1234
            }
        );
        c.delete_video(v.id).unwrap();
        assert!(c.jobs().unwrap().is_empty());
        assert!(c.video(VideoRef::Id(v.id)).unwrap().is_none());
    }
}
