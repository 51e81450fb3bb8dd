//! First-boot setup of an appliance: until someone proves they hold the box (the claim code
//! printed on its serial console and written to the card's first partition), the node answers only
//! the setup page, the setup API and the health check. Claiming sets the administrator's
//! password and the instance's name.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::SharedState;
use crate::error::{ApiError, ApiResult};
use crate::validate::{check_len, check_password};

/// Wrong codes allowed per address and window. Limiting per address, not globally, keeps a
/// guesser on the network from locking the owner out.
const MAX_FAILURES: usize = 5;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct SetupGate {
    /// The claim code, while the box waits to be claimed.
    code: Option<String>,
    claimed: AtomicBool,
    failures: Mutex<HashMap<IpAddr, Vec<Instant>>>,
}

impl SetupGate {
    pub fn waiting(code: String) -> SetupGate {
        SetupGate {
            code: Some(code),
            ..Default::default()
        }
    }

    pub fn is_pending(&self) -> bool {
        self.code.is_some() && !self.claimed.load(Ordering::SeqCst)
    }

    fn code_matches(&self, given: &str) -> bool {
        // Compare digests so that the time taken says nothing about the code.
        let digest = |s: &str| Sha256::digest(normalize_code(s).as_bytes());
        self.code
            .as_deref()
            .is_some_and(|c| digest(c) == digest(given))
    }

    /// Seconds to wait before this address may try again, if it has failed too often.
    fn retry_after(&self, ip: IpAddr) -> Option<u64> {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let recent = failures.entry(ip).or_default();
        recent.retain(|t| t.elapsed() < FAILURE_WINDOW);
        (recent.len() >= MAX_FAILURES)
            .then(|| (FAILURE_WINDOW - recent[0].elapsed()).as_secs().max(1))
    }

    fn record_failure(&self, ip: IpAddr) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(ip)
            .or_default()
            .push(Instant::now());
    }
}

/// Claim codes are Crockford base32 as people type them: case, dashes and spaces do not
/// matter, and O, I and L read as 0, 1 and 1.
fn normalize_code(code: &str) -> String {
    code.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect()
}

const OPEN_PATHS: &[&str] = &[
    "/setup",
    "/api/v1/setup/status",
    "/api/v1/setup/claim",
    "/api/v1/health",
];

/// Lets only the setup routes through while the box is unclaimed.
pub async fn gate(State(state): State<SharedState>, req: Request, next: Next) -> Response {
    if !state.setup.is_pending() || OPEN_PATHS.contains(&req.uri().path()) {
        return next.run(req).await;
    }
    if req.uri().path() == "/" {
        return Redirect::to("/setup").into_response();
    }
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "This Peerbox is not set up yet: open /setup to claim it",
    )
    .into_response()
}

pub async fn status(State(state): State<SharedState>) -> Json<Value> {
    Json(json!({ "claimed": !state.setup.is_pending() }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimRequest {
    claim_code: String,
    instance_name: String,
    admin_password: String,
}

pub async fn claim(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(req): Json<ClaimRequest>,
) -> ApiResult<Json<Value>> {
    let gate = &state.setup;
    if !gate.is_pending() {
        return Err(ApiError::conflict("This Peerbox is already set up"));
    }
    if let Some(wait) = gate.retry_after(peer.ip()) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many wrong claim codes; wait before trying again",
        )
        .with_header(header::RETRY_AFTER, wait.to_string()));
    }
    if !gate.code_matches(&req.claim_code) {
        gate.record_failure(peer.ip());
        return Err(ApiError::forbidden(
            "Wrong claim code: it is printed on the serial console and written in claim-code.txt on the card's first partition (PEERBOX)",
        ));
    }
    let name = req.instance_name.trim();
    check_len("instanceName", name, 1, 120)?;
    check_password(&req.admin_password)?;
    state
        .catalog
        .claim_instance("admin", &req.admin_password, name)?;
    gate.claimed.store(true, Ordering::SeqCst);
    tracing::info!("instance claimed as {name:?}");
    // A used code is no secret worth keeping; the appliance's first-boot script also
    // removes the copy on the card when it finds this file gone.
    let code_file = &state.settings.setup.claim_code_file;
    if let Err(e) = std::fs::remove_file(code_file) {
        tracing::warn!("claim code file {code_file} not removed: {e}");
    }
    Ok(Json(json!({ "claimed": true, "adminUsername": "admin" })))
}

pub async fn page() -> Html<&'static str> {
    Html(include_str!("setup.html"))
}

/// `GET /api/v1/health`: 200 while the catalog answers.
pub async fn health(State(state): State<SharedState>) -> Response {
    match state.catalog.schema_version() {
        Ok(version) => Json(json!({
            "status": "ok",
            "catalogSchemaVersion": version,
            "setupPending": state.setup.is_pending(),
            "version": env!("CARGO_PKG_VERSION"),
        }))
        .into_response(),
        Err(e) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("catalog unavailable: {e}"),
        )
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_read_as_people_type_them() {
        let gate = SetupGate::waiting("KX7P-29QD-01LO".into());
        assert!(gate.code_matches(" kx7p 29qd ol1o "));
        assert!(gate.code_matches("KX7P29QDO1L0"));
        assert!(!gate.code_matches("KX7P-29QD-01L"));
        assert!(!gate.code_matches(""));
    }
}
