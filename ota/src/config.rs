//! The device's update configuration: a TOML file on the read-only system partition
//! (`/etc/peerbox/ota.toml` by default), since board, keyring and slot layout belong to the
//! image, not to the user.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, IoContext, Result};
use crate::fatimg::FatAccess;
use crate::slots::{self, CommandRebooter, Rebooter, SlotTargets, Slots};
use crate::ubootenv::EnvLocation;

pub const DEFAULT_PATH: &str = "/etc/peerbox/ota.toml";

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtaConfig {
    /// Board name; bundles for other boards are refused.
    pub board: String,
    /// Folder of trusted `*.pub` keys (or one file with a key a line).
    #[serde(default = "default_keyring")]
    pub keyring: PathBuf,
    /// The running system's version (written by the image build).
    #[serde(default = "default_version_file")]
    pub version_file: PathBuf,
    /// Updater state, on the data partition.
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// Changes at every boot (tells "reboot under way" from "rebooted").
    #[serde(default = "default_boot_id")]
    pub boot_id: PathBuf,
    /// The trial boot's log, on the data partition; defaults to `<state_dir>/trial.log`.
    #[serde(default)]
    pub trial_log: Option<PathBuf>,
    pub slots: SlotsConfig,
    #[serde(default)]
    pub feed: Option<FeedConfig>,
    /// A TOML file whose `[feed]` replaces the one above when it exists, e.g. on the config
    /// partition so a box can be pointed at another feed (bundles stay signed either way).
    /// Its `ca_file` is relative to the file's folder.
    #[serde(default)]
    pub feed_file: Option<PathBuf>,
    #[serde(default)]
    pub health: HealthConfig,
}

fn default_keyring() -> PathBuf {
    "/etc/peerbox/ota-keys".into()
}
fn default_version_file() -> PathBuf {
    "/etc/peerbox/version".into()
}
fn default_boot_id() -> PathBuf {
    "/proc/sys/kernel/random/boot_id".into()
}
fn default_state_dir() -> PathBuf {
    "/var/lib/peerbox/ota".into()
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotPaths {
    /// A path, or `part:N` for partition N of the boot disk.
    pub boot: String,
    pub system: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum SlotsConfig {
    Sim {
        dir: PathBuf,
    },
    RpiTryboot {
        a: SlotPaths,
        b: SlotPaths,
        /// The mounted config partition (`/boot/config`), or `image` instead.
        #[serde(default)]
        config_dir: Option<PathBuf>,
        /// The config partition as a device or image file (`part:1`), accessed with fatfs.
        #[serde(default)]
        config_image: Option<String>,
        #[serde(default = "default_devicetree")]
        devicetree: PathBuf,
        #[serde(default = "default_cmdline")]
        cmdline: PathBuf,
        #[serde(default = "default_boot_partitions")]
        boot_partitions: [u32; 2],
        #[serde(default = "default_system_partitions")]
        system_partitions: [u32; 2],
        #[serde(default = "default_reboot")]
        reboot_command: Vec<String>,
        #[serde(default = "default_tryboot")]
        tryboot_command: Vec<String>,
    },
    Uboot {
        a: SlotPaths,
        b: SlotPaths,
        env: EnvLocation,
        #[serde(default = "default_cmdline")]
        cmdline: PathBuf,
        #[serde(default = "default_attempts")]
        attempts: u32,
        #[serde(default = "default_trial_attempts")]
        trial_attempts: u32,
        #[serde(default = "default_reboot")]
        reboot_command: Vec<String>,
        /// Which slot is on trial; defaults to `<state_dir>/uboot-trial`.
        #[serde(default)]
        trial_file: Option<PathBuf>,
    },
}

fn default_devicetree() -> PathBuf {
    "/proc/device-tree/chosen/bootloader".into()
}
fn default_cmdline() -> PathBuf {
    "/proc/cmdline".into()
}
fn default_boot_partitions() -> [u32; 2] {
    [2, 3]
}
fn default_system_partitions() -> [u32; 2] {
    [5, 6]
}
fn default_reboot() -> Vec<String> {
    vec!["systemctl".into(), "reboot".into()]
}
fn default_tryboot() -> Vec<String> {
    vec!["systemctl".into(), "reboot".into(), "0 tryboot".into()]
}
fn default_attempts() -> u32 {
    3
}
fn default_trial_attempts() -> u32 {
    1
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedConfig {
    /// HTTPS URL of the JSON index.
    pub url: String,
    /// Extra CA certificate (PEM) trusted for the feed, besides the built-in roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Most bytes one install may download, retries included.
    #[serde(default)]
    pub data_cap: Option<u64>,
    #[serde(default = "default_retries")]
    pub retries: u32,
    #[serde(default = "default_retry_delay_ms")]
    pub retry_delay_ms: u64,
    #[serde(default = "default_poll_secs")]
    pub poll_secs: u64,
    /// Gives up on a connection that sends nothing for this long, then resumes.
    #[serde(default = "default_stall_secs")]
    pub stall_secs: u64,
}

fn default_retries() -> u32 {
    8
}
fn default_retry_delay_ms() -> u64 {
    2000
}
fn default_poll_secs() -> u64 {
    6 * 3600
}
fn default_stall_secs() -> u64 {
    60
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthConfig {
    /// How long the node must stay healthy before a trial is committed.
    #[serde(default = "default_hold")]
    pub hold_secs: f64,
    /// How long a trial may take to become healthy before it is rolled back.
    #[serde(default = "default_timeout")]
    pub timeout_secs: f64,
    #[serde(default = "default_interval")]
    pub interval_secs: f64,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            hold_secs: default_hold(),
            timeout_secs: default_timeout(),
            interval_secs: default_interval(),
        }
    }
}

impl HealthConfig {
    pub fn hold(&self) -> Duration {
        Duration::from_secs_f64(self.hold_secs.clamp(0.0, 86400.0))
    }
    pub fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout_secs.clamp(0.0, 86400.0))
    }
    pub fn interval(&self) -> Duration {
        Duration::from_secs_f64(self.interval_secs.clamp(0.01, 3600.0))
    }
}

