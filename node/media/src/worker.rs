//! The transcoding workers: claim `video-transcoding` jobs from the catalog, transcode into a
//! staging folder, publish the folder and images by rename, then record the outputs in one
//! catalog transaction. GStreamer and the catalog's blocking calls run on blocking threads.
//!
//! Crash safety: outputs are only ever renamed into place complete, and the catalog only
//! points at them afterwards. At start, staging folders left by a killed worker are removed
//! and jobs left active are queued again.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use peerbox_catalog::{Catalog, Job, TranscodedOutputs, Video};
use peerbox_hwaccel::{BoardConfig, Discovery};
use tokio::sync::{Notify, watch};
use uuid::Uuid;

use crate::error::{MediaError, Result, messages};
use crate::fsutil;
use crate::transcode::{self, Options, Transcoded};

/// PeerTube's job type for transcoding.
pub const JOB_KIND: &str = "video-transcoding";

/// Where things live under the data dir (PeerTube's `/static/...` layout).
pub const HLS_DIR: &str = "media/streaming-playlists/hls";
pub const THUMBNAILS_DIR: &str = "media/thumbnails";
pub const PREVIEWS_DIR: &str = "media/previews";
const STAGING_PREFIX: &str = ".staging-";

#[derive(Clone)]
pub struct WorkerOptions {
    pub data_dir: PathBuf,
    pub board: BoardConfig,
    /// Attempts before a transient failure becomes final.
    pub max_attempts: u32,
    /// Wait before the second attempt; each later one waits four times longer.
    pub retry_backoff: Duration,
    /// How often idle workers look for jobs (see also `wake`).
    pub poll_interval: Duration,
    /// A transcode whose position does not move for this long is failed (and retried).
    pub stall_timeout: Duration,
    pub probe_timeout: Duration,
    /// Notified by the API when it queues a job, so that idle workers start at once.
    pub wake: Option<Arc<Notify>>,
    /// While set (an administrator paused the queue), no new job is claimed.
    pub paused: Option<Arc<AtomicBool>>,
    /// Encoder ranking; discovered (with test encodes) at start when None.
    pub encoders: Option<Discovery>,
    /// Told of each video once it is published, for what follows publication (torrents).
    pub published: Option<tokio::sync::mpsc::UnboundedSender<Video>>,
}

impl WorkerOptions {
    pub fn new(data_dir: impl Into<PathBuf>, board: BoardConfig) -> WorkerOptions {
        WorkerOptions {
            data_dir: data_dir.into(),
            board,
            max_attempts: 3,
            retry_backoff: Duration::from_secs(30),
            poll_interval: Duration::from_secs(2),
            stall_timeout: Duration::from_secs(120),
            probe_timeout: Duration::from_secs(30),
            wake: None,
            paused: None,
            encoders: None,
            published: None,
        }
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| MediaError::Pipeline(format!("worker thread failed: {e}")))
}

/// Runs `board.transcoding.max_concurrent_jobs` workers until `shutdown` resolves, then
/// stops running transcodes (their jobs are queued again) and returns.
///
/// At start it removes leftover staging folders and re-queues jobs that were active when
/// the node stopped (`Catalog::requeue_active_jobs`), so callers need not.
pub async fn run_workers(
    catalog: Arc<Catalog>,
    options: WorkerOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let prep_catalog = catalog.clone();
    let prep_options = options.clone();
    let encoders = blocking(move || -> Result<Discovery> {
        crate::init()?;
        recover(&prep_catalog, &prep_options.data_dir)?;
        match prep_options.encoders {
            Some(d) => Ok(d),
            None => Ok(peerbox_hwaccel::discover(&prep_options.board)?),
        }
    })
    .await??;
    tracing::info!(
        board = %options.board.board.name,
        encoders = ?encoders.ranked(),
        workers = options.board.transcoding.max_concurrent_jobs,
        "media workers starting"
    );
    let options = Arc::new(WorkerOptions {
        encoders: Some(encoders),
        ..options
    });
    let cancel = Arc::new(AtomicBool::new(false));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    for n in 0..options.board.transcoding.max_concurrent_jobs {
        tasks.push(tokio::spawn(worker_loop(
            n,
            catalog.clone(),
            options.clone(),
            cancel.clone(),
            stop_rx.clone(),
        )));
    }
    shutdown.await;
    tracing::info!("media workers stopping");
    cancel.store(true, Ordering::Relaxed);
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    // Jobs stopped midway run again from the start next time.
    let c = catalog.clone();
    blocking(move || c.requeue_active_jobs()).await??;
    Ok(())
}

