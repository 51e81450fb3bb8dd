//! Every write, fsync and rename the updater makes goes through [`Io::step`], so that tests
//! can "kill" it at any of them. A crash is sticky: once it fired, every later step fails
//! too, so no clean-up code runs after the moment of death (as after a real SIGKILL).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::error::{Error, IoContext, Result};

/// Crash at the n-th step (counting from 1); `u64::MAX` never crashes but still counts.
#[derive(Debug)]
pub struct CrashPlan {
    at: u64,
    seen: AtomicU64,
    crashed: AtomicBool,
    step_name: Mutex<Option<String>>,
}

impl CrashPlan {
    pub fn at(step: u64) -> Arc<Self> {
        Arc::new(CrashPlan {
            at: step,
            seen: AtomicU64::new(0),
            crashed: AtomicBool::new(false),
            step_name: Mutex::new(None),
        })
    }
    /// Counts steps without crashing (to learn how many steps a run has).
    pub fn counting() -> Arc<Self> {
        Self::at(u64::MAX)
    }
    pub fn steps_seen(&self) -> u64 {
        self.seen.load(Ordering::SeqCst)
    }
    pub fn crashed(&self) -> bool {
        self.crashed.load(Ordering::SeqCst)
    }
    pub fn crashed_at(&self) -> Option<String> {
        self.step_name.lock().ok().and_then(|g| g.clone())
    }
}

#[derive(Clone, Debug, Default)]
pub struct Io {
    plan: Option<Arc<CrashPlan>>,
}

impl Io {
    pub fn with_crash_plan(plan: Arc<CrashPlan>) -> Self {
        Io { plan: Some(plan) }
    }

    /// Called before every mutating operation.
    pub fn step(&self, what: &str) -> Result<()> {
        let Some(plan) = &self.plan else {
            return Ok(());
        };
        if plan.crashed.load(Ordering::SeqCst) {
            return Err(Error::Crashed(what.to_string()));
        }
        let n = plan.seen.fetch_add(1, Ordering::SeqCst) + 1;
        if n >= plan.at {
            plan.crashed.store(true, Ordering::SeqCst);
            if let Ok(mut g) = plan.step_name.lock() {
                *g = Some(what.to_string());
            }
            return Err(Error::Crashed(what.to_string()));
        }
        Ok(())
    }

    pub fn write_all(&self, file: &mut File, data: &[u8], what: &str) -> Result<()> {
        self.step(what)?;
        file.write_all(data).ctx(|| what.to_string())
    }

    pub fn sync(&self, file: &File, what: &str) -> Result<()> {
        self.step(what)?;
        file.sync_all().ctx(|| what.to_string())
    }

    /// Replace `path` with `data`: write a temporary file beside it, fsync, rename, fsync the
    /// folder. A reader sees the old or the new content, never a mix.
    pub fn atomic_write(&self, path: &Path, data: &[u8]) -> Result<()> {
        let name = path.display().to_string();
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let file_name = path
            .file_name()
            .ok_or_else(|| Error::State(format!("{name} is not a file path")))?;
        let mut tmp_name = file_name.to_os_string();
        tmp_name.push(".new");
        let tmp = dir.join(tmp_name);
        self.step(&format!("create {}", tmp.display()))?;
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .ctx(|| format!("creating {}", tmp.display()))?;
        self.write_all(&mut f, data, &format!("write {}", tmp.display()))?;
        self.sync(&f, &format!("fsync {}", tmp.display()))?;
        drop(f);
        self.step(&format!("rename {name}"))?;
        fs::rename(&tmp, path).ctx(|| format!("renaming {} to {name}", tmp.display()))?;
        // On FAT (the config partition) the renamed entry's size and first cluster are
        // written with the file's inode, not with its folder: sync it under its new name too.
        let renamed = File::open(path).ctx(|| format!("opening {name}"))?;
        self.sync(&renamed, &format!("fsync {name}"))?;
        sync_dir(self, dir)
    }
}

pub(crate) fn sync_dir(io: &Io, dir: &Path) -> Result<()> {
    io.step(&format!("fsync dir {}", dir.display()))?;
    let d = File::open(dir).ctx(|| format!("opening {}", dir.display()))?;
    d.sync_all().ctx(|| format!("fsync {}", dir.display()))
}
