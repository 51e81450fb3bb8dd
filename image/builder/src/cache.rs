//! Build cache under `target/image-cache` (or `$PEERBOX_IMAGE_CACHE`): the arm64 sysroot and
//! the base root file system are made once per package list and reused by every board and
//! every step of a run. Entries are built under a lock into a temporary name and renamed
//! into place, so a killed build leaves no half-made entry. An entry belongs to a family
//! (the sysroot of an architecture, one Debian package unpacked, ...): when a new one is
//! built, only the most recently used other entry of its family is kept, so changed inputs
//! do not fill the disk over time.

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

    /// The entry `name` of `family` (`name` starts with `family`; a file or a folder), built
    /// by `build` into the path it is given if it is not there yet.
    pub fn entry(
        &self,
        family: &str,
        name: &str,
        build: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<PathBuf> {
        let path = self.path(name);
        if path.exists() {
            mark_used(&path);
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
            mark_used(&path);
            self.prune(family, name)?;
            Ok(path.clone())
        })
    }

    /// Removes the entries of `family` but `keep` and the most recently used other one.
    fn prune(&self, family: &str, keep: &str) -> Result<()> {
        let mut others = Vec::new();
        for item in std::fs::read_dir(&self.root)? {
            let item = item?;
            let name = item.file_name().to_string_lossy().into_owned();
            if name.starts_with(family)
                && name != keep
                && !name.ends_with(".lock")
                && !name.ends_with(".tmp")
            {
                let used = item.metadata()?.modified()?;
                others.push((used, name));
            }
        }
        others.sort();
        others.pop();
        for (_, name) in others {
            remove_any(&self.path(&name))?;
            let _ = std::fs::remove_file(self.path(&format!("{name}.lock")));
        }
        Ok(())
    }
}

/// Records a use of an entry in its modification time (what `prune` keeps by); best effort.
fn mark_used(path: &Path) {
    if let Ok(f) = File::open(path) {
        let _ = f.set_modified(std::time::SystemTime::now());
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn cache_in(dir: &Path) -> Cache {
        Cache {
            root: dir.to_path_buf(),
        }
    }

    fn make(cache: &Cache, family: &str, name: &str) -> PathBuf {
        cache
            .entry(family, name, |tmp| {
                Ok(std::fs::create_dir_all(tmp.join("inside"))?)
            })
            .expect("entry built")
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read cache")
            .map(|e| e.expect("item").file_name().to_string_lossy().into_owned())
            .filter(|n| !n.ends_with(".lock"))
            .collect();
        names.sort();
        names
    }

    fn set_used(path: &Path, seconds_ago: u64) {
        let when = SystemTime::now() - Duration::from_secs(seconds_ago);
        File::open(path)
            .and_then(|f| f.set_modified(when))
            .expect("set time");
    }

    #[test]
    fn a_new_entry_keeps_only_the_most_recently_used_other_of_its_family() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = cache_in(dir.path());
        let old = make(&cache, "sysroot-arm64-", "sysroot-arm64-aaa");
        let recent = make(&cache, "sysroot-arm64-", "sysroot-arm64-bbb");
        let other_family = make(&cache, "rootfs-arm64-", "rootfs-arm64-aaa.tar");
        set_used(&old, 300);
        set_used(&recent, 200);
        set_used(&other_family, 400);
        // A later use of the old entry makes it the one kept.
        make(&cache, "sysroot-arm64-", "sysroot-arm64-aaa");
        make(&cache, "sysroot-arm64-", "sysroot-arm64-ccc");
        assert_eq!(
            names(dir.path()),
            [
                "rootfs-arm64-aaa.tar",
                "sysroot-arm64-aaa",
                "sysroot-arm64-ccc"
            ]
        );
        assert!(old.join("inside").is_dir(), "the kept entry is whole");
    }
}
