//! Searches that name something on another server, as PeerTube's search resolves them: a
//! video's URL is fetched from its origin and stored, a channel's handle or URL is resolved
//! (WebFinger, then the actor) and stored. The API asks through its `RemoteLookup` hook, so
//! that it need not know federation; it decides who may search remotely.

use std::sync::{Arc, Weak};

use peerbox_api::{LookupFuture, RemoteLookup};
use peerbox_catalog::{RemoteActorKind, VideoRef};

use crate::Federation;
use crate::video_object::parse_video_object;

/// The hook the API calls. It holds the federation weakly: the API's state outlives no
/// federation, and holding it strongly would make a cycle.
struct Lookup(Weak<Federation>);

/// The hook to give the API.
pub(crate) fn lookup(fed: &Arc<Federation>) -> Arc<dyn RemoteLookup> {
    Arc::new(Lookup(Arc::downgrade(fed)))
}

impl Lookup {
    fn federation(&self) -> Result<Arc<Federation>, String> {
        self.0
            .upgrade()
            .ok_or_else(|| "federation has stopped".into())
    }
}

impl RemoteLookup for Lookup {
    fn video<'a>(&'a self, url: &'a str) -> LookupFuture<'a> {
        Box::pin(async move { self.federation()?.search_video(url).await })
    }

    fn channel<'a>(&'a self, handle_or_url: &'a str) -> LookupFuture<'a> {
        Box::pin(async move {
            let fed = self.federation()?;
            let url = fed.search_channel(handle_or_url).await?;
            // As PeerTube, the channel's videos follow in the background: the search
            // answers with the channel at once.
            let importer = fed.clone();
            let channel = url.clone();
            tokio::spawn(async move {
                let actor = match importer.remote_actor(&channel, false).await {
                    Ok(actor) => actor,
                    Err(e) => return tracing::debug!("{channel}: {e}"),
                };
                match importer.import_outbox(&actor).await {
                    Ok(n) => {
                        tracing::info!(%channel, videos = n, "imported a searched channel's videos")
                    }
                    Err(e) => {
                        tracing::info!(%channel, "a searched channel's videos not imported: {e}")
                    }
                }
            });
            Ok(url)
        })
    }

    fn viewed(&self, video_url: &str) {
        let sent = self.federation().and_then(|fed| fed.send_view(video_url));
        if let Err(e) = sent {
            tracing::debug!(video = %video_url, "view not sent: {e}");
        }
    }
}

/// `scheme://host` and the path of an http(s) URL (query and fragment dropped).
fn split_url(url: &str) -> Option<(&str, &str)> {
    let scheme_end = url.find("://")? + "://".len();
    let path_start = url[scheme_end..]
        .find('/')
        .map_or(url.len(), |i| scheme_end + i);
    let path = url[path_start..]
        .split(['?', '#'])
        .next()
        .unwrap_or_default();
    Some((&url[..path_start], path))
}

/// A watch page URL as the video's ActivityPub id: PeerTube's short `/w/{shortUUID}` pages
/// are not ActivityPub documents, `/videos/watch/{uuid}` is.
fn video_id_url(url: &str) -> Option<String> {
    let (origin, path) = split_url(url)?;
    let id = path
        .strip_prefix("/w/")
        .or_else(|| path.strip_prefix("/videos/watch/"))
        .map(|id| id.trim_end_matches('/'));
    match id.and_then(VideoRef::parse) {
        Some(VideoRef::Uuid(uuid)) => Some(format!("{origin}/videos/watch/{uuid}")),
        // Not a watch page: the URL may still be a Video object's id.
        _ => Some(url.to_string()),
    }
}

/// A channel page URL as the channel's actor id: `/c/{name}` (and its tabs) is the page of
/// `/video-channels/{name}` on PeerTube and here.
fn channel_id_url(url: &str) -> String {
    let short = split_url(url).and_then(|(origin, path)| {
        let rest = path.strip_prefix("/c/")?;
        let name = rest.split('/').next().filter(|n| !n.is_empty())?;
        Some(format!("{origin}/video-channels/{name}"))
    });
    short.unwrap_or_else(|| url.to_string())
}

fn is_url(s: &str) -> bool {
    s.starts_with("https://") || s.starts_with("http://")
}

impl Federation {
    /// Fetches the video a URL names from its origin and stores it; its ActivityPub id.
    async fn search_video(&self, url: &str) -> Result<String, String> {
        let id = video_id_url(url).filter(|u| crate::activities::is_url(u));
        let id = id.ok_or_else(|| format!("{url:?} is not a video URL"))?;
        if self.is_local_url(&id) {
            return Err(format!("{id} is on this node"));
        }
        if self.is_blocked(&id) {
            return Err(format!("the server of {id} is blocked"));
        }
        let object = self
            .client
            .fetch_object(&id, Some(&self.instance_signer))
            .await
            .map_err(|e| e.to_string())?;
        let video = parse_video_object(&object, chrono::Utc::now()).map_err(|e| e.to_string())?;
        if let Some(owner) = [&video.channel_url, &video.account_url]
            .into_iter()
            .find(|owner| self.is_blocked(owner))
        {
            return Err(format!("{owner} is blocked"));
        }
        self.import_video_object(&object).await?;
        Ok(video.url)
    }

    /// Resolves `name@host` (a leading `@` allowed) or a channel URL to a remote channel,
    /// fetching and storing it; its actor URL.
    async fn search_channel(&self, handle_or_url: &str) -> Result<String, String> {
        let text = handle_or_url.trim();
        let target = match is_url(text) {
            true => channel_id_url(text),
            false => text.trim_start_matches('@').to_string(),
        };
        // A handle's server is known before any request: a blocked one is not asked.
        let server = match target.split_once('@') {
            Some((_, host)) if !is_url(&target) => format!("https://{host}/"),
            _ => target.clone(),
        };
        if self.is_blocked(&server) {
            return Err(format!("the server of {target} is blocked"));
        }
        let actor = self.resolve_remote(&target).await?;
        if self.is_blocked(&actor.url) {
            return Err(format!("{} is blocked", actor.url));
        }
        if actor.kind != RemoteActorKind::Group {
            return Err(format!("{} is not a channel", actor.url));
        }
        Ok(actor.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_pages_become_video_ids() {
        let uuid = "9c9de5e8-0a1e-484a-b099-e80766180a6d";
        let id = format!("https://tube.example:8443/videos/watch/{uuid}");
        for page in [
            format!(
                "https://tube.example:8443/w/{}",
                peerbox_catalog::short_uuid(&uuid.parse().expect("uuid"))
            ),
            format!("https://tube.example:8443/w/{uuid}?start=10"),
            format!("https://tube.example:8443/videos/watch/{uuid}/"),
            id.clone(),
        ] {
            assert_eq!(video_id_url(&page).as_deref(), Some(id.as_str()), "{page}");
        }
        // Other URLs are tried as they are.
        assert_eq!(
            video_id_url("https://tube.example/videos/42").as_deref(),
            Some("https://tube.example/videos/42")
        );
        assert_eq!(video_id_url("tube.example/w/x"), None);
    }

    #[test]
    fn channel_pages_become_actor_ids() {
        for page in [
            "https://tube.example/c/garden",
            "https://tube.example/c/garden/videos",
            "https://tube.example/video-channels/garden",
        ] {
            assert_eq!(
                channel_id_url(page),
                "https://tube.example/video-channels/garden",
                "{page}"
            );
        }
        assert_eq!(
            channel_id_url("https://tube.example/c/"),
            "https://tube.example/c/"
        );
    }
}
