//! The transcoding workers against a real catalog: publishing, restart safety, shutdown in
//! the middle of a job, and uploads that cannot become videos.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use common::*;
use peerbox_catalog::{
    Catalog, JobState, NewUser, NewVideo, Privacy, Role, SourceFile, Video, VideoAttributes,
    VideoRef, VideoState,
};
use peerbox_hwaccel::BoardConfig;
use peerbox_media::{HLS_DIR, JOB_KIND, PREVIEWS_DIR, THUMBNAILS_DIR, WorkerOptions, messages};
use uuid::Uuid;

struct Node {
    dir: tempfile::TempDir,
    catalog: Arc<Catalog>,
    channel_id: u64,
}

impl Node {
    fn new() -> Node {
        let dir = tmp();
        let catalog = Catalog::open(&dir.path().join("catalog.redb")).expect("catalog");
        let user = catalog
            .create_user(NewUser {
                username: "uploader".into(),
                email: "uploader@example.org".into(),
                password: "long-enough-password".into(),
                role: Role::User,
                video_quota: -1,
                video_quota_daily: -1,
            })
            .expect("user");
        let channel_id = catalog
            .channels_of_account(user.account_id)
            .expect("channels")[0]
            .id;
        Node {
            dir,
            catalog: Arc::new(catalog),
            channel_id,
        }
    }

    fn data(&self) -> &Path {
        self.dir.path()
    }

    /// Stores an upload as the API does: the file under media/original-video-files, the
    /// video "to transcode" with its job.
    fn upload(&self, name: &str, write: impl FnOnce(&Path)) -> Video {
        let uuid = Uuid::new_v4();
        let ext = Path::new(name)
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()))
            .unwrap_or_default();
        let rel = format!("media/original-video-files/{uuid}{ext}");
        let path = self.data().join(&rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        write(&path);
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        self.catalog
            .create_video(
                NewVideo {
                    uuid,
                    attributes: VideoAttributes::new(name, self.channel_id, Privacy::Public),
                    source: SourceFile {
                        path: rel,
                        original_name: name.into(),
                        extension: ext,
                        size,
                        mime_type: "video/mp4".into(),
                        info_hash: None,
                    },
                },
                None,
            )
            .expect("video")
    }

    fn video(&self, v: &Video) -> Video {
        self.catalog
            .video(VideoRef::Id(v.id))
            .expect("read")
            .expect("video exists")
    }

    fn options(&self, board: &BoardConfig) -> WorkerOptions {
        let mut o = WorkerOptions::new(self.data(), board.clone());
        o.poll_interval = Duration::from_millis(100);
        o.retry_backoff = Duration::from_millis(200);
        o
    }

    fn hls_entries(&self) -> Vec<String> {
        files_in(&self.data().join(HLS_DIR))
    }

    /// Runs the workers until no job is pending or active.
    async fn run_until_idle(&self, options: WorkerOptions, limit: Duration) {
        let catalog = self.catalog.clone();
        let started = Instant::now();
        let done = async move {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let jobs = catalog.jobs().expect("jobs");
                if jobs
                    .iter()
                    .all(|j| matches!(j.state, JobState::Completed | JobState::Failed))
                {
                    return;
                }
                assert!(
                    started.elapsed() < limit,
                    "jobs not finished in {limit:?}: {jobs:?}"
                );
            }
        };
        peerbox_media::run_workers(self.catalog.clone(), options, done)
            .await
            .expect("workers");
    }
}

fn board_with_jobs(jobs: u32) -> BoardConfig {
    let mut b = board();
    b.transcoding.max_concurrent_jobs = jobs;
    b
}

fn small_clip(path: &Path) {
    Clip {
        width: 320,
        height: 180,
        fps: 30,
        secs: 5,
        video: "x264enc speed-preset=ultrafast bitrate=300 key-int-max=60",
        audio: Some("avenc_aac bitrate=96000"),
        mux: "mp4mux faststart=true",
    }
    .write(path);
}

