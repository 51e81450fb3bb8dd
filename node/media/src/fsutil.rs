//! File steps that must survive a crash: data and directory entries are fsynced before
//! anything points at them.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use crate::error::{MediaError, Result};

/// Writes a whole file and fsyncs it.
pub fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let err = |e| MediaError::io(format!("writing {}", path.display()), e);
    let mut f = File::create(path).map_err(err)?;
    f.write_all(bytes).map_err(err)?;
    f.sync_all().map_err(err)
}

/// Fsyncs a directory so that renames and new entries in it are durable.
pub fn sync_dir(path: &Path) -> Result<()> {
    File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(|e| MediaError::io(format!("syncing {}", path.display()), e))
}

pub fn create_dir_all(path: &Path) -> Result<()> {
    fs::create_dir_all(path).map_err(|e| MediaError::io(format!("creating {}", path.display()), e))
}

/// Removes a directory tree; a missing one is fine.
pub fn remove_tree(path: &Path) -> Result<()> {
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(MediaError::io(format!("removing {}", path.display()), e)),
    }
}

pub fn remove_file(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(MediaError::io(format!("removing {}", path.display()), e)),
    }
}

pub fn rename(from: &Path, to: &Path) -> Result<()> {
    fs::rename(from, to).map_err(|e| {
        MediaError::io(
            format!("renaming {} to {}", from.display(), to.display()),
            e,
        )
    })
}
