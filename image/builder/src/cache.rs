//! Build cache under `target/image-cache` (or `$PEERBOX_IMAGE_CACHE`): the arm64 sysroot and
//! the base root file system are made once per package list and reused by every board and
//! every step of a run. Entries are built under a lock into a temporary name and renamed
//! into place, so a killed build leaves no half-made entry.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

pub struct Cache {
    pub root: PathBuf,
}

impl Cache {
    pub fn new(repo: &Path) -> Result<Cache> {
        let root = std::env::var_os("PEERBOX_IMAGE_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo.join("target/image-cache"));
        std::fs::create_dir_all(&root)
            .with_context(|| format!("cannot create the cache folder {}", root.display()))?;
        Ok(Cache { root })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Holds an exclusive lock on `name.lock` while `f` runs: builds of the same entry by
    /// concurrent processes (two boards, two tests) wait for each other.
    pub fn locked<T>(&self, name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let lock_path = self.root.join(format!("{name}.lock"));
        let lock = File::create(&lock_path)
            .with_context(|| format!("cannot create {}", lock_path.display()))?;
        lock.lock()
            .with_context(|| format!("cannot lock {}", lock_path.display()))?;
        let result = f();
        let _ = lock.unlock();
        result
    }

    /// The entry `name` (a file or a folder), built by `build` into the path it is given if
    /// it is not there yet.
    pub fn entry(&self, name: &str, build: impl FnOnce(&Path) -> Result<()>) -> Result<PathBuf> {
        let path = self.path(name);
        if path.exists() {
            return Ok(path);
        }
        self.locked(name, || {
            if path.exists() {
                return Ok(path.clone());
            }
            let tmp = self.path(&format!("{name}.tmp"));
            remove_any(&tmp)?;
            build(&tmp)?;
            std::fs::rename(&tmp, &path)
                .with_context(|| format!("cannot rename {} into place", tmp.display()))?;
            Ok(path.clone())
        })
    }
}

/// Removes a file or a folder tree if it exists.
pub fn remove_any(path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot look at {}", path.display())),
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path)
            .with_context(|| format!("cannot remove {}", path.display())),
        Ok(_) => {
            std::fs::remove_file(path).with_context(|| format!("cannot remove {}", path.display()))
        }
    }
}

/// A short, stable key for a list of inputs.
pub fn key<S: AsRef<str>>(parts: &[S]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_ref().as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..6])
}
