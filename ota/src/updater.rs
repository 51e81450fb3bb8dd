//! The updater: installs a bundle into the inactive slot, arms a trial boot, and on the next
//! boot works out what happened and commits or rolls back.
//!
//! Order of writes during an install, each persisted before the next (any crash leaves the
//! running slot as the default and the other one unbootable or complete):
//! 1. header, signature, index and policy checked (nothing written yet);
//! 2. state `installing`, then the target slot disabled in the bootloader;
//! 3. payloads written block by block, each block hashed before it is written; fsync; read back;
//! 4. state records the slot's new version, then the bootloader arms one trial of it;
//! 5. state `pending`. A reboot (`reboot_into_update`) then tries it once.

use std::fs::{File, OpenOptions};
use std::future::Future;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::bundle::{self, Header, Policy};
use crate::config::OtaConfig;
use crate::error::{Error, IoContext, Result};
use crate::fault::Io;
use crate::keys::Keyring;
use crate::slots::{BootStatus, SlotId, Slots};
use crate::state::{self, Outcome, OutcomeKind, Phase, SlotRecord, State};
use crate::version::Version;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    Verifying,
    Downloading,
    Writing,
    Done,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Progress {
    pub stage: Stage,
    pub version: Option<String>,
    /// Bytes of the bundle processed so far, and in all (0 when unknown).
    pub done: u64,
    pub total: u64,
}

pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Installed {
    pub version: String,
    pub slot: SlotId,
    pub bundle_id: String,
    pub signed_by: String,
}

