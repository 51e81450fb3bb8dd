//! `GET /api/v1/jobs/{state}`: the job queue, for administrators, shaped like PeerTube's.

use axum::Json;
use std::sync::atomic::Ordering;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use peerbox_catalog::{Job, JobState, VideoRef};
use serde_json::{Value, json};

use super::list::{QueryPairs, paginate};
use crate::SharedState;
use crate::auth::AdminUser;
use crate::error::{ApiError, ApiResult};
use crate::format::date;

fn state_name(job: &Job) -> &'static str {
    match job.state {
        JobState::Pending if job.run_after.is_some() => "delayed",
        JobState::Pending => "waiting",
        JobState::Active => "active",
        JobState::Completed => "completed",
        JobState::Failed => "failed",
    }
}

pub async fn list(
    State(state): State<SharedState>,
    _: AdminUser,
    Path(wanted): Path<String>,
    q: QueryPairs,
) -> ApiResult<Json<Value>> {
    const STATES: &[&str] = &[
        "active",
        "completed",
        "failed",
        "waiting",
        "delayed",
        "paused",
        "waiting-children",
        "prioritized",
    ];
    if !STATES.contains(&wanted.as_str()) {
        return Err(ApiError::invalid_param(
            "state",
            "Should have a valid job state",
        ));
    }
    let job_type = q.one("jobType");
    let mut jobs: Vec<Job> = state
        .catalog
        .jobs()?
        .into_iter()
        .filter(|j| state_name(j) == wanted && job_type.is_none_or(|t| t == j.kind))
        .collect();
    jobs.reverse();
    Ok(Json(paginate(jobs, &q, |j| {
        let uuid = state
            .catalog
            .video(VideoRef::Id(j.video_id))?
            .map(|v| v.uuid);
        Ok(json!({
            "id": j.id,
            "state": state_name(j),
            "type": j.kind,
            "data": { "videoUUID": uuid },
            "progress": j.progress,
            "error": j.error,
            "attempts": j.attempts,
            "createdAt": date(&j.created_at),
            "processedOn": date(&j.updated_at),
            "finishedOn": matches!(j.state, JobState::Completed | JobState::Failed).then(|| date(&j.updated_at)),
        }))
    })?))
}

/// `POST /api/v1/jobs/pause` and `/resume`: running jobs finish; no new one starts meanwhile.
pub async fn pause(State(state): State<SharedState>, _: AdminUser) -> StatusCode {
    state.jobs_paused.store(true, Ordering::SeqCst);
    StatusCode::NO_CONTENT
}

pub async fn resume(State(state): State<SharedState>, _: AdminUser) -> StatusCode {
    state.jobs_paused.store(false, Ordering::SeqCst);
    state.jobs_queued.notify_waiters();
    StatusCode::NO_CONTENT
}