/// Start-up recovery: no staging folder survives, no job stays active.
pub fn recover(catalog: &Catalog, data_dir: &Path) -> Result<()> {
    let hls = data_dir.join(HLS_DIR);
    if let Ok(entries) = std::fs::read_dir(&hls) {
        for entry in entries.flatten() {
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(STAGING_PREFIX)
            {
                tracing::info!(path = %entry.path().display(), "removing an unfinished transcode");
                fsutil::remove_tree(&entry.path())?;
            }
        }
    }
    let requeued = catalog.requeue_active_jobs()?;
    if requeued > 0 {
        tracing::info!(
            requeued,
            "transcoding jobs interrupted by a stop will run again"
        );
    }
    Ok(())
}

async fn worker_loop(
    n: u32,
    catalog: Arc<Catalog>,
    options: Arc<WorkerOptions>,
    cancel: Arc<AtomicBool>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        let paused = options
            .paused
            .as_ref()
            .is_some_and(|p| p.load(Ordering::SeqCst));
        let c = catalog.clone();
        let claimed = match paused {
            true => Ok(Ok(None)),
            false => blocking(move || c.claim_job(JOB_KIND, Utc::now())).await,
        };
        match claimed {
            Ok(Ok(Some((job, video)))) => {
                tracing::info!(worker = n, job = job.id, video = %video.uuid, attempt = job.attempts, "transcoding job claimed");
                let (c, o, x) = (catalog.clone(), options.clone(), cancel.clone());
                let (job_id, uuid) = (job.id, video.uuid);
                match blocking(move || process(&c, &o, &x, job, video)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        tracing::error!(job = job_id, error = %e, "cannot record the end of a transcoding job")
                    }
                    // The transcode thread panicked: clean up and let the job be retried.
                    Err(e) => {
                        tracing::error!(job = job_id, error = %e, "transcoding thread failed");
                        let (c, o) = (catalog.clone(), options.clone());
                        let _ = blocking(move || {
                            let _ = fsutil::remove_tree(&staging_dir(&o.data_dir, &uuid));
                            let at = Utc::now() + chrono::Duration::seconds(60);
                            c.fail_job(job_id, "internal error while transcoding", Some(at))
                        })
                        .await;
                    }
                }
                continue;
            }
            Ok(Ok(None)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "cannot claim transcoding jobs"),
            Err(e) => tracing::error!(error = %e, "cannot claim transcoding jobs"),
        }
        let wake = options.wake.clone();
        tokio::select! {
            _ = tokio::time::sleep(options.poll_interval) => {}
            _ = async { match &wake { Some(w) => w.notified().await, None => std::future::pending().await } } => {}
            _ = stop.changed() => {}
        }
    }
}

fn staging_dir(data_dir: &Path, video: &Uuid) -> PathBuf {
    data_dir
        .join(HLS_DIR)
        .join(format!("{STAGING_PREFIX}{video}"))
}

/// One job, on a blocking thread: transcode, publish, record; or clean up and record why not.
fn process(
    catalog: &Catalog,
    options: &WorkerOptions,
    cancel: &AtomicBool,
    job: Job,
    video: Video,
) -> Result<()> {
    let staging = staging_dir(&options.data_dir, &video.uuid);
    // A file that kills the node every time must not be retried for ever.
    if job.attempts > options.max_attempts {
        fsutil::remove_tree(&staging)?;
        catalog.fail_job(
            job.id,
            "Transcoding was interrupted too many times (the server stopped during each attempt)",
            None,
        )?;
        return Ok(());
    }
    let outcome = transcode_job(catalog, options, cancel, &job, &video, &staging)
        .and_then(|t| publish(catalog, options, &job, &video, &staging, t));
    let Err(error) = outcome else {
        tracing::info!(job = job.id, video = %video.uuid, "video published");
        return Ok(());
    };
    fsutil::remove_tree(&staging)?;
    match &error {
        // Shutting down: the job stays active and is queued again.
        MediaError::Cancelled => {
            tracing::info!(job = job.id, "transcoding stopped by shutdown");
        }
        e if e.is_permanent() => {
            tracing::warn!(job = job.id, video = %video.uuid, error = %e, "video cannot be transcoded");
            catalog.fail_job(job.id, &e.to_string(), None)?;
        }
        e if job.attempts >= options.max_attempts => {
            tracing::error!(job = job.id, video = %video.uuid, error = %e, "transcoding failed for good");
            catalog.fail_job(job.id, &e.to_string(), None)?;
        }
        e => {
            let day = Duration::from_secs(86_400);
            let wait = options
                .retry_backoff
                .checked_mul(4u32.saturating_pow(job.attempts.saturating_sub(1)))
                .map_or(day, |w| w.min(day));
            tracing::warn!(job = job.id, error = %e, retry_in_s = wait.as_secs(), "transcoding failed, will retry");
            let at =
                Utc::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::days(1));
            catalog.fail_job(job.id, &e.to_string(), Some(at))?;
        }
    }
    Ok(())
}

