//! `/admin/updates`: the over-the-air update status for administrators (running and waiting
//! versions, last result with the failed trial's log, progress) and the actions: check the
//! feed, upload a bundle, restart into a waiting update.
//!
//! The status is read here with the ota library (read-only); the actions go through the REST
//! API (`/api/v1/admin/ota/…`), which hands them to the root updater, so the page's script
//! (`updates.js`) only calls the API and polls it for progress.

use std::path::Path;

use axum::extract::State;
use maud::{Markup, html};
use peerbox_catalog::Role;
use peerbox_ota::state::OutcomeKind;
use peerbox_ota::{Ota, OtaConfig, Status};

use crate::Shared;
use crate::error::{WebError, WebResult};
use crate::page::{self, Meta};
use crate::session::Session;

enum Found {
    /// No updater on this system (a laptop, a container).
    Unavailable(String),
    Status(Box<Status>),
    Error(String),
}

fn read(config: &Path) -> Found {
    if !config.exists() {
        return Found::Unavailable(format!(
            "Updates are not available on this system: it has no updater configuration ({}).",
            config.display()
        ));
    }
    let status = OtaConfig::load(config)
        .and_then(Ota::new)
        .and_then(|ota| ota.status());
    match status {
        Ok(s) => Found::Status(Box::new(s)),
        Err(e) => Found::Error(format!("The updater cannot be read: {e}")),
    }
}

fn pending_label(state: &str) -> &'static str {
    match state {
        "reboot-required" => "installed, waiting for a restart",
        "installing" => "being installed",
        "rebooting" => "restarting into it",
        "trial" => "on trial: kept once the node stays healthy",
        "rolling-back" => "failed its trial: going back to the previous version",
        _ => "in progress",
    }
}

fn result_label(kind: OutcomeKind) -> &'static str {
    match kind {
        OutcomeKind::Success => "Updated",
        OutcomeKind::Refused => "Refused",
        OutcomeKind::Failed => "Failed",
        OutcomeKind::Interrupted => "Interrupted",
        OutcomeKind::RolledBack => "Rolled back",
    }
}

fn when(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

fn status_markup(s: &Status) -> Markup {
    let progress = s.progress.as_ref();
    let percent = progress
        .and_then(|p| (p.done * 100).checked_div(p.total))
        .unwrap_or(0);
    let waiting_reboot = s
        .pending
        .as_ref()
        .is_some_and(|p| p.state == "reboot-required");
    html! {
        dl.update-status {
            dt { "Running version" }
            dd #ota-current { (s.current_version) @if s.trial { " (trial boot)" } }
            dt { "Waiting update" }
            dd #ota-pending {
                @match &s.pending {
                    Some(p) => { (p.version) ": " (pending_label(p.state)) }
                    None => "None",
                }
            }
            dt { "Last result" }
            dd #ota-last {
                @match &s.last_result {
                    Some(o) => {
                        strong { (result_label(o.result)) }
                        @if let Some(v) = &o.version { " (" (v) ")" }
                        ": " (o.message) " · " (when(o.at))
                    }
                    None => "No update yet",
                }
            }
            @if let Some(m) = &s.minimum_version {
                dt { "Oldest version allowed" }
                dd { (m) }
            }
        }
        @if let Some(e) = &s.error {
            p.error role="alert" { "The boot loader's state cannot be read: " (e) }
        }
        @if let Some(log) = &s.last_log {
            details open {
                summary { "Log of the failed trial boot" }
                pre #ota-log { (log) }
            }
        }
        div #ota-progress hidden[progress.is_none()] {
            label for="ota-progress-bar" #ota-progress-label {
                @if let Some(p) = progress { (stage_label(p)) }
            }
            " "
            progress #ota-progress-bar max="100" value=(percent) { (percent) " %" }
        }
        p #ota-message role="status" aria-live="polite" {}
        p {
            button #ota-check type="button" { "Check for updates" }
            " "
            button #ota-reboot type="button" hidden[!waiting_reboot] { "Restart to finish the update" }
        }
        form #ota-upload {
            label for="ota-bundle" { "Install an update bundle from this computer (.pbx)" }
            input #ota-bundle type="file" name="bundle" accept=".pbx" required;
            button type="submit" { "Upload and install" }
            progress #ota-upload-bar max="100" value="0" hidden aria-label="Upload progress" { "0 %" }
        }
        noscript { p.notice { "The buttons need JavaScript; the status above is current as of loading this page." } }
    }
}

fn stage_label(p: &peerbox_ota::Progress) -> String {
    let stage = match p.stage {
        peerbox_ota::Stage::Verifying => "Checking",
        peerbox_ota::Stage::Downloading => "Downloading",
        peerbox_ota::Stage::Writing => "Writing",
        peerbox_ota::Stage::Done => "Installed",
    };
    match &p.version {
        Some(v) => format!("{stage} {v}"),
        None => format!("{stage} the update"),
    }
}

pub async fn page(State(web): State<Shared>, session: Session) -> WebResult<Markup> {
    let user = session.require("/admin/updates")?;
    if user.role != Role::Administrator {
        return Err(WebError::Forbidden(
            "Only administrators can update this node.".into(),
        ));
    }
    let config = web.ctx.ota_config.clone();
    let found = tokio::task::spawn_blocking(move || read(&config))
        .await
        .map_err(|e| WebError::Internal(e.to_string()))?;
    let body = html! {
        section.narrow #updates data-status-url="/api/v1/admin/ota"
            data-token=(session.access_token.as_deref().unwrap_or("")) {
            h1 { "Updates" }
            @match &found {
                Found::Unavailable(why) => p.notice role="status" { (why) },
                Found::Error(why) => p.error role="alert" { (why) },
                Found::Status(s) => (status_markup(s)),
            }
        }
    };
    Ok(page::page(
        &web,
        &session,
        Meta {
            title: "Updates".into(),
            noindex: true,
            scripts: match found {
                Found::Status(_) => vec!["updates.js"],
                _ => Vec::new(),
            },
            ..Meta::default()
        },
        body,
    ))
}