/// What the boot-time check found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum BootCheck {
    /// An ordinary boot of the committed slot.
    Normal,
    /// An update is written and waits for a reboot.
    Pending { slot: SlotId, version: String },
    /// This boot is a trial: run the health check, then commit or roll back.
    Trial { slot: SlotId, version: String },
    /// This boot is the old slot after a failed trial.
    RolledBack { version: String, reason: String },
    /// The last trial was committed (found committed at boot).
    Committed { version: String },
    /// This trial failed its health check; the reboot into the old slot is pending.
    RollingBack { version: String, reason: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum HealthOutcome {
    /// Not a trial boot; `marked_good` once the node was healthy.
    NotTrial {
        marked_good: bool,
    },
    Committed {
        version: String,
    },
    /// Unhealthy trial: the old slot was made default again and a reboot requested.
    RolledBack {
        version: String,
        reason: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PendingInfo {
    pub version: String,
    pub slot: SlotId,
    /// installing, reboot-required, rebooting, trial, rolling-back
    pub state: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Status {
    pub board: String,
    pub slots: &'static str,
    pub current_version: String,
    pub booted: Option<SlotId>,
    pub primary: Option<SlotId>,
    pub trial: bool,
    pub pending: Option<PendingInfo>,
    pub last_result: Option<Outcome>,
    /// The last lines of the trial log when the last result is a rollback.
    pub last_log: Option<String>,
    pub progress: Option<Progress>,
    pub minimum_version: Option<String>,
    /// Set when the bootloader state can't be read.
    pub error: Option<String>,
}

pub struct Ota {
    config: OtaConfig,
    slots: Box<dyn Slots>,
    io: Io,
    progress: Arc<Mutex<Option<Progress>>>,
}

struct Lock(#[allow(dead_code)] File);

impl Ota {
    pub fn new(config: OtaConfig) -> Result<Self> {
        let slots = config.slots(None)?;
        Ok(Self::with_parts(config, slots, Io::default()))
    }

    /// With a given slot backend and I/O (fault injection).
    pub fn with_parts(config: OtaConfig, slots: Box<dyn Slots>, io: Io) -> Self {
        Ota {
            config,
            slots,
            io,
            progress: Arc::new(Mutex::new(None)),
        }
    }

    pub fn config(&self) -> &OtaConfig {
        &self.config
    }

    pub fn slots(&self) -> &dyn Slots {
        self.slots.as_ref()
    }

    pub fn keyring(&self) -> Result<Keyring> {
        Keyring::load(&self.config.keyring)
    }

    pub fn running_version(&self) -> Result<Version> {
        let p = &self.config.version_file;
        let text = std::fs::read_to_string(p)
            .ctx(|| format!("reading the running version {}", p.display()))?;
        Version::parse(text.trim())
    }

    /// The kernel's id of this boot.
    fn boot_id(&self) -> Option<String> {
        std::fs::read_to_string(&self.config.boot_id)
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    fn lock(&self) -> Result<Lock> {
        self.lock_within(Duration::from_secs(2))
    }

    fn lock_within(&self, wait: Duration) -> Result<Lock> {
        let dir = &self.config.state_dir;
        std::fs::create_dir_all(dir).ctx(|| format!("creating {}", dir.display()))?;
        let p = dir.join("lock");
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .ctx(|| format!("opening {}", p.display()))?;
        // An flock: released by the kernel when the process dies, however it dies. A forked
        // child holds it until its exec, so a short wait tells that from a real install.
        let deadline = Instant::now() + wait;
        loop {
            match f.try_lock() {
                Ok(()) => return Ok(Lock(f)),
                Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Err(std::fs::TryLockError::WouldBlock) => return Err(Error::Busy),
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(Error::Io {
                        context: format!("locking {}", p.display()),
                        source: e,
                    });
                }
            }
        }
    }

    fn load(&self) -> Result<State> {
        state::load(&self.config.state_dir)
    }

    fn save(&self, st: &State) -> Result<()> {
        state::save(&self.io, &self.config.state_dir, st)
    }

    pub fn policy(&self) -> Result<Policy> {
        let st = self.load()?;
        Ok(Policy {
            board: self.config.board.clone(),
            running: self.running_version()?,
            floor: st.floor.as_deref().map(Version::parse).transpose()?,
        })
    }

    fn set_progress(&self, p: Option<Progress>, cb: &dyn Fn(&Progress)) {
        if let Some(p) = &p {
            cb(p);
        }
        let Ok(mut g) = self.progress.lock() else {
            return;
        };
        let pct = |p: &Option<Progress>| {
            p.as_ref()
                .map(|p| (p.stage, (p.done * 100).checked_div(p.total)))
        };
        // Another process (the admin page's) reads progress.json; written once a percent,
        // without fsync: it only drives a progress bar.
        if pct(&g) != pct(&p) {
            let file = self.config.state_dir.join("progress.json");
            match &p {
                Some(p) => {
                    let tmp = file.with_extension("json.new");
                    if let Ok(bytes) = serde_json::to_vec(p)
                        && std::fs::write(&tmp, bytes).is_ok()
                    {
                        let _ = std::fs::rename(&tmp, &file);
                    }
                }
                None => {
                    let _ = std::fs::remove_file(&file);
                }
            }
        }
        *g = p;
    }

    /// Whether another process holds the lock, asked through a read-only handle (an flock
    /// needs no write access); false when there is no lock file yet.
    fn locked_elsewhere(&self) -> bool {
        let Ok(f) = File::open(self.config.state_dir.join("lock")) else {
            return false;
        };
        matches!(f.try_lock_shared(), Err(std::fs::TryLockError::WouldBlock))
    }

    /// Progress of an install running in another process (it holds the lock).
    fn foreign_progress(&self) -> Option<Progress> {
        let bytes = std::fs::read(self.config.state_dir.join("progress.json")).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Current state. Settles a finished trial first when no install holds the lock, so the
    /// answer is true even before `boot_check` ran.
    pub fn status(&self) -> Result<Status> {
        let mut busy = false;
        match self.lock_within(Duration::ZERO) {
            Ok(_lock) => {
                let mut st = self.load()?;
                if let Err(e) = self.reconcile(&mut st) {
                    tracing::warn!(target: "peerbox_ota", "settling the update state: {e}");
                }
            }
            Err(Error::Busy) => busy = true,
            // A reader that may not write the state folder (the node runs unprivileged)
            // settles nothing but must still see an install running in the root process.
            Err(_) => busy = self.locked_elsewhere(),
        }
        let st = self.load()?;
        let (bs, error) = match self.slots.boot_status() {
            Ok(bs) => (Some(bs), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let pending = match &st.phase {
            Phase::Idle => None,
            Phase::Installing { slot, version, .. } => Some(PendingInfo {
                version: version.clone(),
                slot: *slot,
                state: "installing",
            }),
            Phase::Pending { slot, version } => Some(PendingInfo {
                version: version.clone(),
                slot: *slot,
                state: "reboot-required",
            }),
            Phase::Rebooting { slot, version, .. } => Some(PendingInfo {
                version: version.clone(),
                slot: *slot,
                state: "rebooting",
            }),
            Phase::Trial {
                slot,
                version,
                failure,
                ..
            } => Some(PendingInfo {
                version: version.clone(),
                slot: *slot,
                state: if failure.is_some() {
                    "rolling-back"
                } else {
                    "trial"
                },
            }),
        };
        let last_log = match &st.last {
            Some(Outcome {
                result: OutcomeKind::RolledBack,
                log: Some(log),
                ..
            }) => tail(log, 40),
            _ => None,
        };
        Ok(Status {
            board: self.config.board.clone(),
            slots: self.slots.kind(),
            current_version: self
                .running_version()
                .map(|v| v.to_string())
                .unwrap_or_else(|_| "unknown".into()),
            booted: bs.map(|b| b.booted),
            primary: bs.map(|b| b.primary),
            trial: bs.is_some_and(|b| b.trial),
            pending,
            last_result: st.last.clone(),
            last_log,
            progress: self
                .progress
                .lock()
                .ok()
                .and_then(|g| g.clone())
                .or_else(|| if busy { self.foreign_progress() } else { None }),
            minimum_version: st.floor.clone(),
            error,
        })
    }

    /// Full verification of a bundle file against the keyring and this device's policy.
    pub fn verify_file(&self, path: &Path, progress: &dyn Fn(&Progress)) -> Result<Header> {
        let keyring = self.keyring()?;
        let header = bundle::verify_file(path, &keyring, &mut |done, total| {
            progress(&Progress {
                stage: Stage::Verifying,
                version: None,
                done,
                total,
            })
        })?;
        self.policy()?.check(&header.manifest)?;
        Ok(header)
    }

    /// Installs from a file: the whole bundle is verified first, then streamed again into the
    /// slot with every block checked once more as it is written.
    pub fn install_file(&self, path: &Path, progress: &dyn Fn(&Progress)) -> Result<Installed> {
        let verified = self.verify_file(path, progress);
        if let Err(e) = verified {
            self.record_refusal(&e, None);
            return Err(e);
        }
        let f = File::open(path).ctx(|| format!("opening {}", path.display()))?;
        let total = f.metadata().map(|m| m.len()).unwrap_or(0);
        let mut r = std::io::BufReader::with_capacity(1 << 20, f);
        self.install_stream(&mut r, total, progress)
    }

    /// Installs from a sequential reader (upload, download). The signed header and the block
    /// index are verified before anything is written; each payload block before it is written.
    pub fn install_stream(
        &self,
        r: &mut dyn Read,
        total: u64,
        progress: &dyn Fn(&Progress),
    ) -> Result<Installed> {
        let _lock = self.lock()?;
        let mut st = self.load()?;
        let check = self.reconcile(&mut st)?;
        match check {
            BootCheck::Trial { version, .. } => {
                return Err(Error::State(format!(
                    "a trial boot of {version} is running: commit it (mark-good) or let it roll back first"
                )));
            }
            BootCheck::RollingBack { version, .. } => {
                return Err(Error::State(format!(
                    "{version} is being rolled back: reboot first"
                )));
            }
            _ => {}
        }
        let booted = self.slots.boot_status()?.booted;
        let target = booted.other();
        let result = self.install_inner(r, total, &mut st, target, progress);
        match &result {
            Ok(_) | Err(Error::Crashed(_)) => {}
            Err(e) => {
                let wrote = matches!(st.phase, Phase::Installing { .. });
                let version = match &st.phase {
                    Phase::Installing { version, .. } => Some(version.clone()),
                    _ => None,
                };
                // A refusal leaves an update already pending as it was.
                if wrote {
                    st.phase = Phase::Idle;
                }
                st.last = Some(Outcome {
                    version,
                    result: if wrote {
                        OutcomeKind::Failed
                    } else {
                        OutcomeKind::Refused
                    },
                    message: e.to_string(),
                    at: state::now(),
                    log: None,
                });
                // Best effort: the error itself is what the caller must see.
                let _ = self.save(&st);
            }
        }
        self.set_progress(None, &|_| {});
        result
    }

    fn record_refusal(&self, e: &Error, version: Option<String>) {
        let Ok(_lock) = self.lock() else { return };
        let Ok(mut st) = self.load() else { return };
        st.last = Some(Outcome {
            version,
            result: OutcomeKind::Refused,
            message: e.to_string(),
            at: state::now(),
            log: None,
        });
        let _ = self.save(&st);
    }

    fn install_inner(
        &self,
        r: &mut dyn Read,
        total: u64,
        st: &mut State,
        target: SlotId,
        progress: &dyn Fn(&Progress),
    ) -> Result<Installed> {
        self.set_progress(
            Some(Progress {
                stage: Stage::Verifying,
                version: None,
                done: 0,
                total,
            }),
            progress,
        );
        let header = bundle::read_header(r, &self.keyring()?)?;
        let m = &header.manifest;
        self.policy()?.check(m)?;
        let total = if total == 0 {
            header.total_len()
        } else {
            total
        };
        let targets = self.slots.targets(target)?;
        let paths = [&targets.boot, &targets.system];
        for (p, path) in m.payloads.iter().zip(paths) {
            let capacity = capacity(path)?;
            if p.size > capacity {
                return Err(Error::NoSpace {
                    payload: p.name.clone(),
                    needed: p.size,
                    slot: target.to_string(),
                    part: p.name.clone(),
                    capacity,
                });
            }
        }
        st.phase = Phase::Installing {
            slot: target,
            version: m.version.clone(),
            step: "writing".into(),
        };
        st.slots.remove(&target);
        self.save(st)?;
        self.slots.disable(&self.io, target)?;
        let mut done = header.header_len;
        for (i, (p, path)) in m.payloads.iter().zip(paths).enumerate() {
            let what = format!("{} to slot {target} ({})", p.name, path.display());
            self.io.step(&format!("open {what}"))?;
            let mut f = OpenOptions::new()
                .read(true)
                .write(true)
                .open(path)
                .ctx(|| format!("opening {}", path.display()))?;
            bundle::stream_payload(r, &header, i, &mut |_, block| {
                self.io.write_all(&mut f, block, &format!("write {what}"))?;
                done += block.len() as u64;
                self.set_progress(
                    Some(Progress {
                        stage: Stage::Writing,
                        version: Some(m.version.clone()),
                        done,
                        total,
                    }),
                    progress,
                );
                Ok(())
            })?;
            self.io.sync(&f, &format!("fsync {what}"))?;
            // Read back what the storage kept (SD cards fail silently).
            f.seek(SeekFrom::Start(0))
                .ctx(|| format!("reading back {what}"))?;
            let mut h = Sha256::new();
            let n = std::io::copy(&mut (&mut f).take(p.size), &mut h)
                .ctx(|| format!("reading back {what}"))?;
            if n != p.size || hex::encode(h.finalize()) != p.sha256 {
                return Err(Error::ReadBack {
                    slot: target.to_string(),
                    part: p.name.clone(),
                });
            }
        }
        let mut extra = [0u8; 1];
        if bundle::read_full(r, &mut extra).map_err(|e| bundle::unwrap_io(e, "end"))? != 0 {
            return Err(Error::Malformed(
                "trailing data after the last payload".into(),
            ));
        }
        self.slots.prepare_boot(&self.io, target)?;
        st.slots.insert(
            target,
            SlotRecord {
                version: m.version.clone(),
                bundle_id: header.bundle_id.clone(),
                min_version: m.min_version.clone(),
            },
        );
        st.phase = Phase::Installing {
            slot: target,
            version: m.version.clone(),
            step: "arming".into(),
        };
        self.save(st)?;
        self.slots.arm_trial(&self.io, target)?;
        st.phase = Phase::Pending {
            slot: target,
            version: m.version.clone(),
        };
        self.save(st)?;
        self.set_progress(
            Some(Progress {
                stage: Stage::Done,
                version: Some(m.version.clone()),
                done: total,
                total,
            }),
            progress,
        );
        Ok(Installed {
            version: m.version.clone(),
            slot: target,
            bundle_id: header.bundle_id.clone(),
            signed_by: header.signed_by.clone(),
        })
    }

    /// Works out what the last update did and settles the state. Call once at start-up,
    /// before the node's health checks (`peerbox ota boot-check` does it from a unit).
    pub fn boot_check(&self) -> Result<BootCheck> {
        let _lock = self.lock()?;
        let mut st = self.load()?;
        self.reconcile(&mut st)
    }

    fn reconcile(&self, st: &mut State) -> Result<BootCheck> {
        let bs: BootStatus = self.slots.boot_status()?;
        // A failed trial waiting for its reboot (U-Boot no longer calls it a trial once
        // disabled): never mistake it for a commit.
        if let Phase::Trial {
            slot,
            version,
            failure: Some(reason),
            ..
        } = &st.phase
            && *slot == bs.booted
        {
            return Ok(BootCheck::RollingBack {
                version: version.clone(),
                reason: reason.clone(),
            });
        }
        if bs.trial {
            let version = st
                .slots
                .get(&bs.booted)
                .map(|r| r.version.clone())
                .unwrap_or_else(|| "unknown".into());
            let already = matches!(&st.phase, Phase::Trial { slot, .. } if *slot == bs.booted);
            if !already {
                st.phase = Phase::Trial {
                    slot: bs.booted,
                    version: version.clone(),
                    started: state::now(),
                    failure: None,
                };
                self.save(st)?;
                self.trial_log_start(&version, bs.booted)?;
            }
            return Ok(BootCheck::Trial {
                slot: bs.booted,
                version,
            });
        }
        match st.phase.clone() {
            Phase::Idle => Ok(BootCheck::Normal),
            Phase::Installing {
                slot,
                version,
                step,
            } => {
                if slot != bs.booted {
                    self.slots.disable(&self.io, slot)?;
                }
                st.slots.remove(&slot);
                self.finish(
                    st,
                    OutcomeKind::Interrupted,
                    Some(version.clone()),
                    format!("the install of {version} was interrupted while {step}; slot {slot} was left unused"),
                    None,
                )?;
                Ok(BootCheck::Normal)
            }
            Phase::Pending { slot, version } => {
                if slot == bs.booted {
                    self.succeed(st, slot, &version)?;
                    Ok(BootCheck::Committed { version })
                } else if self.slots.trial_armed(slot)? {
                    Ok(BootCheck::Pending { slot, version })
                } else {
                    self.roll_back(st, slot, &version, None)
                }
            }
            Phase::Rebooting { slot, version, .. } | Phase::Trial { slot, version, .. }
                if slot == bs.booted =>
            {
                // Committed, then died before the state said so.
                self.succeed(st, slot, &version)?;
                Ok(BootCheck::Committed { version })
            }
            Phase::Rebooting {
                slot,
                version,
                boot_id,
            } => {
                if boot_id.is_some() && boot_id == self.boot_id() {
                    // Same boot: the machine is still shutting down for the trial.
                    Ok(BootCheck::Pending { slot, version })
                } else {
                    self.roll_back(st, slot, &version, None)
                }
            }
            Phase::Trial {
                slot,
                version,
                failure,
                ..
            } => self.roll_back(st, slot, &version, failure),
        }
    }

    fn roll_back(
        &self,
        st: &mut State,
        slot: SlotId,
        version: &str,
        reason: Option<String>,
    ) -> Result<BootCheck> {
        self.slots.disable(&self.io, slot)?;
        let reason = reason.unwrap_or_else(|| {
            format!("the trial boot of {version} ended without confirming its health (crash, hang, watchdog or power loss)")
        });
        let log = self.config.trial_log();
        let log = log.exists().then_some(log);
        self.finish(
            st,
            OutcomeKind::RolledBack,
            Some(version.to_string()),
            reason.clone(),
            log,
        )?;
        Ok(BootCheck::RolledBack {
            version: version.to_string(),
            reason,
        })
    }

    fn succeed(&self, st: &mut State, slot: SlotId, version: &str) -> Result<()> {
        let min = st.slots.get(&slot).and_then(|r| r.min_version.clone());
        if let Some(min) = min {
            let raise = match &st.floor {
                Some(f) => Version::parse(&min)? > Version::parse(f)?,
                None => true,
            };
            if raise {
                st.floor = Some(min);
            }
        }
        self.finish(
            st,
            OutcomeKind::Success,
            Some(version.to_string()),
            format!("updated to {version}"),
            None,
        )
    }

    fn finish(
        &self,
        st: &mut State,
        result: OutcomeKind,
        version: Option<String>,
        message: String,
        log: Option<std::path::PathBuf>,
    ) -> Result<()> {
        st.phase = Phase::Idle;
        st.last = Some(Outcome {
            version,
            result,
            message,
            at: state::now(),
            log,
        });
        self.save(st)
    }

    /// Reboots into the pending update (the one-shot trial).
    pub fn reboot_into_update(&self) -> Result<()> {
        let _lock = self.lock()?;
        let mut st = self.load()?;
        let Phase::Pending { slot, version } = st.phase.clone() else {
            return Err(Error::State("no update is pending".into()));
        };
        st.phase = Phase::Rebooting {
            slot,
            version: version.clone(),
            boot_id: self.boot_id(),
        };
        self.save(&st)?;
        if let Err(e) = self.slots.reboot(true) {
            st.phase = Phase::Pending { slot, version };
            self.save(&st)?;
            return Err(e);
        }
        Ok(())
    }

    /// `mark-good`: commits a running trial now; on a normal boot confirms the slot
    /// (resets the U-Boot boot counter).
    pub fn mark_good(&self) -> Result<BootCheck> {
        let _lock = self.lock()?;
        let mut st = self.load()?;
        match self.reconcile(&mut st)? {
            BootCheck::Trial { slot, version } => {
                self.commit_trial(&mut st, slot, &version)?;
                Ok(BootCheck::Committed { version })
            }
            other => {
                self.slots.mark_good(&self.io)?;
                Ok(other)
            }
        }
    }

    fn commit_trial(&self, st: &mut State, slot: SlotId, version: &str) -> Result<()> {
        self.trial_log(&format!(
            "committing {version}: slot {slot} is now the default"
        ));
        self.slots.commit(&self.io, slot)?;
        self.succeed(st, slot, version)
    }

    /// `mark-bad`: gives up on the running trial and reboots into the previous slot.
    pub fn reject_trial(&self, reason: &str) -> Result<()> {
        let _lock = self.lock()?;
        let mut st = self.load()?;
        let BootCheck::Trial { slot, version } = self.reconcile(&mut st)? else {
            return Err(Error::State("this boot is not a trial".into()));
        };
        self.fail_trial(&mut st, slot, &version, reason)
    }

    fn fail_trial(&self, st: &mut State, slot: SlotId, version: &str, reason: &str) -> Result<()> {
        self.trial_log(&format!("rolling back: {reason}"));
        st.phase = Phase::Trial {
            slot,
            version: version.to_string(),
            started: state::now(),
            failure: Some(reason.to_string()),
        };
        self.save(st)?;
        self.slots.disable(&self.io, slot)?;
        self.slots.reboot(false)
    }

    /// Runs after start-up. On a trial boot, `check` must succeed continuously for
    /// `health.hold_secs` within `health.timeout_secs`, then the trial is committed; otherwise
    /// the old slot is made the default again and a reboot is requested. On a normal boot it
    /// confirms the slot once healthy. `check` returns why the node is unhealthy.
    pub async fn run_health<F, Fut>(&self, mut check: F) -> Result<HealthOutcome>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        let h = self.config.health.clone();
        let trial = match self.boot_check()? {
            BootCheck::Trial { slot, version } => Some((slot, version)),
            BootCheck::RollingBack { version, reason } => {
                self.slots.reboot(false)?;
                return Ok(HealthOutcome::RolledBack { version, reason });
            }
            _ => None,
        };
        if let Some((slot, version)) = &trial {
            self.trial_log(&format!(
                "checking health of {version} (slot {slot}): healthy for {}s within {}s",
                h.hold_secs, h.timeout_secs
            ));
        }
        let start = Instant::now();
        let mut healthy_since: Option<Instant> = None;
        let mut last_err = String::from("no health check completed");
        let verdict = loop {
            let left = h.timeout().saturating_sub(start.elapsed());
            let result =
                match tokio::time::timeout(left.max(Duration::from_millis(1)), check()).await {
                    Ok(r) => r,
                    Err(_) => Err("health check timed out".to_string()),
                };
            match result {
                Ok(()) => {
                    let since = *healthy_since.get_or_insert_with(|| {
                        self.trial_log("healthy");
                        Instant::now()
                    });
                    if since.elapsed() >= h.hold() {
                        break Ok(());
                    }
                }
                Err(e) => {
                    if healthy_since.take().is_some() || e != last_err {
                        self.trial_log(&format!("unhealthy: {e}"));
                    }
                    last_err = e;
                }
            }
            if start.elapsed() >= h.timeout() {
                break Err(last_err);
            }
            tokio::time::sleep(
                h.interval()
                    .min(h.timeout().saturating_sub(start.elapsed())),
            )
            .await;
        };
        let _lock = self.lock()?;
        let mut st = self.load()?;
        match (trial, verdict) {
            (None, Ok(())) => {
                self.slots.mark_good(&self.io)?;
                Ok(HealthOutcome::NotTrial { marked_good: true })
            }
            (None, Err(_)) => Ok(HealthOutcome::NotTrial { marked_good: false }),
            (Some((slot, version)), Ok(())) => {
                self.commit_trial(&mut st, slot, &version)?;
                Ok(HealthOutcome::Committed { version })
            }
            (Some((slot, version)), Err(e)) => {
                let reason = format!(
                    "{version} did not stay healthy for {}s within {}s: {e}",
                    h.hold_secs, h.timeout_secs
                );
                self.fail_trial(&mut st, slot, &version, &reason)?;
                Ok(HealthOutcome::RolledBack { version, reason })
            }
        }
    }

    fn trial_log_start(&self, version: &str, slot: SlotId) -> Result<()> {
        let p = self.config.trial_log();
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir).ctx(|| format!("creating {}", dir.display()))?;
        }
        self.io.step("truncate trial log")?;
        std::fs::write(&p, "").ctx(|| format!("writing {}", p.display()))?;
        self.trial_log(&format!("trial boot of {version} on slot {slot}"));
        Ok(())
    }

    /// Appends a line to the trial log (kept on the data partition for the old slot to show).
    pub fn trial_log(&self, line: &str) {
        tracing::info!(target: "peerbox_ota", "{line}");
        let p = self.config.trial_log();
        if self.io.step("append trial log").is_err() {
            return;
        }
        if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(&p) {
            let _ = writeln!(f, "{} {line}", state::now());
            let _ = f.sync_data();
        }
    }
}

fn capacity(path: &Path) -> Result<u64> {
    let mut f = File::open(path).ctx(|| format!("opening {}", path.display()))?;
    f.seek(SeekFrom::End(0))
        .ctx(|| format!("sizing {}", path.display()))
}

fn tail(path: &Path, lines: usize) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let all: Vec<&str> = text.lines().collect();
    Some(all[all.len().saturating_sub(lines)..].join("\n"))
}
