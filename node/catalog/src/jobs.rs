//! The persisted job queue. Jobs are written with the rows they work on; the media workers
//! claim them here, report progress, and record their outputs and the job's end in one
//! transaction.

use chrono::{DateTime, Utc};
use redb::ReadableDatabase;

use crate::error::{CatalogError, Result};
use crate::model::*;
use crate::store::*;

impl Catalog {
    pub fn jobs(&self) -> Result<Vec<Job>> {
        let txn = self.db.begin_read()?;
        all_rows(&txn.open_table(JOBS)?)
    }

    /// Takes the oldest pending job of `kind` that may run now, marks it active and counts
    /// the attempt. Returns it with its video.
    pub fn claim_job(&self, kind: &str, now: DateTime<Utc>) -> Result<Option<(Job, Video)>> {
        let txn = self.db.begin_write()?;
        let claimed = {
            let mut jobs = txn.open_table(JOBS)?;
            let next = all_rows::<u64, Job>(&jobs)?.into_iter().find(|j| {
                j.kind == kind
                    && j.state == JobState::Pending
                    && j.run_after.is_none_or(|t| t <= now)
            });
            match next {
                None => None,
                Some(mut job) => {
                    let video: Video = get_row(&txn.open_table(VIDEOS)?, job.video_id)?
                        .ok_or(CatalogError::NotFound("video"))?;
                    job.state = JobState::Active;
                    job.attempts += 1;
                    job.progress = Some(0);
                    job.updated_at = now;
                    put_row(&mut jobs, job.id, &job)?;
                    Some((job, video))
                }
            }
        };
        txn.commit()?;
        Ok(claimed)
    }

    pub fn set_job_progress(&self, job_id: u64, percent: u8) -> Result<()> {
        self.change_job(job_id, |j| j.progress = Some(percent.min(100)))
    }

