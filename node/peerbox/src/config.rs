//! The node's configuration: one TOML file, every key overridable by an environment variable
//! named after its path (`uploads.max_file_size` is `PEERBOX_UPLOADS_MAX_FILE_SIZE`), every
//! key with a default that works on a laptop.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use peerbox_api::ApiSettings;
use serde::{Deserialize, Serialize};
use toml::Value;

use crate::appliance::MdnsSettings;
use crate::seeding::SeedingSettings;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Address and port the HTTP server binds.
    pub listen: String,
    pub data_dir: PathBuf,
    /// The board config (a name from board-configs/ or a path); empty: detected.
    pub board: String,
    pub mdns: MdnsSettings,
    pub seeding: SeedingSettings,
    pub tls: TlsSettings,
    pub federation: FederationSettings,
    #[serde(flatten)]
    pub api: ApiSettings,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:9000".into(),
            data_dir: PathBuf::from("peerbox-data"),
            board: String::new(),
            mdns: MdnsSettings::default(),
            seeding: SeedingSettings::default(),
            tls: TlsSettings::default(),
            federation: FederationSettings::default(),
            api: ApiSettings::default(),
        }
    }
}

/// HTTPS on `listen`: both files set serves HTTPS, neither serves plain HTTP (on a LAN, or
/// behind a reverse proxy that terminates TLS).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TlsSettings {
    /// PEM certificate chain, the node's own certificate first.
    pub cert_file: PathBuf,
    /// PEM private key of that certificate (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
}

const BOTH_OR_NEITHER: &str = "set both for HTTPS, or neither for plain HTTP";

impl TlsSettings {
    /// Whether the node serves HTTPS (the files are checked by `Config::load`).
    pub fn enabled(&self) -> bool {
        !self.cert_file.as_os_str().is_empty()
    }

    fn check(&self) -> Result<()> {
        match (
            self.cert_file.as_os_str().is_empty(),
            self.key_file.as_os_str().is_empty(),
        ) {
            (false, true) => {
                bail!("tls.cert_file is set but tls.key_file is not: {BOTH_OR_NEITHER}")
            }
            (true, false) => {
                bail!("tls.key_file is set but tls.cert_file is not: {BOTH_OR_NEITHER}")
            }
            _ => Ok(()),
        }
    }
}

/// ActivityPub federation with other servers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FederationSettings {
    /// FOR TESTS ONLY: fetch from and deliver to loopback addresses (127.0.0.0/8, ::1), where
    /// test nodes run; private, link-local and other non-public addresses stay refused, so
    /// that a remote server cannot make the node reach into its own network. Logged as a
    /// warning at start when on.
    pub allow_loopback: bool,
    /// PEM file of root certificates trusted for federation's outgoing HTTPS besides the
    /// public ones (a home CA, or a test CA); empty: none.
    pub extra_ca_file: PathBuf,
    /// Send unlisted videos to followers too (PeerTube's `federation.videos.federate_unlisted`).
    pub federate_unlisted: bool,
    /// Other servers that follow this one wait for an administrator's accept (PeerTube's
    /// `followers.instance.manual_approval`); off: they are accepted at once.
    pub manual_approval: bool,
    /// Seconds before a failed delivery is tried again; the pause doubles with each further
    /// failure.
    pub retry_first_seconds: u64,
    /// Activities accepted per second from one host in the inbox, with bursts of ten times
    /// as many (PeerTube allows 500 in 10 s); more are answered 429.
    pub inbox_rate_per_host: f64,
}

impl Default for FederationSettings {
    fn default() -> Self {
        FederationSettings {
            allow_loopback: false,
            extra_ca_file: PathBuf::new(),
            federate_unlisted: false,
            manual_approval: false,
            retry_first_seconds: 30,
            inbox_rate_per_host: 50.0,
        }
    }
}

/// Environment variables that are not configuration keys.
const NOT_KEYS: &[&str] = &[
    "PEERBOX_CONFIG",
    "PEERBOX_ADMIN_PASSWORD",
    "PEERBOX_LOG",
    "PEERBOX_BIN",
];

