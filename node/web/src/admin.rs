//! Basic instance settings for administrators: the instance's name and descriptions, kept
//! as catalog settings (`instance_name` is the one the first-boot setup writes).

use axum::Form;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use peerbox_catalog::Role;
use serde::Deserialize;

use crate::error::{WebError, WebResult};
use crate::page::{self, Meta};
use crate::session::Session;
use crate::{Shared, Web};

pub const INSTANCE_NAME: &str = "instance_name";
pub const INSTANCE_SHORT_DESCRIPTION: &str = "instance_short_description";
/// Markdown shown at the top of the home page.
pub const INSTANCE_DESCRIPTION: &str = "instance_description";

fn require_admin(session: &Session) -> WebResult<&peerbox_catalog::User> {
    let user = session.require("/admin/settings")?;
    if user.role != Role::Administrator {
        return Err(WebError::Forbidden(
            "Only administrators can change the instance's settings.".into(),
        ));
    }
    Ok(user)
}

fn form(web: &Web, session: &Session, saved: bool) -> WebResult<Markup> {
    let description = web
        .catalog()
        .setting(INSTANCE_DESCRIPTION)?
        .unwrap_or_default();
    let body = html! {
        section.narrow {
            h1 { "Instance settings" }
            @if saved { p.notice role="status" { "Saved." } }
            form.settings method="post" action="/admin/settings" {
                input type="hidden" name="csrf" value=(session.csrf());
                label for="instance-name" { "Name" }
                input #instance-name type="text" name="name" required maxlength="120" value=(web.instance_name());
                label for="instance-short" { "Short description" }
                input #instance-short type="text" name="short_description" maxlength="250" value=(web.instance_short_description());
                label for="instance-description" { "Welcome text on the home page (markdown)" }
                textarea #instance-description name="description" rows="6" maxlength="10000" { (description) }
                button type="submit" { "Save" }
            }
        }
    };
    Ok(page::page(
        web,
        session,
        Meta {
            title: "Instance settings".into(),
            noindex: true,
            ..Meta::default()
        },
        body,
    ))
}

#[derive(Deserialize)]
pub struct SavedQuery {
    saved: Option<String>,
}

pub async fn settings_page(
    State(web): State<Shared>,
    session: Session,
    axum::extract::Query(q): axum::extract::Query<SavedQuery>,
) -> WebResult<Markup> {
    require_admin(&session)?;
    form(&web, &session, q.saved.is_some())
}

#[derive(Deserialize)]
pub struct SettingsForm {
    csrf: String,
    name: String,
    short_description: String,
    description: String,
}

pub async fn save_settings(
    State(web): State<Shared>,
    session: Session,
    Form(f): Form<SettingsForm>,
) -> WebResult<Response> {
    require_admin(&session)?;
    session.check_csrf(&f.csrf)?;
    let name = f.name.trim();
    let count = |s: &str| s.chars().count();
    if name.is_empty() || count(name) > 120 {
        return Err(WebError::BadRequest(
            "The name must have between 1 and 120 characters.".into(),
        ));
    }
    if count(&f.short_description) > 250 || count(&f.description) > 10_000 {
        return Err(WebError::BadRequest(
            "The descriptions are too long (250 and 10,000 characters at most).".into(),
        ));
    }
    let catalog = web.catalog();
    catalog.set_setting(INSTANCE_NAME, name)?;
    catalog.set_setting(INSTANCE_SHORT_DESCRIPTION, f.short_description.trim())?;
    catalog.set_setting(INSTANCE_DESCRIPTION, f.description.trim())?;
    Ok(Redirect::to("/admin/settings?saved=1").into_response())
}
