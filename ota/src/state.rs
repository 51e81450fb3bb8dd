//! The updater's persistent state, one JSON file on the data partition replaced atomically.
//! The bootloader decides what boots; this file only remembers what the updater was doing,
//! so that after any crash the next start can tell what happened and say so.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::fault::Io;
use crate::slots::SlotId;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "kebab-case")]
pub enum Phase {
    #[default]
    Idle,
    /// Writing `slot` (disabled in the bootloader first).
    Installing {
        slot: SlotId,
        version: String,
        step: String,
    },
    /// Written, verified and armed: the next (trial) reboot tries it.
    Pending { slot: SlotId, version: String },
    /// The updater asked for the trial reboot during boot `boot_id`; until the boot id
    /// changes the reboot is still on its way (a shutdown takes a while).
    Rebooting {
        slot: SlotId,
        version: String,
        #[serde(default)]
        boot_id: Option<String>,
    },
    /// Running the trial; `failure` is set when the health check gave up.
    Trial {
        slot: SlotId,
        version: String,
        started: u64,
        failure: Option<String>,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutcomeKind {
    /// Committed after a healthy trial.
    Success,
    /// The bundle was refused before anything was written (signature, board, version...).
    Refused,
    /// Writing failed (storage, network, corrupt block); the old slot is untouched.
    Failed,
    /// The installer died midway (power cut, kill); the old slot is untouched.
    Interrupted,
    /// The trial boot was unhealthy or never confirmed; the old slot runs again.
    RolledBack,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub version: Option<String>,
    pub result: OutcomeKind,
    pub message: String,
    /// Unix seconds.
    pub at: u64,
    /// The trial boot's log, for rollbacks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<PathBuf>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotRecord {
    pub version: String,
    pub bundle_id: String,
    #[serde(default)]
    pub min_version: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    #[serde(flatten)]
    pub phase: Phase,
    #[serde(default)]
    pub last: Option<Outcome>,
    /// Minimum allowed version, raised by each committed bundle's `min_version`.
    #[serde(default)]
    pub floor: Option<String>,
    /// What the updater wrote into each slot.
    #[serde(default)]
    pub slots: BTreeMap<SlotId, SlotRecord>,
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub(crate) fn path(dir: &Path) -> PathBuf {
    dir.join("state.json")
}

pub fn load(dir: &Path) -> Result<State> {
    let p = path(dir);
    match std::fs::read(&p) {
        Ok(b) => {
            serde_json::from_slice(&b).map_err(|e| Error::State(format!("{}: {e}", p.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
        Err(e) => Err(Error::Io {
            context: format!("reading {}", p.display()),
            source: e,
        }),
    }
}

pub(crate) fn save(io: &Io, dir: &Path, st: &State) -> Result<()> {
    std::fs::create_dir_all(dir).ctx(|| format!("creating {}", dir.display()))?;
    let bytes = serde_json::to_vec_pretty(st).map_err(|e| Error::State(e.to_string()))?;
    io.atomic_write(&path(dir), &bytes)
}
