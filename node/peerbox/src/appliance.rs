//! What the node does for the box it runs on: tell systemd it is ready and alive (the
//! watchdog reboots a hung box), and answer to `peerbox.local` on the home network.

use anyhow::{Context, Result};
use mdns_sd::{ServiceDaemon, ServiceInfo};
use peerbox_api::SharedState;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct MdnsSettings {
    /// Announce the node on the local network (the appliance image turns it on).
    pub enabled: bool,
    /// The name it answers to, without `.local`.
    pub hostname: String,
}

impl Default for MdnsSettings {
    fn default() -> Self {
        MdnsSettings {
            enabled: false,
            hostname: "peerbox".into(),
        }
    }
}

/// Announces `{hostname}.local` and an `_http._tcp` service for the node's port. The
/// returned daemon must be kept alive.
pub fn announce(settings: &MdnsSettings, port: u16) -> Result<ServiceDaemon> {
    let daemon = ServiceDaemon::new().context("cannot start mDNS")?;
    let host = format!("{}.local.", settings.hostname);
    let service = ServiceInfo::new(
        "_http._tcp.local.",
        &settings.hostname,
        &host,
        "",
        port,
        &[("path", "/")][..],
    )
    .context("invalid mDNS service")?
    .enable_addr_auto();
    daemon
        .register(service)
        .context("cannot announce the node over mDNS")?;
    tracing::info!("announcing {host} over mDNS");
    Ok(daemon)
}

/// Tells systemd the node serves, then keeps its watchdog fed while the catalog answers;
/// without systemd (NOTIFY_SOCKET unset) this does nothing.
pub async fn notify_systemd(state: SharedState) {
    if let Err(e) = sd_notify::notify(&[sd_notify::NotifyState::Ready]) {
        tracing::warn!("cannot notify systemd: {e}");
    }
    let Some(timeout) = sd_notify::watchdog_enabled().filter(|t| !t.is_zero()) else {
        return;
    };
    let mut tick = tokio::time::interval(timeout / 2);
    loop {
        tick.tick().await;
        if state.catalog.schema_version().is_ok() {
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Watchdog]);
        }
    }
}
