//! A file-backed simulator: slots are plain files and the "bootloader" is a JSON file with
//! tryboot-like semantics, so tests can power-cycle a device in microseconds.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{BootStatus, SlotId, SlotTargets, Slots};
use crate::error::{Error, IoContext, Result};
use crate::fault::Io;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimBootloader {
    pub primary: SlotId,
    /// A one-shot trial, consumed by the next power-on.
    pub armed: Option<SlotId>,
    pub disabled: Vec<SlotId>,
    pub booted: SlotId,
    pub booted_trial: bool,
    /// Reboots requested by the updater ("normal" or "trial").
    #[serde(default)]
    pub reboots: Vec<String>,
}

pub struct Sim {
    dir: PathBuf,
}

impl Sim {
    pub fn open(dir: &Path) -> Self {
        Sim {
            dir: dir.to_owned(),
        }
    }

    /// Makes a fresh device running slot A, with slot files of the given sizes.
    pub fn create(dir: &Path, boot_size: u64, system_size: u64) -> Result<Self> {
        fs::create_dir_all(dir).ctx(|| format!("creating {}", dir.display()))?;
        for slot in ["a", "b"] {
            for (part, size) in [("boot", boot_size), ("system", system_size)] {
                let p = dir.join(format!("{slot}.{part}"));
                let f = fs::File::create(&p).ctx(|| format!("creating {}", p.display()))?;
                f.set_len(size).ctx(|| format!("sizing {}", p.display()))?;
            }
        }
        let sim = Sim::open(dir);
        fs::write(dir.join("boot_id"), "first\n").ctx(|| format!("writing {}", dir.display()))?;
        sim.save(
            &Io::default(),
            &SimBootloader {
                primary: SlotId::A,
                armed: None,
                disabled: vec![],
                booted: SlotId::A,
                booted_trial: false,
                reboots: vec![],
            },
        )?;
        Ok(sim)
    }

    fn path(&self) -> PathBuf {
        self.dir.join("bootloader.json")
    }

    pub fn load(&self) -> Result<SimBootloader> {
        let p = self.path();
        let text = fs::read(&p).ctx(|| format!("reading {}", p.display()))?;
        serde_json::from_slice(&text).map_err(|e| Error::Slots(format!("{}: {e}", p.display())))
    }

    fn save(&self, io: &Io, s: &SimBootloader) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(s).map_err(|e| Error::Slots(e.to_string()))?;
        io.atomic_write(&self.path(), &bytes)
    }

    /// A power cycle: the firmware consumes an armed trial, else boots the primary slot.
    /// Writes a new `boot_id` beside the bootloader file, as the kernel has one per boot.
    pub fn power_on(&self) -> Result<SimBootloader> {
        let id: u64 = rand::random();
        let p = self.dir.join("boot_id");
        fs::write(&p, format!("{id:016x}\n")).ctx(|| format!("writing {}", p.display()))?;
        let mut s = self.load()?;
        match s.armed.take() {
            Some(t) if !s.disabled.contains(&t) => {
                s.booted = t;
                s.booted_trial = true;
            }
            _ => {
                if s.disabled.contains(&s.primary) {
                    return Err(Error::Slots(format!(
                        "primary slot {} is disabled: nothing to boot",
                        s.primary
                    )));
                }
                s.booted = s.primary;
                s.booted_trial = false;
            }
        }
        s.reboots.clear();
        self.save(&Io::default(), &s)?;
        Ok(s)
    }
}

impl Slots for Sim {
    fn kind(&self) -> &'static str {
        "sim"
    }

    fn boot_status(&self) -> Result<BootStatus> {
        let s = self.load()?;
        Ok(BootStatus {
            booted: s.booted,
            primary: s.primary,
            trial: s.booted_trial && s.booted != s.primary,
        })
    }

    fn targets(&self, slot: SlotId) -> Result<SlotTargets> {
        let l = slot.to_string().to_ascii_lowercase();
        Ok(SlotTargets {
            boot: self.dir.join(format!("{l}.boot")),
            system: self.dir.join(format!("{l}.system")),
        })
    }

    fn disable(&self, io: &Io, slot: SlotId) -> Result<()> {
        let mut s = self.load()?;
        if slot == s.primary {
            return Err(Error::Slots(format!(
                "refusing to disable the primary slot {slot}"
            )));
        }
        if !s.disabled.contains(&slot) || s.armed == Some(slot) {
            s.disabled.push(slot);
            s.disabled.dedup();
            if s.armed == Some(slot) {
                s.armed = None;
            }
            self.save(io, &s)?;
        }
        Ok(())
    }

    fn arm_trial(&self, io: &Io, slot: SlotId) -> Result<()> {
        let mut s = self.load()?;
        s.disabled.retain(|d| *d != slot);
        s.armed = Some(slot);
        self.save(io, &s)
    }

    fn trial_armed(&self, slot: SlotId) -> Result<bool> {
        Ok(self.load()?.armed == Some(slot))
    }

    fn commit(&self, io: &Io, slot: SlotId) -> Result<()> {
        let mut s = self.load()?;
        s.primary = slot;
        s.disabled.retain(|d| *d != slot);
        self.save(io, &s)
    }

    fn reboot(&self, trial: bool) -> Result<()> {
        let mut s = self.load()?;
        s.reboots
            .push(if trial { "trial" } else { "normal" }.into());
        self.save(&Io::default(), &s)
    }
}
