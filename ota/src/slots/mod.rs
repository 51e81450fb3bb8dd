//! A/B slots behind one trait: which slot booted, where to write the other one, how to arm a
//! one-shot trial of it, and how to make it the default.

mod rpi;
mod sim;
mod uboot;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

pub use rpi::{RpiTryboot, autoboot_txt, parse_autoboot};
pub use sim::{Sim, SimBootloader};
pub use uboot::Uboot;

use crate::error::{Error, IoContext, Result};
use crate::fault::Io;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum SlotId {
    A,
    B,
}

impl SlotId {
    pub fn other(self) -> SlotId {
        match self {
            SlotId::A => SlotId::B,
            SlotId::B => SlotId::A,
        }
    }
    pub fn index(self) -> usize {
        match self {
            SlotId::A => 0,
            SlotId::B => 1,
        }
    }
    pub fn parse(s: &str) -> Option<SlotId> {
        match s.trim() {
            "A" | "a" => Some(SlotId::A),
            "B" | "b" => Some(SlotId::B),
            _ => None,
        }
    }
}

impl fmt::Display for SlotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SlotId::A => "A",
            SlotId::B => "B",
        })
    }
}

/// Where a slot's payloads are written: partitions, or files in tests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotTargets {
    pub boot: PathBuf,
    pub system: PathBuf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct BootStatus {
    /// The slot running now.
    pub booted: SlotId,
    /// The slot the bootloader boots by default (the committed one).
    pub primary: SlotId,
    /// This boot is an unconfirmed trial of `booted`.
    pub trial: bool,
}

pub trait Slots: Send + Sync {
    fn kind(&self) -> &'static str;
    fn boot_status(&self) -> Result<BootStatus>;
    fn targets(&self, slot: SlotId) -> Result<SlotTargets>;
    /// Makes `slot` unbootable; done before it is written so a half-written slot is never tried.
    fn disable(&self, io: &Io, slot: SlotId) -> Result<()>;
    /// Slot-specific fix-ups after the boot payload is written (RPi: cmdline.txt's root=).
    fn prepare_boot(&self, _io: &Io, _slot: SlotId) -> Result<()> {
        Ok(())
    }
    /// Arms one trial boot of `slot`; a failed or unconfirmed trial falls back by itself.
    fn arm_trial(&self, io: &Io, slot: SlotId) -> Result<()>;
    /// Whether a trial of `slot` would still happen on the next (trial) reboot.
    fn trial_armed(&self, slot: SlotId) -> Result<bool>;
    /// Makes `slot` (the running trial) the default.
    fn commit(&self, io: &Io, slot: SlotId) -> Result<()>;
    /// A normal boot was healthy (U-Boot: reset its boot counter).
    fn mark_good(&self, _io: &Io) -> Result<()> {
        Ok(())
    }
    /// Reboots; `trial` asks for the armed trial (RPi: the one-shot tryboot flag).
    fn reboot(&self, trial: bool) -> Result<()>;
}

/// How a reboot is requested, so tests can observe it instead of rebooting.
pub trait Rebooter: Send + Sync {
    fn reboot(&self, tryboot: bool) -> Result<()>;
}

/// Runs a command, e.g. `systemctl reboot` or `systemctl reboot "0 tryboot"` (systemd passes
/// the argument to reboot(2), which the RPi firmware driver turns into the tryboot flag).
pub struct CommandRebooter {
    pub normal: Vec<String>,
    pub tryboot: Vec<String>,
}

impl Rebooter for CommandRebooter {
    fn reboot(&self, tryboot: bool) -> Result<()> {
        let cmd = if tryboot { &self.tryboot } else { &self.normal };
        let (prog, args) = cmd
            .split_first()
            .ok_or_else(|| Error::Config("empty reboot command".into()))?;
        let status = std::process::Command::new(prog)
            .args(args)
            .status()
            .ctx(|| format!("running {}", cmd.join(" ")))?;
        if !status.success() {
            return Err(Error::Slots(format!("{} failed: {status}", cmd.join(" "))));
        }
        Ok(())
    }
}

/// Records reboot requests (true = tryboot) for tests.
#[derive(Clone, Default)]
pub struct RecordingRebooter(pub Arc<Mutex<Vec<bool>>>);

impl Rebooter for RecordingRebooter {
    fn reboot(&self, tryboot: bool) -> Result<()> {
        self.0
            .lock()
            .map_err(|_| Error::Slots("reboot recorder poisoned".into()))?
            .push(tryboot);
        Ok(())
    }
}

/// The `root=PARTUUID=<disk id>-<nn>` of a kernel command line.
pub fn root_partuuid(cmdline: &str) -> Option<(String, u32)> {
    let arg = cmdline
        .split_whitespace()
        .find_map(|a| a.strip_prefix("root=PARTUUID="))?;
    let (disk, part) = arg.rsplit_once('-')?;
    if disk.len() != 8 || !disk.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    Some((
        disk.to_ascii_lowercase(),
        u32::from_str_radix(part, 16).ok()?,
    ))
}

/// A device path from the configuration: `part:N` is partition N of the disk the running
/// system booted from (by the PARTUUID on the kernel command line); anything else is a path.
pub fn resolve_device(spec: &str, cmdline: &Path) -> Result<PathBuf> {
    let Some(n) = spec.strip_prefix("part:") else {
        return Ok(PathBuf::from(spec));
    };
    let n: u32 = n
        .parse()
        .map_err(|_| Error::Config(format!("bad partition spec {spec:?}")))?;
    let text = std::fs::read_to_string(cmdline).ctx(|| format!("reading {}", cmdline.display()))?;
    let (disk, _) = root_partuuid(&text).ok_or_else(|| {
        Error::Config(format!(
            "{spec}: no root=PARTUUID=<disk id>-<n> in {}",
            cmdline.display()
        ))
    })?;
    Ok(PathBuf::from(format!(
        "/dev/disk/by-partuuid/{disk}-{n:02x}"
    )))
}

pub(crate) fn read_cmdline_var(cmdline: &Path, key: &str) -> Result<Option<String>> {
    let text = std::fs::read_to_string(cmdline).ctx(|| format!("reading {}", cmdline.display()))?;
    Ok(text
        .split_whitespace()
        .find_map(|a| a.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
        .map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_partuuid_reads_disk_and_partition() {
        assert_eq!(
            root_partuuid("console=serial0 root=PARTUUID=1234ABCD-0a ro"),
            Some(("1234abcd".to_string(), 10))
        );
        assert_eq!(root_partuuid("root=/dev/mmcblk0p5"), None);
        assert_eq!(root_partuuid("root=PARTUUID=123-05"), None);
    }

    #[test]
    fn autoboot_round_trips_and_keeps_its_length() {
        let ab = autoboot_txt(2, 3);
        assert_eq!(parse_autoboot(&ab), Some((2, Some(3))));
        assert_eq!(ab.len(), autoboot_txt(3, 2).len());
        assert_eq!(parse_autoboot("[all]\nboot_partition=5\n"), Some((5, None)));
        assert_eq!(parse_autoboot("[tryboot]\nboot_partition=3\n"), None);
        assert_eq!(parse_autoboot("boot_partition=x"), None);
    }
}
