//! API errors as RFC 7807 `application/problem+json`, shaped like PeerTube's.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub detail: String,
    /// PeerTube's machine-readable `code` (ServerErrorCode or OAuth error), when it has one.
    pub code: Option<&'static str>,
    /// Per-field messages of a validation failure.
    pub invalid_params: Option<serde_json::Value>,
    pub headers: Vec<(header::HeaderName, String)>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            detail: detail.into(),
            code: None,
            invalid_params: None,
            headers: Vec::new(),
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, detail)
    }

    pub fn conflict(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, detail)
    }

    pub fn insufficient_storage() -> ApiError {
        ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "Not enough free disk space on this node to store the video",
        )
    }

    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        tracing::error!("internal error: {e}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
    }

    /// A validation failure on one field, reported like express-validator does in PeerTube.
    pub fn invalid_param(field: &str, msg: impl Into<String>) -> ApiError {
        let msg = msg.into();
        let mut e = ApiError::bad_request(format!("Incorrect request parameters: {field}"));
        e.invalid_params =
            Some(json!({ field: { "msg": msg, "path": field, "location": "body" } }));
        e.detail = format!("Incorrect request parameters: {field} ({msg})");
        e
    }

    pub fn with_code(mut self, code: &'static str) -> ApiError {
        self.code = Some(code);
        self
    }

    pub fn with_header(mut self, name: header::HeaderName, value: String) -> ApiError {
        self.headers.push((name, value));
        self
    }
}

impl From<peerbox_catalog::CatalogError> for ApiError {
    fn from(e: peerbox_catalog::CatalogError) -> ApiError {
        use peerbox_catalog::CatalogError::*;
        match e {
            NotFound(what) => ApiError::not_found(format!("{what} not found")),
            NameTaken(name) => ApiError::conflict(format!("The name {name} is already taken")),
            Conflict(msg) => ApiError::conflict(msg),
            other => ApiError::internal(other),
        }
    }
}

impl From<std::io::Error> for ApiError {
    fn from(e: std::io::Error) -> ApiError {
        if e.kind() == std::io::ErrorKind::StorageFull {
            return ApiError::insufficient_storage();
        }
        ApiError::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("Error");
        let mut body = json!({
            "type": format!("https://docs.joinpeertube.org/api-rest-reference.html#section/Errors/{}", self.status.as_u16()),
            "title": title,
            "status": self.status.as_u16(),
            "detail": self.detail,
            "docs": "https://docs.joinpeertube.org/api-rest-reference.html",
            // Deprecated by PeerTube but still read by older clients.
            "error": self.detail,
        });
        if let Some(code) = self.code {
            body["code"] = json!(code);
        }
        if let Some(params) = self.invalid_params {
            body["invalid-params"] = params;
        }
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json; charset=utf-8"),
        );
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        }
        response
    }
}

/// Turns every other error response of the API (axum's own rejections of a malformed body,
/// path or query, a method not allowed) into problem+json, keeping its status and message.
pub async fn problems_only(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/problem+json"));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_string();
    let detail = if text.is_empty() {
        status.canonical_reason().unwrap_or("Error").to_string()
    } else {
        text
    };
    let mut problem = ApiError::new(status, detail);
    for name in [
        header::ALLOW,
        header::RETRY_AFTER,
        header::RANGE,
        header::LOCATION,
    ] {
        if let Some(v) = parts.headers.get(&name).and_then(|v| v.to_str().ok()) {
            problem = problem.with_header(name, v.to_string());
        }
    }
    problem.into_response()
}