impl Config {
    /// Defaults, then the file (if any), then `PEERBOX_*` variables from `env`.
    pub fn load(
        file: Option<&Path>,
        env: impl Iterator<Item = (String, String)>,
    ) -> Result<Config> {
        let mut value = Value::try_from(Config::default())?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let from_file: Value = toml::from_str(&text)
                .with_context(|| format!("{} is not valid TOML", path.display()))?;
            merge(&mut value, from_file);
            // Unknown keys are mistakes; say which.
            Config::deserialize(value.clone())
                .with_context(|| format!("invalid configuration in {}", path.display()))?;
            check_known_keys(&Value::try_from(Config::default())?, &value, "")
                .with_context(|| format!("invalid configuration in {}", path.display()))?;
        }
        for (name, raw) in env {
            if !name.starts_with("PEERBOX_") || NOT_KEYS.contains(&name.as_str()) {
                continue;
            }
            let known = set_from_env(&mut value, &name["PEERBOX_".len()..], &raw)
                .with_context(|| format!("{name}={raw:?}"))?;
            if !known {
                tracing::warn!("{name} is set but is not a configuration key; ignored");
            }
        }
        let config = Config::deserialize(value)?;
        config.tls.check()?;
        Ok(config)
    }
}

fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Table(into), Value::Table(from)) => {
            for (k, v) in from {
                match into.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        into.insert(k, v);
                    }
                }
            }
        }
        (into, from) => *into = from,
    }
}

fn check_known_keys(defaults: &Value, given: &Value, prefix: &str) -> Result<()> {
    if let (Value::Table(d), Value::Table(g)) = (defaults, given) {
        for (k, v) in g {
            let path = format!("{prefix}{k}");
            match d.get(k) {
                None => bail!("unknown key `{path}`"),
                Some(dv) => check_known_keys(dv, v, &format!("{path}."))?,
            }
        }
    }
    Ok(())
}

/// Finds the key whose path, joined with `_` and upper-cased, is `name`, and sets it from
/// `raw` parsed as the key's type. Returns whether a key matched.
fn set_from_env(table: &mut Value, name: &str, raw: &str) -> Result<bool> {
    let Value::Table(t) = table else {
        return Ok(false);
    };
    for (key, slot) in t.iter_mut() {
        let upper = key.to_uppercase();
        if name == upper {
            *slot = parse_like(slot, raw)?;
            return Ok(true);
        }
        if let Some(rest) = name.strip_prefix(&format!("{upper}_"))
            && slot.is_table()
            && set_from_env(slot, rest, raw)?
        {
            return Ok(true);
        }
    }
    Ok(false)
}

