//! ActivityPub federation: actor keys, actor documents, discovery (WebFinger, host-meta,
//! nodeinfo) and HTTP Signatures, in PeerTube's formats and with PeerTube's rules.
//!
//! Documents, signatures and the JSON-LD check are plain functions (`actors`,
//! `discovery`, `signatures`, `jsonld`); `routes` is the thin axum layer that serves them.
//! It reads the catalog's accounts and channels and writes only their keys; it renders no
//! HTML (the web crate's pages share the actor URLs, chosen by the `Accept` header).

pub mod actors;
pub mod discovery;
pub mod jsonld;
pub mod keys;
mod routes;
pub mod signatures;

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use peerbox_catalog::{ActorKey, Catalog};

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
}

/// The federation side of a running node.
pub struct Federation {
    catalog: Arc<Catalog>,
    settings: Settings,
    instance_key: ActorKey,
    /// When the instance came to be: its first account's creation.
    instance_published: DateTime<Utc>,
}

impl Federation {
    /// Reads or makes the instance actor's key and gives a key to every actor that has
    /// none; slow the first time (one RSA key per actor), so it runs before serving.
    pub fn start(
        catalog: Arc<Catalog>,
        settings: Settings,
        data_dir: &Path,
    ) -> Result<Arc<Federation>, KeyError> {
        let instance_key = keys::instance_key(data_dir)?;
        keys::add_missing_keys(&catalog)?;
        let instance_published = catalog
            .accounts()?
            .iter()
            .map(|a| a.created_at)
            .min()
            .unwrap_or_else(Utc::now);
        Ok(Arc::new(Federation {
            catalog,
            settings,
            instance_key,
            instance_published,
        }))
    }

    /// `pages` (the web crate's router) with the discovery routes added and ActivityPub
    /// answers on the actor URLs for clients that ask for them.
    pub fn serve(self: &Arc<Self>, pages: axum::Router) -> axum::Router {
        routes::serve(self.clone(), pages)
    }
}
