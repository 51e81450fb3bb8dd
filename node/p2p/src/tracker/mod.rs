//! The node's BitTorrent tracker, on its own HTTP server: the WebTorrent protocol over a
//! WebSocket at `/tracker/socket` (PeerTube's player and p2p-media-loader introduce viewers
//! to each other through it) and the classic HTTP `/tracker/announce` and `/tracker/scrape`
//! for BitTorrent clients.
//!
//! It only relays signalling; it never sees media. Memory is bounded: peers per swarm,
//! swarms, queued messages per connection and message sizes are all capped, and peers that
//! stop announcing expire.

mod http;
mod limits;
mod swarm;
mod wire;
mod ws;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;

pub use swarm::{InfoHash, TrackerStats};

/// Which infohashes the tracker serves. PeerTube's tracker is private by default: only the
/// swarms of its own videos.
pub type InfohashFilter = Arc<dyn Fn(&InfoHash) -> bool + Send + Sync>;

#[derive(Debug, Clone)]
pub struct TrackerSettings {
    /// Seconds between a peer's announces, told to clients.
    pub announce_interval: Duration,
    /// A peer not heard from for this long is forgotten.
    pub peer_timeout: Duration,
    pub max_peers_per_swarm: usize,
    pub max_swarms: usize,
    /// Offers relayed per announce (clients send at most 5 to 10).
    pub max_offers: usize,
    /// Announces one address may make per minute, all swarms together.
    pub announces_per_ip_per_minute: u32,
    pub max_message_bytes: usize,
}

impl Default for TrackerSettings {
    fn default() -> Self {
        TrackerSettings {
            announce_interval: Duration::from_secs(120),
            peer_timeout: Duration::from_secs(300),
            max_peers_per_swarm: 1000,
            max_swarms: 10_000,
            max_offers: 10,
            // A school behind one NAT address may have a few hundred viewers.
            announces_per_ip_per_minute: 3000,
            max_message_bytes: 64 * 1024,
        }
    }
}

pub struct Tracker {
    settings: TrackerSettings,
    filter: InfohashFilter,
    swarms: swarm::Swarms,
    limiter: limits::PerIpLimiter,
}

impl Tracker {
    pub fn new(settings: TrackerSettings, filter: InfohashFilter) -> Arc<Tracker> {
        Arc::new(Tracker {
            limiter: limits::PerIpLimiter::new(settings.announces_per_ip_per_minute),
            swarms: swarm::Swarms::default(),
            settings,
            filter,
        })
    }

    pub fn stats(&self) -> TrackerStats {
        self.swarms.stats()
    }

    /// Forgets peers that stopped announcing; call it now and then.
    pub fn expire(&self) {
        self.swarms.expire(self.settings.peer_timeout);
        self.limiter.forget_idle();
    }

    /// The tracker's routes, to merge into the node's router.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/tracker/socket", get(upgrade))
            .route("/tracker/announce", get(http::announce))
            .route("/tracker/scrape", get(http::scrape))
            .with_state(self.clone())
    }

    /// Expires peers every half timeout until the process ends.
    pub async fn run_expiry(self: Arc<Self>) {
        let mut tick = tokio::time::interval(self.settings.peer_timeout / 2);
        loop {
            tick.tick().await;
            self.expire();
        }
    }
}

async fn upgrade(
    State(tracker): State<Arc<Tracker>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ws: WebSocketUpgrade,
) -> Response {
    let max = tracker.settings.max_message_bytes;
    // tungstenite's defaults (128 KiB read buffer per connection) would make 10,000 viewers
    // cost over a gigabyte; tracker messages are a few KiB.
    ws.max_message_size(max)
        .max_frame_size(max)
        .read_buffer_size(4 * 1024)
        .write_buffer_size(8 * 1024)
        .on_upgrade(move |socket| ws::serve(tracker, socket, peer.ip()))
}
