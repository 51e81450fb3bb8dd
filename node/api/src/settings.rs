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
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TrackerSwitches {
    pub enabled: bool,
    /// Serve only the swarms of this node's videos, as PeerTube does. Off only for load tests.
    pub private: bool,
}

impl Default for TrackerSwitches {
    fn default() -> Self {
        TrackerSwitches {
            enabled: true,
            private: true,
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

    /// Hosts that may ask for the local OAuth client.
    pub fn accepts_host(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        host == self.public_host().to_ascii_lowercase()
            || self
                .lan_aliases
                .iter()
                .any(|a| a.to_ascii_lowercase() == host)
    }
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
    }
}
