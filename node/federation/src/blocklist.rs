//! Instance and account blocklists: nothing is accepted from, fetched for or delivered to a
//! blocked server or account. Kept as two settings of the catalog (JSON lists of hosts and
//! of actor URLs), read on each check since they change rarely and are short.

use crate::Federation;

const SERVERS: &str = "federation_blocked_servers";
const ACCOUNTS: &str = "federation_blocked_accounts";

impl Federation {
    fn blocked(&self, key: &str) -> Vec<String> {
        self.catalog
            .setting(key)
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
        self.blocked(SERVERS)
            .iter()
            .any(|h| h.eq_ignore_ascii_case(&host))
            || self.blocked(ACCOUNTS).iter().any(|a| a == actor_url)
    }

    pub fn blocked_servers(&self) -> Vec<String> {
        self.blocked(SERVERS)
    }

    /// Adds or removes a server of the blocklist; true when the list changed.
    pub fn set_server_blocked(&self, host: &str, blocked: bool) -> Result<bool, String> {
        let mut list = self.blocked(SERVERS);
        let host = host.to_ascii_lowercase();
        let present = list.contains(&host);
        match (blocked, present) {
            (true, false) => list.push(host),
            (false, true) => list.retain(|h| *h != host),
            _ => return Ok(false),
        }
        let text = serde_json::to_string(&list).map_err(|e| e.to_string())?;
        self.catalog
            .set_setting(SERVERS, &text)
            .map_err(|e| e.to_string())?;
        Ok(true)
    }
}
