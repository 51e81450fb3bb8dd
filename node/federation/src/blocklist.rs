//! Instance and account blocklists (PeerTube's server-wide ones): nothing is accepted from,
//! fetched for or delivered to a blocked server or account, and what was known of it goes.
//! Kept as two settings of the catalog (JSON lists of hosts and of actor URLs), read on each
//! check since they change rarely and are short.

use crate::Federation;

const SERVERS: &str = "federation_blocked_servers";
const ACCOUNTS: &str = "federation_blocked_accounts";

/// Which list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    /// Entries are hosts (`host[:port]`, lowercase).
    Servers,
    /// Entries are actor URLs.
    Accounts,
}

impl Blocked {
    fn key(self) -> &'static str {
        match self {
            Blocked::Servers => SERVERS,
            Blocked::Accounts => ACCOUNTS,
        }
    }
}

impl Federation {
    pub fn blocklist(&self, list: Blocked) -> Vec<String> {
        self.catalog
            .setting(list.key())
            .ok()
            .flatten()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    }

    /// True when the actor's server or the actor itself is blocked.
    pub fn is_blocked(&self, actor_url: &str) -> bool {
        let Some(host) = crate::host_of(actor_url) else {
            return true;
        };
        self.blocklist(Blocked::Servers).contains(&host)
            || self
                .blocklist(Blocked::Accounts)
                .iter()
                .any(|a| a == actor_url)
    }

    /// Adds or removes an entry; true when the list changed. A new block also drops the
    /// follows and videos of what it blocks.
    pub fn set_blocked(&self, list: Blocked, entry: &str, blocked: bool) -> Result<bool, String> {
        let entry = match list {
            Blocked::Servers => entry.to_ascii_lowercase(),
            Blocked::Accounts => entry.to_string(),
        };
        let mut entries = self.blocklist(list);
        let present = entries.contains(&entry);
        match (blocked, present) {
            (true, false) => entries.push(entry.clone()),
            (false, true) => entries.retain(|e| *e != entry),
            _ => return Ok(false),
        }
        let text = serde_json::to_string(&entries).map_err(|e| e.to_string())?;
        self.catalog
            .set_setting(list.key(), &text)
            .map_err(|e| e.to_string())?;
        if blocked {
            let actors = match list {
                Blocked::Servers => self
                    .catalog
                    .remote_actors_of_host(&entry)
                    .map_err(|e| e.to_string())?
                    .into_iter()
                    .map(|a| a.url)
                    .collect(),
                Blocked::Accounts => vec![entry],
            };
            for url in actors {
                self.forget_actor(&url)?;
            }
        }
        Ok(true)
    }

    /// Drops the follows with a remote actor (either way) and its videos.
    pub(crate) fn forget_actor(&self, url: &str) -> Result<usize, String> {
        let text = |e: peerbox_catalog::CatalogError| e.to_string();
        for follow in self.catalog.follows_with_remote(url).map_err(text)? {
            self.catalog.remove_follow(follow.id).map_err(text)?;
        }
        let videos = self
            .catalog
            .remove_remote_videos_of_actor(url)
            .map_err(text)?;
        tracing::info!(actor = %url, videos, "forgot a remote actor's follows and videos");
        Ok(videos)
    }
}