fn transcode_job(
    catalog: &Catalog,
    options: &WorkerOptions,
    cancel: &AtomicBool,
    job: &Job,
    video: &Video,
    staging: &Path,
) -> Result<Transcoded> {
    let source = video
        .source
        .as_ref()
        .ok_or_else(|| MediaError::BadInput(messages::MISSING_SOURCE.into()))?;
    let source = options.data_dir.join(&source.path);
    fsutil::remove_tree(staging)?;
    fsutil::create_dir_all(staging)?;
    let encoders = options
        .encoders
        .as_ref()
        .ok_or_else(|| MediaError::Pipeline("encoders not discovered".into()))?;
    // Progress goes to the catalog at most once a second.
    let mut last_write = Instant::now() - Duration::from_secs(10);
    let mut progress = |percent: u8| {
        if last_write.elapsed() >= Duration::from_secs(1) {
            last_write = Instant::now();
            if let Err(e) = catalog.set_job_progress(job.id, percent) {
                tracing::warn!(error = %e, "cannot record transcoding progress");
            }
        }
    };
    transcode::transcode(
        &source,
        staging,
        Options {
            board: &options.board,
            encoders,
            cancel,
            progress: &mut progress,
            stall_timeout: options.stall_timeout,
            probe_timeout: options.probe_timeout,
        },
    )
}

/// Renames the images and the HLS folder into place, then records them in the catalog.
fn publish(
    catalog: &Catalog,
    options: &WorkerOptions,
    job: &Job,
    video: &Video,
    staging: &Path,
    t: Transcoded,
) -> Result<()> {
    let data = &options.data_dir;
    let mut moved = Vec::new();
    let mut image = |from: &Option<PathBuf>, dir: &str| -> Result<Option<String>> {
        let Some(from) = from else { return Ok(None) };
        let dir = data.join(dir);
        fsutil::create_dir_all(&dir)?;
        let name = format!("{}.jpg", Uuid::new_v4());
        let to = dir.join(&name);
        fsutil::rename(from, &to)?;
        fsutil::sync_dir(&dir)?;
        moved.push(to);
        Ok(Some(name))
    };
    let images = image(&t.thumbnail, THUMBNAILS_DIR)
        .and_then(|thumb| Ok((thumb, image(&t.preview, PREVIEWS_DIR)?)));
    let (thumbnail, preview) = match images {
        Ok(names) => names,
        Err(e) => {
            remove_all(&moved);
            return Err(e);
        }
    };
    let hls = data.join(HLS_DIR);
    let target = hls.join(video.uuid.to_string());
    let renamed = fsutil::remove_tree(&target)
        .and_then(|()| fsutil::rename(staging, &target))
        .and_then(|()| fsutil::sync_dir(&hls));
    if let Err(e) = renamed {
        remove_all(&moved);
        return Err(e);
    }
    let outputs = TranscodedOutputs {
        hls: t.hls,
        thumbnail,
        preview,
        duration: t.duration.round() as u64,
    };
    match catalog.complete_transcoding(job.id, outputs) {
        Ok(video) => {
            if let Some(published) = &options.published {
                // The receiver gone means the node is stopping; the start-up sweep catches up.
                let _ = published.send(video);
            }
            Ok(())
        }
        Err(e) => {
            // Nothing points at the files: take them back so that a retry starts clean.
            remove_all(&moved);
            let _ = fsutil::remove_tree(&target);
            Err(e.into())
        }
    }
}

fn remove_all(paths: &[PathBuf]) {
    for p in paths {
        let _ = fsutil::remove_file(p);
    }
}