fn parse_like(current: &Value, raw: &str) -> Result<Value> {
    Ok(match current {
        Value::Integer(_) => Value::Integer(raw.trim().parse().context("expected an integer")?),
        Value::Boolean(_) => Value::Boolean(raw.trim().parse().context("expected true or false")?),
        Value::Float(_) => Value::Float(raw.trim().parse().context("expected a number")?),
        Value::Array(_) => Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.into()))
                .collect(),
        ),
        _ => Value::String(raw.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn defaults_work_without_file_or_env() {
        let c = Config::load(None, env(&[])).unwrap();
        assert_eq!(c.listen, "127.0.0.1:9000");
        assert_eq!(c.api.oauth.access_token_lifetime, 86_400);
    }

    #[test]
    fn file_then_env() {
        let dir = std::env::temp_dir().join(format!("peerbox-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("peerbox.toml");
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:80\"\n[uploads]\nsession_lifetime = 10\n",
        )
        .unwrap();
        let c = Config::load(
            Some(&file),
            env(&[
                ("PEERBOX_UPLOADS_SESSION_LIFETIME", "20"),
                ("PEERBOX_LAN_ALIASES", "peerbox.local, 192.168.1.2:9000"),
                ("PEERBOX_PUBLIC_URL", "https://v.example.org"),
                ("PEERBOX_ADMIN_PASSWORD", "not a key"),
                ("PEERBOX_SEEDING_LISTEN_PORT", "51413"),
            ]),
        )
        .unwrap();
        assert_eq!(c.seeding.listen_port, 51413);
        assert!(c.seeding.enabled);
        assert_eq!(c.listen, "0.0.0.0:80");
        assert_eq!(c.api.uploads.session_lifetime, 20);
        assert_eq!(c.api.lan_aliases, vec!["peerbox.local", "192.168.1.2:9000"]);
        assert_eq!(c.api.public_url, "https://v.example.org");
        std::fs::write(&file, "[uploads]\nsesion_lifetime = 10\n").unwrap();
        let err = format!("{:#}", Config::load(Some(&file), env(&[])).unwrap_err());
        assert!(err.contains("uploads.sesion_lifetime"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ota_config_path_is_a_key() {
        let c = Config::load(None, env(&[])).unwrap();
        assert_eq!(c.api.ota.config, Path::new("/etc/peerbox/ota.toml"));
        let c = Config::load(None, env(&[("PEERBOX_OTA_CONFIG", "/tmp/sim/ota.toml")])).unwrap();
        assert_eq!(c.api.ota.config, Path::new("/tmp/sim/ota.toml"));
    }

    #[test]
    fn tls_and_federation_keys() {
        let c = Config::load(None, env(&[])).unwrap();
        assert!(!c.tls.enabled());
        assert_eq!(c.federation, FederationSettings::default());
        assert!(!c.federation.allow_loopback);
        assert!(!c.federation.federate_unlisted);
        assert!(!c.federation.manual_approval);
        assert_eq!(c.federation.extra_ca_file, Path::new(""));
        assert_eq!(c.federation.retry_first_seconds, 30);

        let c = Config::load(
            None,
            env(&[
                ("PEERBOX_TLS_CERT_FILE", "/etc/peerbox/cert.pem"),
                ("PEERBOX_TLS_KEY_FILE", "/etc/peerbox/key.pem"),
                ("PEERBOX_FEDERATION_ALLOW_LOOPBACK", "true"),
                (
                    "PEERBOX_FEDERATION_EXTRA_CA_FILE",
                    "/etc/peerbox/home-ca.pem",
                ),
                ("PEERBOX_FEDERATION_FEDERATE_UNLISTED", "true"),
                ("PEERBOX_FEDERATION_MANUAL_APPROVAL", "true"),
                ("PEERBOX_FEDERATION_RETRY_FIRST_SECONDS", "1"),
                ("PEERBOX_FEDERATION_INBOX_RATE_PER_HOST", "2.5"),
            ]),
        )
        .unwrap();
        assert!(c.tls.enabled());
        assert_eq!(c.tls.cert_file, Path::new("/etc/peerbox/cert.pem"));
        assert_eq!(c.tls.key_file, Path::new("/etc/peerbox/key.pem"));
        assert_eq!(
            c.federation,
            FederationSettings {
                allow_loopback: true,
                extra_ca_file: "/etc/peerbox/home-ca.pem".into(),
                federate_unlisted: true,
                manual_approval: true,
                retry_first_seconds: 1,
                inbox_rate_per_host: 2.5,
            }
        );
    }

    #[test]
    fn tls_keys_from_file() {
        let dir = std::env::temp_dir().join(format!("peerbox-config-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("peerbox.toml");
        std::fs::write(
            &file,
            "[tls]\ncert_file = \"/c.pem\"\nkey_file = \"/k.pem\"\n\
             [federation]\nmanual_approval = true\n",
        )
        .unwrap();
        let c = Config::load(Some(&file), env(&[])).unwrap();
        assert_eq!(c.tls.cert_file, Path::new("/c.pem"));
        assert!(c.federation.manual_approval);
        std::fs::write(&file, "[federation]\nmanual_aproval = true\n").unwrap();
        let err = format!("{:#}", Config::load(Some(&file), env(&[])).unwrap_err());
        assert!(err.contains("federation.manual_aproval"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn tls_needs_both_files() {
        for (set, missing) in [
            ("PEERBOX_TLS_CERT_FILE", "tls.key_file"),
            ("PEERBOX_TLS_KEY_FILE", "tls.cert_file"),
        ] {
            let err = format!(
                "{:#}",
                Config::load(None, env(&[(set, "/etc/peerbox/x.pem")])).unwrap_err()
            );
            assert!(err.contains(&format!("{missing} is not")), "{err}");
        }
    }

    #[test]
    fn bad_env_is_named() {
        let err = format!(
            "{:#}",
            Config::load(None, env(&[("PEERBOX_UPLOADS_MAX_FILE_SIZE", "big")])).unwrap_err()
        );
        assert!(err.contains("PEERBOX_UPLOADS_MAX_FILE_SIZE"), "{err}");
    }
}
