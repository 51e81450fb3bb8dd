//! API errors as RFC 7807 `application/problem+json`, shaped like PeerTube's.

use axum::http::{HeaderValue, StatusCode, header};
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
