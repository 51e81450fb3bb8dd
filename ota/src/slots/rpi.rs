//! Raspberry Pi firmware A/B with `tryboot` (as Rugix and the Raspberry Pi documentation do).
//!
//! `autoboot.txt` on the config FAT partition names the default boot partition in `[all]`
//! and the other one in `[tryboot]`, with `tryboot_a_b=1`. A trial reboot sets the one-shot
//! tryboot flag; the firmware clears it before starting the OS, so any crash or reset falls
//! back to the default. A healthy trial commits by rewriting `autoboot.txt` atomically.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{BootStatus, Rebooter, SlotId, SlotTargets, Slots, root_partuuid};
use crate::error::{Error, IoContext, Result};
use crate::fatimg::FatAccess;
use crate::fault::Io;

pub struct RpiTryboot {
    pub config: FatAccess,
    /// `/proc/device-tree/chosen/bootloader`: `partition` and `tryboot` (big-endian u32).
    pub devicetree: PathBuf,
    /// `/proc/cmdline`, for the disk id written into the new slot's cmdline.txt.
    pub cmdline: PathBuf,
    /// Boot partition numbers of slots A and B (2 and 3).
    pub boot_partitions: [u32; 2],
    /// System partition numbers of slots A and B (5 and 6), for cmdline.txt's root=.
    pub system_partitions: [u32; 2],
    pub targets: [SlotTargets; 2],
    pub rebooter: Arc<dyn Rebooter>,
}

/// The canonical file (Raspberry Pi documentation, Rugix). Swapping 2 and 3 keeps its length,
/// which keeps in-place rewrites to one sector.
pub fn autoboot_txt(default: u32, tryboot: u32) -> String {
    format!("[all]\ntryboot_a_b=1\nboot_partition={default}\n[tryboot]\nboot_partition={tryboot}\n")
}

/// (default partition, tryboot partition)
pub fn parse_autoboot(text: &str) -> Option<(u32, Option<u32>)> {
    let mut section = "all".to_string();
    let (mut default, mut tryboot) = (None, None);
    for line in text.lines().map(str::trim) {
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s.to_string();
        } else if let Some(v) = line.strip_prefix("boot_partition=") {
            let n = v.trim().parse().ok()?;
            match section.as_str() {
                "all" => default = Some(n),
                "tryboot" => tryboot = Some(n),
                _ => {}
            }
        }
    }
    Some((default?, tryboot))
}

fn read_be_u32(path: &Path) -> Result<u32> {
    let b = std::fs::read(path).ctx(|| format!("reading {}", path.display()))?;
    let b: [u8; 4] = b
        .get(..4)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| Error::Slots(format!("{} is not a 4-byte value", path.display())))?;
    Ok(u32::from_be_bytes(b))
}

impl RpiTryboot {
    fn slot_of(&self, partition: u32) -> Result<SlotId> {
        match self.boot_partitions.iter().position(|p| *p == partition) {
            Some(0) => Ok(SlotId::A),
            Some(_) => Ok(SlotId::B),
            None => Err(Error::Slots(format!(
                "boot partition {partition} is neither slot A ({}) nor B ({})",
                self.boot_partitions[0], self.boot_partitions[1]
            ))),
        }
    }

    fn part(&self, slot: SlotId) -> u32 {
        self.boot_partitions[slot.index()]
    }

    pub fn read_autoboot(&self) -> Result<(u32, Option<u32>)> {
        let bytes = self.config.read("autoboot.txt")?.ok_or_else(|| {
            Error::Slots("autoboot.txt is missing from the config partition".into())
        })?;
        parse_autoboot(&String::from_utf8_lossy(&bytes))
            .ok_or_else(|| Error::Slots("autoboot.txt has no [all] boot_partition=".into()))
    }

    fn write_autoboot(&self, io: &Io, default: SlotId) -> Result<()> {
        let (want_default, want_try) = (self.part(default), self.part(default.other()));
        // Only a change of meaning is written (the image's file may carry comments).
        if self.read_autoboot().ok() == Some((want_default, Some(want_try))) {
            return Ok(());
        }
        self.config.replace(
            io,
            "autoboot.txt",
            autoboot_txt(want_default, want_try).as_bytes(),
        )
    }
}

impl Slots for RpiTryboot {
    fn kind(&self) -> &'static str {
        "rpi-tryboot"
    }

    fn boot_status(&self) -> Result<BootStatus> {
        let booted = self.slot_of(read_be_u32(&self.devicetree.join("partition"))?)?;
        let flag = read_be_u32(&self.devicetree.join("tryboot"))? != 0;
        let (default, _) = self.read_autoboot()?;
        let primary = self.slot_of(default)?;
        Ok(BootStatus {
            booted,
            primary,
            trial: flag && booted != primary,
        })
    }

    fn targets(&self, slot: SlotId) -> Result<SlotTargets> {
        Ok(self.targets[slot.index()].clone())
    }

    /// The firmware only boots `[tryboot]` with the one-shot flag, which only `reboot(true)`
    /// sets: an unarmed slot is already unbootable.
    fn disable(&self, _io: &Io, _slot: SlotId) -> Result<()> {
        Ok(())
    }

    /// Points the new slot's cmdline.txt at its own system partition on this disk, and names
    /// the slot (`peerbox.slot=`) for the system's own scripts.
    fn prepare_boot(&self, io: &Io, slot: SlotId) -> Result<()> {
        let boot = FatAccess::Image(self.targets[slot.index()].boot.clone());
        let Some(bytes) = boot.read("cmdline.txt")? else {
            return Err(Error::Slots(
                "the bundle's boot files have no cmdline.txt".into(),
            ));
        };
        let old = String::from_utf8_lossy(&bytes).into_owned();
        let running = std::fs::read_to_string(&self.cmdline)
            .ctx(|| format!("reading {}", self.cmdline.display()))?;
        let (disk, _) = root_partuuid(&running).ok_or_else(|| {
            Error::Slots(format!("no root=PARTUUID= in {}", self.cmdline.display()))
        })?;
        let root = format!(
            "root=PARTUUID={disk}-{:02x}",
            self.system_partitions[slot.index()]
        );
        let mut found = false;
        let new: Vec<String> = old
            .split_whitespace()
            .map(|a| {
                if a.starts_with("root=") {
                    found = true;
                    root.clone()
                } else if a.starts_with("peerbox.slot=") {
                    format!("peerbox.slot={slot}")
                } else {
                    a.to_string()
                }
            })
            .collect();
        if !found {
            return Err(Error::Slots(
                "the bundle's cmdline.txt has no root= to point at the new slot".into(),
            ));
        }
        boot.replace(io, "cmdline.txt", format!("{}\n", new.join(" ")).as_bytes())
    }

    fn arm_trial(&self, io: &Io, slot: SlotId) -> Result<()> {
        let booted = self.boot_status()?.booted;
        if booted == slot {
            return Err(Error::Slots(format!(
                "slot {slot} is running; can't arm a trial of it"
            )));
        }
        self.write_autoboot(io, booted)
    }

    fn trial_armed(&self, slot: SlotId) -> Result<bool> {
        let (default, tryboot) = self.read_autoboot()?;
        Ok(default != self.part(slot) && tryboot == Some(self.part(slot)))
    }

    fn commit(&self, io: &Io, slot: SlotId) -> Result<()> {
        self.write_autoboot(io, slot)
    }

    fn reboot(&self, trial: bool) -> Result<()> {
        self.rebooter.reboot(trial)
    }
}
