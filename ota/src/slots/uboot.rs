//! U-Boot with a boot counter, in RAUC's variable scheme: `BOOT_ORDER` lists the slots to try
//! ("A B"), `BOOT_<slot>_LEFT` counts the attempts left. The boot script takes the first slot
//! in order with attempts left, decrements its counter, saves the environment and boots it
//! with `peerbox.slot=<slot>` on the kernel command line. Which slot is on trial is kept by
//! the updater in its own file (`trial_file`), since boot scripts save only their variables.

use std::path::PathBuf;
use std::sync::Arc;

use crate::error::IoContext;

use super::{BootStatus, Rebooter, SlotId, SlotTargets, Slots, read_cmdline_var};
use crate::error::{Error, Result};
use crate::fault::Io;
use crate::ubootenv::{Env, EnvLocation};

pub struct Uboot {
    pub env: EnvLocation,
    pub cmdline: PathBuf,
    /// Attempts given to a committed slot (the script's default when unset).
    pub attempts: u32,
    /// Attempts given to a trial (1: like tryboot, one chance).
    pub trial_attempts: u32,
    pub targets: [SlotTargets; 2],
    pub rebooter: Arc<dyn Rebooter>,
    /// Holds "A" or "B" while that slot is armed or running as a trial.
    pub trial_file: PathBuf,
}

fn left_var(slot: SlotId) -> String {
    format!("BOOT_{slot}_LEFT")
}

impl Uboot {
    pub fn read_env(&self) -> Result<Env> {
        self.env.read()
    }

    fn order(&self, env: &Env) -> Vec<SlotId> {
        let order: Vec<SlotId> = env
            .get("BOOT_ORDER")
            .unwrap_or("A B")
            .split_whitespace()
            .filter_map(SlotId::parse)
            .collect();
        if order.is_empty() {
            vec![SlotId::A, SlotId::B]
        } else {
            order
        }
    }

    fn left(&self, env: &Env, slot: SlotId) -> u32 {
        env.get(&left_var(slot))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(self.attempts)
    }

    fn trial_slot(&self) -> Result<Option<SlotId>> {
        match std::fs::read_to_string(&self.trial_file) {
            Ok(s) => Ok(SlotId::parse(&s)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::Io {
                context: format!("reading {}", self.trial_file.display()),
                source: e,
            }),
        }
    }

    fn set_trial_slot(&self, io: &Io, slot: Option<SlotId>) -> Result<()> {
        match slot {
            Some(s) => {
                if let Some(dir) = self.trial_file.parent() {
                    std::fs::create_dir_all(dir).ctx(|| format!("creating {}", dir.display()))?;
                }
                io.atomic_write(&self.trial_file, s.to_string().as_bytes())
            }
            None if self.trial_file.exists() => {
                io.step(&format!("remove {}", self.trial_file.display()))?;
                std::fs::remove_file(&self.trial_file)
                    .ctx(|| format!("removing {}", self.trial_file.display()))
            }
            None => Ok(()),
        }
    }

    fn booted(&self) -> Result<SlotId> {
        let v = read_cmdline_var(&self.cmdline, "peerbox.slot")?.ok_or_else(|| {
            Error::Slots(format!(
                "no peerbox.slot= in {} (the boot script sets it)",
                self.cmdline.display()
            ))
        })?;
        SlotId::parse(&v).ok_or_else(|| Error::Slots(format!("peerbox.slot={v} is not A or B")))
    }

    fn set_order(env: &mut Env, first: SlotId) {
        env.set("BOOT_ORDER", format!("{first} {}", first.other()));
    }

    fn save(&self, io: &Io, mut env: Env, before: &Env) -> Result<()> {
        if env.vars == before.vars {
            return Ok(());
        }
        self.env.write(io, &mut env)
    }
}

impl Slots for Uboot {
    fn kind(&self) -> &'static str {
        "uboot"
    }

    fn boot_status(&self) -> Result<BootStatus> {
        let env = self.read_env()?;
        let booted = self.booted()?;
        let trial_slot = self.trial_slot()?;
        let order = self.order(&env);
        let primary = order
            .iter()
            .copied()
            .find(|s| Some(*s) != trial_slot && self.left(&env, *s) > 0)
            .unwrap_or(order[0]);
        Ok(BootStatus {
            booted,
            primary,
            trial: trial_slot == Some(booted),
        })
    }

    fn targets(&self, slot: SlotId) -> Result<SlotTargets> {
        Ok(self.targets[slot.index()].clone())
    }

    fn disable(&self, io: &Io, slot: SlotId) -> Result<()> {
        let before = self.read_env()?;
        let mut env = before.clone();
        env.set(&left_var(slot), "0");
        Self::set_order(&mut env, slot.other());
        self.save(io, env, &before)?;
        if self.trial_slot()? == Some(slot) {
            self.set_trial_slot(io, None)?;
        }
        Ok(())
    }

    fn arm_trial(&self, io: &Io, slot: SlotId) -> Result<()> {
        let before = self.read_env()?;
        let mut env = before.clone();
        env.set(&left_var(slot.other()), self.attempts.to_string());
        env.set(&left_var(slot), self.trial_attempts.to_string());
        Self::set_order(&mut env, slot);
        // Marker first: armed in the environment always means "on trial".
        self.set_trial_slot(io, Some(slot))?;
        self.save(io, env, &before)
    }

    fn trial_armed(&self, slot: SlotId) -> Result<bool> {
        let env = self.read_env()?;
        Ok(self.trial_slot()? == Some(slot)
            && self.order(&env).first() == Some(&slot)
            && self.left(&env, slot) > 0)
    }

    fn commit(&self, io: &Io, slot: SlotId) -> Result<()> {
        let before = self.read_env()?;
        let mut env = before.clone();
        env.set(&left_var(slot), self.attempts.to_string());
        Self::set_order(&mut env, slot);
        self.save(io, env, &before)?;
        self.set_trial_slot(io, None)
    }

    fn mark_good(&self, io: &Io) -> Result<()> {
        let status = self.boot_status()?;
        if status.trial {
            return Ok(());
        }
        let before = self.read_env()?;
        let mut env = before.clone();
        env.set(&left_var(status.booted), self.attempts.to_string());
        self.save(io, env, &before)
    }

    fn reboot(&self, _trial: bool) -> Result<()> {
        // The trial is armed in the environment; a plain reboot takes it.
        self.rebooter.reboot(false)
    }
}
