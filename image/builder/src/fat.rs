//! FAT partition images, made and read without mounting anything (mkfs.fat and mtools work on
//! files, so neither root nor loop devices are needed for this part).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};

use crate::layout::fat_bits;
use crate::tools;

/// What goes into a FAT image: a file name at its root and where its bytes come from.
pub enum Content {
    Bytes(Vec<u8>),
    File(PathBuf),
}

/// Creates a FAT file system of `size` bytes at `path` holding `files`, every file dated
/// `mtime` (reproducible images).
pub fn make(
    path: &Path,
    size: u64,
    label: &str,
    volume_id: u32,
    files: &[(String, Content)],
    mtime: u64,
    work: &Path,
) -> Result<()> {
    let _ = std::fs::remove_file(path);
    std::fs::File::create(path)?.set_len(size)?;
    tools::run(
        tools::command("mkfs.fat")
            .args(["-F", &fat_bits(size).to_string(), "-S", "512", "-n", label])
            .args(["-i", &format!("{volume_id:08x}"), "--invariant"])
            .arg(path),
    )?;
    let staging = work.join(format!("fat-{label}"));
    crate::cache::remove_any(&staging)?;
    std::fs::create_dir_all(&staging)?;
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(mtime);
    let mut sources = Vec::new();
    for (name, content) in files {
        let staged = staging.join(name);
        match content {
            Content::Bytes(b) => std::fs::write(&staged, b)?,
            Content::File(src) => {
                std::fs::copy(src, &staged)
                    .with_context(|| format!("cannot copy {} into {label}", src.display()))?;
            }
        }
        std::fs::File::options()
            .write(true)
            .open(&staged)?
            .set_modified(when)?;
        sources.push(staged);
    }
    if !sources.is_empty() {
        tools::run(
            tools::command("mcopy")
                .env("MTOOLS_SKIP_CHECK", "1")
                .arg("-m")
                .arg("-i")
                .arg(path)
                .args(&sources)
                .arg("::"),
        )
        .with_context(|| format!("cannot fill the {label} partition (is it too small?)"))?;
    }
    crate::cache::remove_any(&staging)?;
    Ok(())
}

/// `mtools` image argument for the FAT file system at `offset` bytes into `image`.
pub fn at(image: &Path, offset: u64) -> String {
    format!("{}@@{offset}", image.display())
}

/// Names of the files at the root of a FAT file system.
pub fn list(image: &Path, offset: u64) -> Result<Vec<String>> {
    let out = tools::output(tools::command("mdir").env("MTOOLS_SKIP_CHECK", "1").args([
        "-b",
        "-i",
        &at(image, offset),
        "::",
    ]))?;
    Ok(out
        .lines()
        .map(|l| l.trim().trim_start_matches("::/").to_string())
        .filter(|l| !l.is_empty())
        .collect())
}

/// A file of a FAT file system.
pub fn read(image: &Path, offset: u64, name: &str) -> Result<Vec<u8>> {
    let out = tools::run(tools::command("mtype").env("MTOOLS_SKIP_CHECK", "1").args([
        "-i",
        &at(image, offset),
        &format!("::{name}"),
    ]))?;
    Ok(out.stdout)
}