fn default_hold() -> f64 {
    60.0
}
fn default_timeout() -> f64 {
    600.0
}
fn default_interval() -> f64 {
    2.0
}

impl OtaConfig {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).ctx(|| format!("reading {}", path.display()))?;
        Self::parse(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
    }

    pub fn parse(text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| Error::Config(e.to_string()))
    }

    /// The feed in force: `feed_file`'s when it exists, else `[feed]`.
    pub fn feed(&self) -> Result<Option<FeedConfig>> {
        #[derive(Deserialize)]
        struct FeedFile {
            feed: FeedConfig,
        }
        let Some(path) = self.feed_file.as_ref().filter(|p| p.exists()) else {
            return Ok(self.feed.clone());
        };
        let text = std::fs::read_to_string(path).ctx(|| format!("reading {}", path.display()))?;
        let mut f: FeedFile =
            toml::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        if let (Some(ca), Some(dir)) = (&f.feed.ca_file, path.parent()) {
            f.feed.ca_file = Some(dir.join(ca));
        }
        Ok(Some(f.feed))
    }

    pub fn trial_log(&self) -> PathBuf {
        self.trial_log
            .clone()
            .unwrap_or_else(|| self.state_dir.join("trial.log"))
    }

    /// Builds the slot backend; `rebooter` replaces the configured commands (tests).
    pub fn slots(&self, rebooter: Option<Arc<dyn Rebooter>>) -> Result<Box<dyn Slots>> {
        let targets = |a: &SlotPaths, b: &SlotPaths, cmdline: &Path| -> Result<[SlotTargets; 2]> {
            let t = |p: &SlotPaths| -> Result<SlotTargets> {
                Ok(SlotTargets {
                    boot: slots::resolve_device(&p.boot, cmdline)?,
                    system: slots::resolve_device(&p.system, cmdline)?,
                })
            };
            Ok([t(a)?, t(b)?])
        };
        Ok(match &self.slots {
            SlotsConfig::Sim { dir } => Box::new(slots::Sim::open(dir)),
            SlotsConfig::RpiTryboot {
                a,
                b,
                config_dir,
                config_image,
                devicetree,
                cmdline,
                boot_partitions,
                system_partitions,
                reboot_command,
                tryboot_command,
            } => {
                let config = match (config_dir, config_image) {
                    (Some(d), None) => FatAccess::Mounted(d.clone()),
                    (None, Some(i)) => FatAccess::Image(slots::resolve_device(i, cmdline)?),
                    _ => {
                        return Err(Error::Config(
                            "slots: set exactly one of config_dir (mounted) and config_image"
                                .into(),
                        ));
                    }
                };
                Box::new(slots::RpiTryboot {
                    config,
                    devicetree: devicetree.clone(),
                    cmdline: cmdline.clone(),
                    boot_partitions: *boot_partitions,
                    system_partitions: *system_partitions,
                    targets: targets(a, b, cmdline)?,
                    rebooter: rebooter.unwrap_or_else(|| {
                        Arc::new(CommandRebooter {
                            normal: reboot_command.clone(),
                            tryboot: tryboot_command.clone(),
                        })
                    }),
                })
            }
            SlotsConfig::Uboot {
                a,
                b,
                env,
                cmdline,
                attempts,
                trial_attempts,
                reboot_command,
                trial_file,
            } => Box::new(slots::Uboot {
                env: env.clone(),
                cmdline: cmdline.clone(),
                attempts: *attempts,
                trial_attempts: (*trial_attempts).max(1),
                targets: targets(a, b, cmdline)?,
                rebooter: rebooter.unwrap_or_else(|| {
                    Arc::new(CommandRebooter {
                        normal: reboot_command.clone(),
                        tryboot: reboot_command.clone(),
                    })
                }),
                trial_file: trial_file
                    .clone()
                    .unwrap_or_else(|| self.state_dir.join("uboot-trial")),
            }),
        })
    }
}
