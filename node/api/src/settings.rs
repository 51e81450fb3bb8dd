//! The part of the node's configuration that the API reads.

use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ApiSettings {
    /// The URL the node is reached at; every absolute URL the API writes starts with it.
    /// Empty: `http://` and the listen address.
    pub public_url: String,
    /// Other `host[:port]` values the node answers to (its LAN address, `peerbox.local`);
    /// PeerTube clients may log in through them.
    pub lan_aliases: Vec<String>,
    pub instance_name: String,
    pub instance_short_description: String,
    pub uploads: UploadSettings,
    pub oauth: OAuthSettings,
    pub users: UserDefaults,
    pub setup: SetupSettings,
    pub tracker: TrackerSwitches,
    pub ota: crate::ota::OtaSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TrackerSwitches {
    pub enabled: bool,
    /// Serve only the swarms of this node's videos, as PeerTube does. Off only for load tests.
    pub private: bool,
    /// STUN (or TURN) server URLs the web player gives WebRTC. None by default, as viewers on
    /// one network need none and a public server would learn who watches.
    pub stun_servers: Vec<String>,
}

impl Default for TrackerSwitches {
    fn default() -> Self {
        TrackerSwitches {
            enabled: true,
            private: true,
            stun_servers: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SetupSettings {
    /// On an appliance: the file holding the claim code written at first boot. While it is
    /// set and the box is unclaimed, only the setup page is served. Empty: no setup step.
    pub claim_code_file: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct UploadSettings {
    /// Largest accepted video file, bytes.
    pub max_file_size: u64,
    /// Seconds an unfinished resumable upload is kept without receiving a chunk.
    pub session_lifetime: u64,
    /// Seconds between sweeps of abandoned uploads.
    pub sweep_interval: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct OAuthSettings {
    /// Seconds.
    pub access_token_lifetime: i64,
    pub refresh_token_lifetime: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct UserDefaults {
    /// Bytes, -1 for unlimited (PeerTube's `user.video_quota`).
    pub video_quota: i64,
    pub video_quota_daily: i64,
}

impl Default for ApiSettings {
    fn default() -> Self {
        ApiSettings {
            public_url: String::new(),
            lan_aliases: Vec::new(),
            instance_name: "Peerbox".into(),
            instance_short_description: "A PeerTube-compatible video node on a small box.".into(),
            uploads: UploadSettings::default(),
            oauth: OAuthSettings::default(),
            users: UserDefaults::default(),
            setup: SetupSettings::default(),
            tracker: TrackerSwitches::default(),
            ota: Default::default(),
        }
    }
}

impl Default for UploadSettings {
    fn default() -> Self {
        // PeerTube caps partial uploads at 50 GB; the disk is the real limit on a box.
        UploadSettings {
            max_file_size: 50 * 1024 * 1024 * 1024,
            session_lifetime: 3600,
            sweep_interval: 60,
        }
    }
}

impl UploadSettings {
    pub fn session_lifetime(&self) -> Duration {
        Duration::from_secs(self.session_lifetime)
    }

    pub fn sweep_interval(&self) -> Duration {
        Duration::from_secs(self.sweep_interval.max(1))
    }
}

impl Default for OAuthSettings {
    fn default() -> Self {
        // PeerTube's defaults: one day and two weeks.
        OAuthSettings {
            access_token_lifetime: 86_400,
            refresh_token_lifetime: 1_209_600,
        }
    }
}

impl Default for UserDefaults {
    fn default() -> Self {
        UserDefaults {
            video_quota: -1,
            video_quota_daily: -1,
        }
    }
}

impl ApiSettings {
    pub fn public_url(&self) -> &str {
        self.public_url.trim_end_matches('/')
    }

    /// `host[:port]` of the public URL.
    pub fn public_host(&self) -> &str {
        let without_scheme = self
            .public_url()
            .split("://")
            .nth(1)
            .unwrap_or(self.public_url());
        without_scheme.split('/').next().unwrap_or(without_scheme)
    }

    /// The tracker's WebSocket and HTTP announce URLs, WebSocket first as PeerTube lists them.
    pub fn tracker_urls(&self) -> Vec<String> {
        let ws = self
            .public_url()
            .replacen("https://", "wss://", 1)
            .replacen("http://", "ws://", 1);
        vec![
            format!("{ws}/tracker/socket"),
            format!("{}/tracker/announce", self.public_url()),
        ]
    }

    /// Hosts that may ask for the local OAuth client: the public host, the LAN aliases, and
    /// any address of this machine's own interfaces (a box is often opened by its LAN IP,
    /// which DHCP may change, so it cannot be configured in advance).
    pub fn accepts_host(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        host == self.public_host().to_ascii_lowercase()
            || self
                .lan_aliases
                .iter()
                .any(|a| a.to_ascii_lowercase() == host)
            || ip_of_host(&host).is_some_and(is_own_address)
    }
}

/// The IP address of a Host header value that is an address literal, with or without port.
fn ip_of_host(host: &str) -> Option<std::net::IpAddr> {
    if let Ok(addr) = host.parse::<std::net::SocketAddr>() {
        return Some(addr.ip());
    }
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

fn is_own_address(ip: std::net::IpAddr) -> bool {
    !ip.is_unspecified()
        && if_addrs::get_if_addrs()
            .map(|ifaces| ifaces.iter().any(|i| i.ip() == ip))
            .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_checks() {
        let s = ApiSettings {
            public_url: "https://Video.Example.org/".into(),
            lan_aliases: vec!["192.168.1.20:9000".into(), "peerbox.local".into()],
            ..Default::default()
        };
        assert_eq!(s.public_host(), "Video.Example.org");
        assert!(s.accepts_host("video.example.org"));
        assert!(s.accepts_host("peerbox.local"));
        assert!(s.accepts_host("192.168.1.20:9000"));
        assert!(!s.accepts_host("evil.example"));
        assert!(!s.accepts_host("192.168.1.20"));
        assert!(
            !s.accepts_host("192.0.2.1:9000"),
            "not an address of this machine"
        );
        assert!(!s.accepts_host("0.0.0.0"));
    }

    #[test]
    fn own_addresses_are_accepted() {
        let s = ApiSettings {
            public_url: "http://peerbox.local".into(),
            ..Default::default()
        };
        assert!(s.accepts_host("127.0.0.1"));
        assert!(s.accepts_host("127.0.0.1:8080"));
        let own: Vec<_> = if_addrs::get_if_addrs().unwrap();
        for iface in own {
            let host = match iface.ip() {
                std::net::IpAddr::V4(ip) => ip.to_string(),
                std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            };
            assert!(s.accepts_host(&host), "{host} of {}", iface.name);
        }
    }
}
