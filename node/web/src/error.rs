//! Errors of the pages, shown to people as pages with the site's frame.

use axum::extract::{Request, State};
use axum::http::{StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use peerbox_catalog::CatalogError;

use crate::Shared;
use crate::page;
use crate::session::Session;

#[derive(Debug)]
pub enum WebError {
    NotFound,
    /// Signing in may help; the user comes back to `return_to` afterwards.
    SignInRequired {
        return_to: String,
    },
    Forbidden(String),
    BadRequest(String),
    Internal(String),
}

pub type WebResult<T = Response> = Result<T, WebError>;

impl From<CatalogError> for WebError {
    fn from(e: CatalogError) -> Self {
        WebError::Internal(e.to_string())
    }
}

/// Carried by an error response until `render_error_pages` turns it into a page.
#[derive(Clone, Debug)]
pub struct ErrorPage {
    pub status: StatusCode,
    pub title: &'static str,
    pub message: String,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, title, message) = match self {
            WebError::NotFound => (
                StatusCode::NOT_FOUND,
                "Page not found",
                "Nothing here: the link may be wrong, or what it named was removed.".to_string(),
            ),
            WebError::SignInRequired { return_to } => {
                return Redirect::to(&format!(
                    "/login?redirect={}",
                    form_urlencoded::byte_serialize(return_to.as_bytes()).collect::<String>()
                ))
                .into_response();
            }
            WebError::Forbidden(m) => (StatusCode::FORBIDDEN, "Not allowed", m),
            WebError::BadRequest(m) => (StatusCode::BAD_REQUEST, "Bad request", m),
            WebError::Internal(m) => {
                tracing::error!("web page failed: {m}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "The node could not answer; try again in a moment.".to_string(),
                )
            }
        };
        let mut resp = (status, message.clone()).into_response();
        resp.extensions_mut().insert(ErrorPage {
            status,
            title,
            message,
        });
        resp
    }
}

pub async fn fallback(uri: Uri) -> WebError {
    tracing::debug!("no page at {uri}");
    WebError::NotFound
}

/// Gives error responses the site's frame (header with the signed-in user, footer).
pub async fn render_error_pages(State(web): State<Shared>, req: Request, next: Next) -> Response {
    let session = req
        .extensions()
        .get::<Session>()
        .cloned()
        .unwrap_or_default();
    let resp = next.run(req).await;
    match resp.extensions().get::<ErrorPage>().cloned() {
        Some(e) => (e.status, page::error_page(&web, &session, &e)).into_response(),
        None => resp,
    }
}