    fn change_job(&self, job_id: u64, change: impl FnOnce(&mut Job)) -> Result<()> {
        let txn = self.db.begin_write()?;
        {
            let mut jobs = txn.open_table(JOBS)?;
            let mut job: Job = get_row(&jobs, job_id)?.ok_or(CatalogError::NotFound("job"))?;
            change(&mut job);
            job.updated_at = Utc::now();
            put_row(&mut jobs, job_id, &job)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Publishes a transcoded video: its outputs, its state and the job's end, together.
    pub fn complete_transcoding(&self, job_id: u64, outputs: TranscodedOutputs) -> Result<Video> {
        let txn = self.db.begin_write()?;
        let video = {
            let mut jobs = txn.open_table(JOBS)?;
            let mut job: Job = get_row(&jobs, job_id)?.ok_or(CatalogError::NotFound("job"))?;
            let mut videos = txn.open_table(VIDEOS)?;
            let mut video: Video =
                get_row(&videos, job.video_id)?.ok_or(CatalogError::NotFound("video"))?;
            let now = Utc::now();
            video.duration = outputs.duration;
            video.outputs = Some(outputs);
            video.state = VideoState::Published;
            video.error = None;
            video.updated_at = now;
            put_row(&mut videos, video.id, &video)?;
            job.state = JobState::Completed;
            job.progress = Some(100);
            job.updated_at = now;
            put_row(&mut jobs, job.id, &job)?;
            crate::video_changes::mark_video_change(&txn, video.uuid)?;
            video
        };
        txn.commit()?;
        self.video_changed();
        Ok(video)
    }

    /// Ends an attempt that failed: retried after `retry_at`, or, when that is None, failed
    /// for good with the video in state "transcoding failed" and `error` shown to its owner.
    pub fn fail_job(
        &self,
        job_id: u64,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let txn = self.db.begin_write()?;
        {
            let mut jobs = txn.open_table(JOBS)?;
            let mut job: Job = get_row(&jobs, job_id)?.ok_or(CatalogError::NotFound("job"))?;
            job.error = Some(error.to_string());
            job.updated_at = Utc::now();
            job.progress = None;
            match retry_at {
                Some(at) => {
                    job.state = JobState::Pending;
                    job.run_after = Some(at);
                }
                None => {
                    job.state = JobState::Failed;
                    let mut videos = txn.open_table(VIDEOS)?;
                    if let Some(mut video) = get_row::<u64, Video>(&videos, job.video_id)? {
                        video.state = VideoState::TranscodingFailed;
                        video.error = Some(error.to_string());
                        put_row(&mut videos, video.id, &video)?;
                    }
                }
            }
            put_row(&mut jobs, job.id, &job)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// At start: jobs that were active when the node stopped run again from the start.
    pub fn requeue_active_jobs(&self) -> Result<usize> {
        let txn = self.db.begin_write()?;
        let count = {
            let mut jobs = txn.open_table(JOBS)?;
            let active: Vec<Job> = all_rows::<u64, Job>(&jobs)?
                .into_iter()
                .filter(|j| j.state == JobState::Active)
                .collect();
            for mut job in active.iter().cloned() {
                job.state = JobState::Pending;
                job.progress = None;
                put_row(&mut jobs, job.id, &job)?;
            }
            active.len()
        };
        txn.commit()?;
        Ok(count)
    }

    /// Stores the infohash of one HLS file's torrent.
    pub fn set_hls_info_hash(
        &self,
        video_id: u64,
        fragmented: &str,
        info_hash: &str,
    ) -> Result<()> {
        self.update_video(video_id, |v| {
            if let Some(f) = v
                .outputs
                .as_mut()
                .and_then(|o| o.hls.files.iter_mut().find(|f| f.fragmented == fragmented))
            {
                f.info_hash = Some(info_hash.to_string());
            }
        })
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn claim_progress_fail_retry_complete() {
        let dir = tempfile::tempdir().unwrap();
        let c = Catalog::open(&dir.path().join("c.redb")).unwrap();
        let u = c
            .create_user(NewUser {
                username: "j".into(),
                email: "j@example.org".into(),
                password: "secret-pass".into(),
                role: Role::User,
                video_quota: -1,
                video_quota_daily: -1,
            })
            .unwrap();
        let channel_id = c.channels_of_account(u.account_id).unwrap()[0].id;
        let attributes = VideoAttributes::new("Job video", channel_id, Privacy::Public);
        let source = SourceFile {
            path: "media/original-video-files/j.mp4".into(),
            original_name: "j.mp4".into(),
            extension: ".mp4".into(),
            size: 1,
            mime_type: "video/mp4".into(),
            info_hash: None,
        };
        let v = c
            .create_video(
                NewVideo {
                    uuid: Uuid::new_v4(),
                    attributes,
                    source,
                },
                None,
            )
            .unwrap();
        let now = Utc::now();
        let (job, video) = c.claim_job("video-transcoding", now).unwrap().unwrap();
        assert_eq!(video.id, v.id);
        assert!(
            c.claim_job("video-transcoding", now).unwrap().is_none(),
            "an active job is not claimed twice"
        );
        c.set_job_progress(job.id, 40).unwrap();
        c.fail_job(job.id, "boom", Some(now + chrono::Duration::seconds(60)))
            .unwrap();
        assert!(
            c.claim_job("video-transcoding", now).unwrap().is_none(),
            "backoff is honoured"
        );
        let (job, _) = c
            .claim_job("video-transcoding", now + chrono::Duration::seconds(61))
            .unwrap()
            .unwrap();
        assert_eq!(job.attempts, 2);
        assert_eq!(c.requeue_active_jobs().unwrap(), 1);
        let (job, _) = c
            .claim_job("video-transcoding", now + chrono::Duration::seconds(61))
            .unwrap()
            .unwrap();
        let outputs = TranscodedOutputs {
            hls: HlsPlaylist {
                master: "m.m3u8".into(),
                segments_sha256: "s.json".into(),
                files: vec![],
            },
            thumbnail: None,
            preview: None,
            duration: 12,
        };
        let done = c.complete_transcoding(job.id, outputs.clone()).unwrap();
        assert_eq!(done.state, VideoState::Published);
        assert_eq!(done.outputs, Some(outputs));
        assert_eq!(c.jobs().unwrap()[0].state, JobState::Completed);
    }
}
