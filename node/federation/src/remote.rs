//! Remote actors as this node knows them: kept in the catalog, fetched (signed by the
//! instance actor) when unknown or older than PeerTube's refresh interval, and the source of
//! the keys that verify incoming signatures.

use chrono::{Duration, Utc};
use peerbox_catalog::RemoteActor;

use crate::Federation;
use crate::client::ClientError;
use crate::signatures::{KeyId, KeyResolver, PublicKey};

/// PeerTube refreshes a remote actor two days after it last fetched it.
const ACTOR_REFRESH: Duration = Duration::days(2);

impl Federation {
    /// The actor at `url`: from the catalog when known and fresh, else fetched and stored.
    /// `refresh` fetches whatever is known (a signature failed with the stored key).
    pub async fn remote_actor(&self, url: &str, refresh: bool) -> Result<RemoteActor, String> {
        if self.is_local_url(url) {
            return Err(format!("{url} is one of this node's own actors"));
        }
        let known = self.catalog.remote_actor(url).map_err(|e| e.to_string())?;
        if let Some(actor) = &known
            && !refresh
            && Utc::now() - actor.fetched_at < ACTOR_REFRESH
        {
            return Ok(actor.clone());
        }
        match self
            .client
            .fetch_actor(url, Some(&self.instance_signer))
            .await
        {
            Ok(actor) => {
                if actor.url != url {
                    return Err(format!("{url} answered with the actor {}", actor.url));
                }
                self.catalog
                    .upsert_remote_actor(&actor)
                    .map_err(|e| e.to_string())?;
                Ok(actor)
            }
            // An origin that is down for a while still has a usable actor here.
            Err(e) if !refresh && known.is_some() && e.is_retryable() => {
                tracing::debug!("keeping the stored actor {url}: {e}");
                known.ok_or_else(|| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// `name@host` (a leading `@` and an `acct:` prefix tolerated) or an actor URL, to the
    /// remote actor, through WebFinger for a handle.
    pub async fn resolve_remote(&self, handle_or_url: &str) -> Result<RemoteActor, String> {
        let text = handle_or_url.trim();
        let url = if text.starts_with("https://") || text.starts_with("http://") {
            text.to_string()
        } else {
            let handle = text.trim_start_matches("acct:").trim_start_matches('@');
            self.client
                .webfinger(handle)
                .await
                .map_err(|e: ClientError| e.to_string())?
        };
        self.remote_actor(&url, false).await
    }

    /// True for URLs of this node.
    pub(crate) fn is_local_url(&self, url: &str) -> bool {
        let base = &self.settings.public_url;
        url == base
            || url
                .strip_prefix(base.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

/// Keys for incoming signatures: the stored actor's key first, a fresh fetch on refresh.
pub(crate) struct ActorKeys<'a>(pub &'a Federation);

impl KeyResolver for ActorKeys<'_> {
    async fn resolve(&self, key_id: &KeyId, refresh: bool) -> Result<PublicKey, String> {
        let fed = self.0;
        let (actor_url, wanted_key) = match key_id {
            KeyId::Url { key_id, actor } => {
                // A key already known names its actor, which may not be the URL before `#`.
                let stored = fed
                    .catalog
                    .remote_actor_by_key_id(key_id)
                    .map_err(|e| e.to_string())?;
                let url = stored.map(|a| a.url).unwrap_or_else(|| actor.clone());
                (url, Some(key_id.clone()))
            }
            KeyId::Acct { name, host } => {
                let url = fed
                    .client
                    .webfinger(&format!("{name}@{host}"))
                    .await
                    .map_err(|e| e.to_string())?;
                (url, None)
            }
        };
        let mut actor = fed.remote_actor(&actor_url, refresh).await?;
        // A key id the stored actor does not have: the actor may have rotated its key.
        if !refresh
            && wanted_key
                .as_ref()
                .is_some_and(|k| *k != actor.public_key_id)
        {
            actor = fed.remote_actor(&actor_url, true).await?;
        }
        if wanted_key.is_some_and(|k| k != actor.public_key_id) {
            return Err(format!("{} has no key {key_id:?}", actor.url));
        }
        let key = crate::keys::public_key(&actor.public_key_pem).map_err(|e| e.to_string())?;
        Ok(PublicKey {
            owner: actor.url,
            key,
        })
    }
}
