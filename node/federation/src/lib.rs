//! ActivityPub federation: actor keys, actor documents, discovery (WebFinger, host-meta,
//! nodeinfo) and HTTP Signatures, in PeerTube's formats and with PeerTube's rules.
//!
//! Documents, signatures and the JSON-LD check are plain functions (`actors`,
//! `discovery`, `signatures`, `jsonld`, `video_object`); `routes` and `inbox` are the thin
//! axum layer that serves them, `activities` applies what arrives, `outbox` queues what
//! leaves and `delivery` sends it with `client`, the only code that makes outbound requests
//! (HTTPS only, never to private addresses). It keeps remote actors, follows, remote videos
//! and the delivery queue in the catalog and writes local actors' keys; it renders no HTML
//! (the web crate's pages share the actor URLs, chosen by the `Accept` header).

mod activities;
pub mod actors;
pub mod api;
pub mod blocklist;
pub mod client;
pub mod delivery;
pub mod discovery;
mod inbox;
mod interactions;
pub mod interactions_api;
pub mod jsonld;
pub mod keys;
mod local;
mod local_video;
mod outbox;
mod refresh;
mod remote;
mod routes;
mod search;
pub mod signatures;
pub mod video_object;

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use peerbox_catalog::{ActorKey, ActorRef, Catalog};

use crate::client::FederationClient;
use crate::delivery::Deliverer;
use crate::signatures::Signer;

pub use keys::{KeyError, RsaKeys};

/// What federation needs from the node's configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Without a trailing slash; every actor URL starts with it.
    pub public_url: String,
    /// `host[:port]` of the public URL: the host of `acct:` handles.
    pub public_host: String,
    /// Used when the administrator has not named the instance on the settings page.
    pub instance_name: String,
    pub instance_short_description: String,
    pub tracker_enabled: bool,
    pub video_quota: i64,
    pub video_quota_daily: i64,
    /// Outbound HTTPS: trusted roots, time and size limits, private addresses.
    pub client: client::ClientSettings,
    /// Unlisted videos go to followers too (PeerTube federates them; off by default here,
    /// as a home box's unlisted videos are often meant for a few).
    pub federate_unlisted: bool,
    /// Instance followers wait for an administrator's accept.
    pub manual_approval: bool,
    /// How deliveries are retried.
    pub backoff: delivery::Backoff,
    /// Activities accepted per second from one host, and the burst.
    pub inbox_rate: (f64, f64),
}

/// The federation side of a running node.
pub struct Federation {
    catalog: Arc<Catalog>,
    /// The REST API's view of local videos: Video objects carry the same URLs.
    api: peerbox_api::SharedState,
    settings: Settings,
    instance_key: ActorKey,
    /// When the instance came to be: its first account's creation.
    instance_published: DateTime<Utc>,
    instance_signer: Signer,
    client: Arc<FederationClient>,
    deliverer: Arc<Deliverer>,
    inbox_limiter: inbox::HostLimiter,
    inbox_work: Arc<tokio::sync::Semaphore>,
    /// Rung by the catalog when a local video changed.
    videos_changed: Arc<tokio::sync::Notify>,
}

/// Why federation cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(transparent)]
    Client(#[from] client::SetupError),
    #[error(transparent)]
    Catalog(#[from] peerbox_catalog::CatalogError),
}

impl Federation {
    /// Reads or makes the instance actor's key and gives a key to every actor that has
    /// none; slow the first time (one RSA key per actor), so it runs before serving.
    pub fn start(
        api: peerbox_api::SharedState,
        settings: Settings,
        data_dir: &Path,
    ) -> Result<Arc<Federation>, StartError> {
        let catalog = api.catalog.clone();
        let instance_key = keys::instance_key(data_dir)?;
        keys::add_missing_keys(&catalog)?;
        let instance_published = catalog
            .accounts()?
            .iter()
            .map(|a| a.created_at)
            .min()
            .unwrap_or_else(Utc::now);
        let instance_signer = Signer::new(
            &actors::instance_actor_url(&settings.public_url),
            keys::private_key(&instance_key.private_pem)?,
        );
        let client = Arc::new(FederationClient::new(&settings.client)?);
        let videos_changed = Arc::new(tokio::sync::Notify::new());
        let wake = videos_changed.clone();
        catalog.set_video_change_hook(Arc::new(move || wake.notify_one()));
        Ok(Arc::new_cyclic(|me: &std::sync::Weak<Federation>| {
            let me = me.clone();
            let signers: delivery::Signers = Arc::new(move |actor: &ActorRef| {
                me.upgrade().and_then(|fed| fed.signer(actor)).map(Arc::new)
            });
            Federation {
                deliverer: Arc::new(
                    Deliverer::new(catalog.clone(), client.clone(), signers)
                        .with_backoff(settings.backoff.clone()),
                ),
                inbox_limiter: inbox::HostLimiter::new(
                    settings.inbox_rate.0,
                    settings.inbox_rate.1,
                ),
                inbox_work: Arc::new(tokio::sync::Semaphore::new(inbox::MAX_IN_PROGRESS)),
                catalog,
                api,
                settings,
                instance_key,
                instance_published,
                instance_signer,
                client,
                videos_changed,
            }
        }))
    }

    /// Sends the queued deliveries and federates video changes until `stop`.
    pub fn spawn_workers(self: &Arc<Self>, stop: tokio_util::sync::CancellationToken) {
        self.api.set_remote_lookup(search::lookup(self));
        let deliverer = self.deliverer.clone();
        let stop_delivery = stop.clone();
        tokio::spawn(async move { deliverer.run(stop_delivery.cancelled_owned()).await });
        tokio::spawn(self.clone().run_refresh(stop.clone()));
        tokio::spawn(self.clone().run_video_changes(stop));
    }

    /// `pages` (the web crate's router) with the discovery routes added and ActivityPub
    /// answers on the actor URLs for clients that ask for them.
    pub fn serve(self: &Arc<Self>, pages: axum::Router) -> axum::Router {
        routes::serve(self.clone(), pages)
    }
}

/// `host[:port]` of an http(s) URL, lowercased.
pub fn host_of(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // No user info in a federation URL.
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    Some(authority.to_ascii_lowercase())
}
