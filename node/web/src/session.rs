//! Signing in on the pages: a cookie holding an OAuth token pair issued by the catalog (the
//! same tokens the API accepts, so page scripts can call the API with the access token),
//! refreshed when the access token expires; a CSRF token for the pages' own forms.

use axum::Form;
use axum::extract::{FromRequestParts, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use peerbox_catalog::{TokenRefusal, User};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{WebError, WebResult};
use crate::page::{self, Meta};
use crate::{Shared, Web};

const COOKIE: &str = "peerbox_session";

/// Who is looking at a page.
#[derive(Clone, Default)]
pub struct Session {
    pub user: Option<User>,
    /// The bearer token of the signed-in user, for page scripts that call the API.
    pub access_token: Option<String>,
}

impl Session {
    /// Ties the pages' forms to this sign-in, so another site cannot post them.
    pub fn csrf(&self) -> String {
        let token = self.access_token.as_deref().unwrap_or("");
        hex::encode(Sha256::digest(format!("peerbox-csrf\n{token}")))[..32].to_string()
    }

    pub fn check_csrf(&self, sent: &str) -> WebResult<()> {
        if self.access_token.is_none() || sent != self.csrf() {
            return Err(WebError::Forbidden(
                "This form has expired; reload the page and try again.".into(),
            ));
        }
        Ok(())
    }

    /// The signed-in user, or the sign-in page that brings them back to `return_to`.
    pub fn require(&self, return_to: &str) -> WebResult<&User> {
        self.user.as_ref().ok_or_else(|| WebError::SignInRequired {
            return_to: return_to.to_string(),
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Session {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Session>()
            .cloned()
            .unwrap_or_default())
    }
}

fn cookie_tokens(headers: &HeaderMap) -> Option<(String, String)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .and_then(|(_, value)| value.split_once('.'))
        .map(|(a, r)| (a.to_string(), r.to_string()))
}

fn session_cookie(web: &Web, value: &str, max_age: i64) -> Option<HeaderValue> {
    let secure = if web.secure() { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .ok()
}

/// Resolves the cookie to a user for every page; an expired access token is traded for a
/// new pair, and a dead cookie is cleared.
pub async fn middleware(State(web): State<Shared>, mut req: Request, next: Next) -> Response {
    let mut session = Session::default();
    let mut set_cookie = None;
    if let Some((access, refresh)) = cookie_tokens(req.headers()) {
        match web.catalog().authenticate(&access) {
            Ok(Ok(user)) => {
                session = Session {
                    user: Some(user),
                    access_token: Some(access),
                };
            }
            Ok(Err(TokenRefusal::Expired)) => {
                let lifetimes = (
                    web.ctx.access_token_lifetime,
                    web.ctx.refresh_token_lifetime,
                );
                match web
                    .catalog()
                    .refresh_tokens(&refresh, lifetimes.0, lifetimes.1)
                {
                    Ok(Ok((user, issued))) => {
                        set_cookie = session_cookie(
                            &web,
                            &format!("{}.{}", issued.access_token, issued.refresh_token),
                            issued.refresh_token_expires_in,
                        );
                        session = Session {
                            user: Some(user),
                            access_token: Some(issued.access_token),
                        };
                    }
                    Ok(Err(_)) => set_cookie = session_cookie(&web, "", 0),
                    Err(e) => tracing::warn!("refreshing a page session failed: {e}"),
                }
            }
            Ok(Err(TokenRefusal::Unknown)) => set_cookie = session_cookie(&web, "", 0),
            Err(e) => tracing::warn!("reading a page session failed: {e}"),
        }
    }
    let signed_in = session.user.is_some();
    req.extensions_mut().insert(session);
    let mut resp = next.run(req).await;
    let headers = resp.headers_mut();
    if let Some(c) = set_cookie {
        headers.append(header::SET_COOKIE, c);
    }
    // Signed-in pages carry the user's token and their private data: never cache them.
    if signed_in && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, no-store"),
        );
    }
    resp
}

/// Only paths of this site, so the sign-in page cannot send people elsewhere.
fn local_path(redirect: Option<&str>) -> String {
    match redirect {
        Some(r) if r.starts_with('/') && !r.starts_with("//") && !r.contains('\\') => r.to_string(),
        _ => "/".to_string(),
    }
}

#[derive(Deserialize)]
pub struct LoginQuery {
    redirect: Option<String>,
}

fn login_form(
    web: &Web,
    session: &Session,
    redirect: &str,
    username: &str,
    error: Option<&str>,
) -> maud::Markup {
    let body = html! {
        section.narrow {
            h1 { "Sign in" }
            @if let Some(e) = error {
                p.error role="alert" { (e) }
            }
            form method="post" action="/login" {
                input type="hidden" name="redirect" value=(redirect);
                label for="username" { "Username" }
                input #username type="text" name="username" autocomplete="username" required value=(username);
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="current-password" required;
                button type="submit" { "Sign in" }
            }
        }
    };
    page::page(
        web,
        session,
        Meta {
            title: "Sign in".into(),
            ..Meta::default()
        },
        body,
    )
}

pub async fn login_page(
    State(web): State<Shared>,
    session: Session,
    Query(q): Query<LoginQuery>,
) -> Response {
    let redirect = local_path(q.redirect.as_deref());
    if session.user.is_some() {
        return Redirect::to(&redirect).into_response();
    }
    login_form(&web, &session, &redirect, "", None).into_response()
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    redirect: Option<String>,
}

pub async fn login(
    State(web): State<Shared>,
    session: Session,
    Form(form): Form<LoginForm>,
) -> WebResult {
    let redirect = local_path(form.redirect.as_deref());
    // PeerTube lets users sign in with their username in any case.
    let username = form.username.trim().to_lowercase();
    let checker = web.clone();
    let name = username.clone();
    let user = tokio::task::spawn_blocking(move || {
        checker.catalog().check_password(&name, &form.password)
    })
    .await
    .map_err(|e| WebError::Internal(e.to_string()))??;
    let Some(user) = user else {
        let page = login_form(
            &web,
            &session,
            &redirect,
            &form.username,
            Some("Incorrect username or password."),
        );
        return Ok((StatusCode::UNAUTHORIZED, page).into_response());
    };
    let issued = web.catalog().issue_tokens(
        user.id,
        web.ctx.access_token_lifetime,
        web.ctx.refresh_token_lifetime,
    )?;
    let mut resp = Redirect::to(&redirect).into_response();
    if let Some(c) = session_cookie(
        &web,
        &format!("{}.{}", issued.access_token, issued.refresh_token),
        issued.refresh_token_expires_in,
    ) {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(resp)
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

pub async fn logout(
    State(web): State<Shared>,
    session: Session,
    Form(form): Form<CsrfForm>,
) -> WebResult {
    session.check_csrf(&form.csrf)?;
    if let Some(token) = &session.access_token {
        web.catalog().revoke(token)?;
    }
    let mut resp = Redirect::to("/").into_response();
    if let Some(c) = session_cookie(&web, "", 0) {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_stay_on_this_site() {
        assert_eq!(local_path(Some("/videos/upload")), "/videos/upload");
        assert_eq!(local_path(Some("//evil.example/")), "/");
        assert_eq!(local_path(Some("https://evil.example/")), "/");
        assert_eq!(local_path(Some("/\\evil.example")), "/");
        assert_eq!(local_path(None), "/");
    }

    #[test]
    fn cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; peerbox_session=acc.ref; c=d"),
        );
        assert_eq!(cookie_tokens(&h), Some(("acc".into(), "ref".into())));
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("peerbox_session=junk"),
        );
        assert_eq!(cookie_tokens(&h), None);
    }
}

#[cfg(test)]
mod router_tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use chrono::Duration;
    use peerbox_catalog::{Catalog, NewUser, Role};
    use tower::ServiceExt;

    use crate::{WebContext, router};

    fn node() -> (tempfile::TempDir, Arc<Catalog>, axum::Router) {
        let dir = tempfile::tempdir().expect("temp dir");
        let catalog = Arc::new(Catalog::open(&dir.path().join("c.redb")).expect("catalog"));
        let app = router(WebContext {
            catalog: catalog.clone(),
            public_url: "http://video.example".into(),
            data_dir: dir.path().to_path_buf(),
            instance_name: "Test node".into(),
            instance_short_description: "For tests".into(),
            access_token_lifetime: Duration::hours(1),
            refresh_token_lifetime: Duration::days(14),
            tracker_urls: vec!["ws://video.example/tracker/socket".into()],
            stun_servers: Vec::new(),
            ota_config: dir.path().join("ota.toml"),
        });
        (dir, catalog, app)
    }

    async fn get(app: &axum::Router, cookie: &str) -> (StatusCode, Option<String>, String) {
        let req = Request::get("/")
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .expect("request");
        let resp = app.clone().oneshot(req).await.expect("response");
        let status = resp.status();
        let set_cookie = resp
            .headers()
            .get(header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .expect("body");
        (
            status,
            set_cookie,
            String::from_utf8_lossy(&body).into_owned(),
        )
    }

    #[tokio::test]
    async fn an_expired_page_session_is_refreshed_and_a_dead_one_cleared() {
        let (_dir, catalog, app) = node();
        let user = catalog
            .create_user(NewUser {
                username: "dana".into(),
                email: "dana@example.org".into(),
                password: "secret-pass".into(),
                role: Role::User,
                video_quota: -1,
                video_quota_daily: -1,
            })
            .expect("user");
        let expired = catalog
            .issue_tokens(user.id, Duration::seconds(-1), Duration::days(1))
            .expect("tokens");
        let cookie = format!(
            "peerbox_session={}.{}",
            expired.access_token, expired.refresh_token
        );
        let (status, set_cookie, body) = get(&app, &cookie).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("href=\"/a/dana\""), "still signed in: {body}");
        let renewed = set_cookie.expect("a new cookie");
        assert!(renewed.starts_with("peerbox_session=") && renewed.contains("HttpOnly"));
        assert!(!renewed.contains(&expired.access_token));
        // The old pair is spent; presenting it again signs out and clears the cookie.
        let (_, cleared, body) = get(&app, &cookie).await;
        assert!(body.contains("href=\"/login\""), "signed out");
        assert!(cleared.expect("cleared").contains("Max-Age=0"));
    }

    #[tokio::test]
    async fn unknown_paths_get_the_404_page_with_the_site_frame() {
        let (_dir, _catalog, app) = node();
        let req = Request::get("/nothing/here")
            .body(Body::empty())
            .expect("request");
        let resp = app.oneshot(req).await.expect("response");
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .expect("body");
        let body = String::from_utf8_lossy(&body);
        assert!(body.contains("<h1>Page not found</h1>"), "{body}");
        assert!(body.contains("Test node"), "the site's frame: {body}");
    }
}