fn assert_published(node: &Node, v: &Video) {
    let v = node.video(v);
    assert_eq!(v.state, VideoState::Published, "{:?}", v.error);
    let outputs = v.outputs.expect("outputs");
    assert!(v.duration >= 4, "duration {}", v.duration);
    let folder = node.data().join(HLS_DIR).join(v.uuid.to_string());
    assert!(folder.join(&outputs.hls.master).is_file());
    assert!(folder.join(&outputs.hls.segments_sha256).is_file());
    for f in &outputs.hls.files {
        assert_eq!(
            std::fs::metadata(folder.join(&f.fragmented))
                .expect("mp4")
                .len(),
            f.size
        );
        assert!(folder.join(&f.playlist).is_file());
    }
    let thumb = outputs.thumbnail.expect("thumbnail");
    let preview = outputs.preview.expect("preview");
    assert!(node.data().join(THUMBNAILS_DIR).join(&thumb).is_file());
    assert!(node.data().join(PREVIEWS_DIR).join(&preview).is_file());
    // Only the published files are there: no staging or muxer leftovers.
    let mut expected: Vec<String> = outputs
        .hls
        .files
        .iter()
        .flat_map(|f| [f.fragmented.clone(), f.playlist.clone()])
        .chain([
            outputs.hls.master.clone(),
            outputs.hls.segments_sha256.clone(),
        ])
        .collect();
    expected.sort();
    assert_eq!(files_in(&folder), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_workers_leftovers_are_cleaned_and_the_job_redone() {
    let node = Node::new();
    let video = node.upload("clip.mp4", small_clip);
    // A worker was killed mid-transcode: its job is active and a half-written staging
    // folder is on disk.
    let (job, _) = node
        .catalog
        .claim_job(JOB_KIND, Utc::now())
        .expect("claim")
        .expect("a job");
    node.catalog.set_job_progress(job.id, 40).expect("progress");
    let staging = node
        .data()
        .join(HLS_DIR)
        .join(format!(".staging-{}", video.uuid));
    std::fs::create_dir_all(&staging).expect("staging");
    std::fs::write(
        staging.join("half-1080-fragmented.mp4"),
        b"\0\0\0\x18ftypiso",
    )
    .expect("junk");
    assert_eq!(node.video(&video).state, VideoState::ToTranscode);

    node.run_until_idle(node.options(&board_with_jobs(1)), Duration::from_secs(120))
        .await;

    assert!(!staging.exists(), "the staging folder is gone");
    assert_published(&node, &video);
    assert_eq!(node.hls_entries(), vec![video.uuid.to_string()]);
    let job = &node.catalog.jobs().expect("jobs")[0];
    assert_eq!(job.state, JobState::Completed);
    assert_eq!(job.progress, Some(100));
    assert_eq!(job.attempts, 2, "the interrupted attempt counts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_mid_transcode_leaves_nothing_and_the_next_start_finishes() {
    let node = Node::new();
    // Long enough to be caught mid-way: 30 s at 640x360 into four renditions.
    let video = node.upload("longer.mp4", |p| {
        Clip {
            width: 640,
            height: 360,
            fps: 30,
            secs: 30,
            video: "x264enc speed-preset=ultrafast bitrate=3000 key-int-max=60",
            audio: Some("avenc_aac bitrate=96000"),
            mux: "mp4mux faststart=true",
        }
        .write(p)
    });
    let catalog = node.catalog.clone();
    let stop = async move {
        // Stop as soon as the job reports progress.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let job = &catalog.jobs().expect("jobs")[0];
            if job.progress.is_some_and(|p| p > 0) || Instant::now() > deadline {
                return;
            }
        }
    };
    peerbox_media::run_workers(
        node.catalog.clone(),
        node.options(&board_with_jobs(1)),
        stop,
    )
    .await
    .expect("workers");
    let job = &node.catalog.jobs().expect("jobs")[0];
    assert_eq!(job.state, JobState::Pending, "queued again");
    assert_eq!(node.video(&video).state, VideoState::ToTranscode);
    assert_eq!(
        node.hls_entries(),
        Vec::<String>::new(),
        "no partial output"
    );
    assert_eq!(
        files_in(&node.data().join(THUMBNAILS_DIR)),
        Vec::<String>::new()
    );

    node.run_until_idle(node.options(&board_with_jobs(1)), Duration::from_secs(240))
        .await;
    assert_published(&node, &video);
}

/// Writes the bytes of `source` cut to `fraction` of their length.
fn truncated_copy(source: &Path, fraction: f64) -> impl FnOnce(&Path) {
    let source = source.to_path_buf();
    move |p: &Path| {
        let bytes = std::fs::read(&source).expect("read");
        std::fs::write(p, &bytes[..(bytes.len() as f64 * fraction) as usize]).expect("write");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_that_are_not_videos_fail_with_a_message_and_leave_nothing() {
    let node = Node::new();
    let scratch = tmp();
    let good_fast: PathBuf = path(&scratch, "fast.mp4");
    small_clip(&good_fast);
    let good_slow: PathBuf = path(&scratch, "slow.mp4");
    Clip {
        width: 320,
        height: 180,
        fps: 30,
        secs: 3,
        video: "x264enc speed-preset=ultrafast key-int-max=60",
        audio: Some("avenc_aac"),
        mux: "mp4mux",
    }
    .write(&good_slow);

    let cases: Vec<(Video, &str)> = vec![
        // Index first, media cut: plays partly, then stops.
        (node.upload("cut.mp4", truncated_copy(&good_fast, 0.5)), messages::DAMAGED),
        // Index at the end, cut off with it.
        (node.upload("cut-index.mp4", truncated_copy(&good_slow, 0.5)), messages::DAMAGED),
        (
            node.upload("notes.mp4", |p| {
                std::fs::write(p, "This is my shopping list, not a video.\n".repeat(200))
                    .expect("write")
            }),
            messages::NOT_MEDIA,
        ),
        (
            node.upload("subtitles.mkv", |p| {
                let srt = p.with_extension("srt");
                std::fs::write(
                    &srt,
                    "1\n00:00:00,000 --> 00:00:02,000\nHello\n\n2\n00:00:02,000 --> 00:00:04,000\nWorld\n",
                )
                .expect("srt");
                launch(&format!(
                    "filesrc location={} ! subparse ! matroskamux ! filesink location={}",
                    srt.display(),
                    p.display()
                ));
                std::fs::remove_file(srt).expect("rm srt");
            }),
            messages::NO_STREAMS,
        ),
        (
            node.upload("wide.mkv", |p| {
                launch(&format!(
                    "videotestsrc num-buffers=2 ! video/x-raw,format=I420,width=100000,height=2,framerate=25/1 ! matroskamux ! filesink location={}",
                    p.display()
                ))
            }),
            "Resolution 100000x2 is not supported",
        ),
        (
            node.upload("silence.wav", |p| {
                launch(&format!(
                    "audiotestsrc num-buffers=0 ! wavenc ! filesink location={}",
                    p.display()
                ))
            }),
            messages::EMPTY,
        ),
        (
            node.upload("empty.mp4", |p| std::fs::write(p, b"").expect("write")),
            messages::EMPTY,
        ),
    ];

    node.run_until_idle(node.options(&board_with_jobs(2)), Duration::from_secs(120))
        .await;

    for (video, message) in &cases {
        let v = node.video(video);
        assert_eq!(
            v.state,
            VideoState::TranscodingFailed,
            "{}",
            v.attributes.name
        );
        let error = v.error.unwrap_or_default();
        assert!(
            error.starts_with(message),
            "{}: {error:?} should start with {message:?}",
            v.attributes.name
        );
        assert!(v.outputs.is_none());
    }
    for job in node.catalog.jobs().expect("jobs") {
        assert_eq!(job.state, JobState::Failed);
        assert_eq!(job.attempts, 1, "bad input is not retried");
    }
    assert_eq!(
        node.hls_entries(),
        Vec::<String>::new(),
        "nothing left in the HLS folder"
    );
    assert_eq!(
        files_in(&node.data().join(THUMBNAILS_DIR)),
        Vec::<String>::new()
    );
    assert_eq!(
        files_in(&node.data().join(PREVIEWS_DIR)),
        Vec::<String>::new()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_hour_silent_video_is_published() {
    let node = Node::new();
    // Ten hours without sound, made cheap: 32x18 pixels at one frame a second.
    let video = node.upload("night.mp4", |p| {
        launch(&format!(
            "videotestsrc num-buffers=36000 pattern=ball ! video/x-raw,width=32,height=18,framerate=1/1 ! x264enc speed-preset=ultrafast key-int-max=10 ! mp4mux ! filesink location={}",
            p.display()
        ))
    });
    node.run_until_idle(node.options(&board_with_jobs(1)), Duration::from_secs(240))
        .await;
    let v = node.video(&video);
    assert_eq!(v.state, VideoState::Published, "{:?}", v.error);
    assert_eq!(v.duration, 36000);
    let outputs = v.outputs.expect("outputs");
    assert_eq!(outputs.hls.files.len(), 1);
    let f = &outputs.hls.files[0];
    assert_eq!((f.resolution, f.width, f.height, f.fps), (18, 32, 18, 1));
    let folder = node.data().join(HLS_DIR).join(v.uuid.to_string());
    let playlist = std::fs::read_to_string(folder.join(&f.playlist)).expect("playlist");
    let (_, ranges) = playlist_ranges(&playlist);
    // About 4 s each (cut on keyframes the encoder places at 3 to 5 s), covering 10 hours.
    assert!(
        (7200..=12000).contains(&ranges.len()),
        "{} segments",
        ranges.len()
    );
    assert!(ranges.iter().all(|r| r.2 >= 2.0 && r.2 <= 5.0));
    let total: f64 = ranges.iter().map(|r| r.2).sum();
    assert!((total - 36000.0).abs() < 0.1, "{total}");
    let master = std::fs::read_to_string(folder.join(&outputs.hls.master)).expect("master");
    assert!(master.contains("CODECS=\"avc1."), "{master}");
    assert!(
        !master.contains("mp4a"),
        "no audio track is announced: {master}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_encoder_is_retried_with_backoff_then_fails_for_good() {
    let node = Node::new();
    let video = node.upload("clip.mp4", small_clip);
    let board = board_with_jobs(1);
    let mut options = node.options(&board);
    // Stand-in for a hardware encoder that passed its test encode but is not there when
    // the job runs (absent on the test machine): every attempt fails the same way.
    options.encoders = Some(peerbox_hwaccel::discover_with(&board, |spec, _| {
        if spec.element == "v4l2h264enc" {
            peerbox_hwaccel::Status::Works {
                test_encode: Duration::from_millis(1),
            }
        } else {
            peerbox_hwaccel::Status::Absent
        }
    }));
    let started = Instant::now();
    node.run_until_idle(options, Duration::from_secs(60)).await;
    let job = &node.catalog.jobs().expect("jobs")[0];
    assert_eq!(job.state, JobState::Failed);
    assert_eq!(job.attempts, 3, "three attempts");
    // Backoff: 200 ms before the second attempt, 800 ms before the third.
    assert!(started.elapsed() >= Duration::from_millis(1000));
    let v = node.video(&video);
    assert_eq!(v.state, VideoState::TranscodingFailed);
    assert!(v.error.unwrap_or_default().contains("v4l2h264enc"));
    assert_eq!(node.hls_entries(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_interrupted_at_every_attempt_is_not_retried_for_ever() {
    let node = Node::new();
    let video = node.upload("clip.mp4", small_clip);
    // Three starts, each killed mid-job (say the file makes the node run out of memory).
    for _ in 0..3 {
        node.catalog
            .claim_job(JOB_KIND, Utc::now())
            .expect("claim")
            .expect("job");
        node.catalog.requeue_active_jobs().expect("requeue");
    }
    node.run_until_idle(node.options(&board_with_jobs(1)), Duration::from_secs(60))
        .await;
    let v = node.video(&video);
    assert_eq!(v.state, VideoState::TranscodingFailed);
    assert!(
        v.error
            .unwrap_or_default()
            .starts_with("Transcoding was interrupted too many times")
    );
    assert_eq!(node.hls_entries(), Vec::<String>::new());
}
