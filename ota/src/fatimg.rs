//! FAT file systems: building the boot payload from a folder, and reading or rewriting small
//! files (autoboot.txt, cmdline.txt) on a FAT partition or image without mounting it.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::error::{Error, IoContext, Result};
use crate::fault::Io;

const MIB: u64 = 1 << 20;
/// Fixed so that the same boot folder always gives the same image (reproducible bundles).
const VOLUME_ID: u32 = 0x5042_5830;

fn walk(dir: &Path, total: &mut u64, entries: &mut u64) -> Result<()> {
    for e in fs::read_dir(dir).ctx(|| format!("reading {}", dir.display()))? {
        let e = e.ctx(|| format!("reading {}", dir.display()))?;
        let meta = fs::metadata(e.path()).ctx(|| format!("reading {}", e.path().display()))?;
        *entries += 1;
        if meta.is_dir() {
            walk(&e.path(), total, entries)?;
        } else {
            *total += meta.len().div_ceil(4096) * 4096;
        }
    }
    Ok(())
}

/// Formats `out` as FAT and copies `dir` into it. Returns the image size.
pub fn build(dir: &Path, out: &Path, size: Option<u64>) -> Result<u64> {
    if !dir.is_dir() {
        return Err(Error::Config(format!(
            "boot files folder {} does not exist",
            dir.display()
        )));
    }
    let (mut total, mut entries) = (0, 0);
    walk(dir, &mut total, &mut entries)?;
    let size = match size {
        Some(s) => s,
        // Files, a cluster per entry, 25% slack for FAT overhead; at least 8 MiB.
        None => {
            ((total + entries * 4096) * 5 / 4 + 4 * MIB)
                .max(8 * MIB)
                .div_ceil(MIB)
                * MIB
        }
    };
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(out)
        .ctx(|| format!("creating {}", out.display()))?;
    f.set_len(size)
        .ctx(|| format!("sizing {}", out.display()))?;
    let opts = fatfs::FormatVolumeOptions::new()
        .volume_id(VOLUME_ID)
        .volume_label(*b"PEERBOXBOOT");
    fatfs::format_volume(&f, opts).ctx(|| format!("formatting {}", out.display()))?;
    let fs = fatfs::FileSystem::new(&f, fatfs::FsOptions::new())
        .ctx(|| format!("opening {}", out.display()))?;
    copy_in(dir, &fs.root_dir())?;
    fs.unmount().ctx(|| format!("closing {}", out.display()))?;
    f.sync_all().ctx(|| format!("writing {}", out.display()))?;
    Ok(size)
}

/// Fails unless `path` holds a FAT file system.
pub fn check(path: &Path) -> Result<()> {
    let f = File::open(path).ctx(|| format!("opening {}", path.display()))?;
    fatfs::FileSystem::new(f, fatfs::FsOptions::new())
        .map(|_| ())
        .map_err(|e| {
            Error::Config(format!(
                "boot image {} is not a FAT file system: {e}",
                path.display()
            ))
        })
}

fn copy_in<T: fatfs::ReadWriteSeek>(src: &Path, dst: &fatfs::Dir<'_, T>) -> Result<()> {
    let mut items: Vec<_> = fs::read_dir(src)
        .ctx(|| format!("reading {}", src.display()))?
        .collect::<std::io::Result<_>>()
        .ctx(|| format!("reading {}", src.display()))?;
    items.sort_by_key(|e| e.file_name());
    for e in items {
        let path = e.path();
        let name = e.file_name();
        let name = name
            .to_str()
            .ok_or_else(|| Error::Config(format!("{} is not a UTF-8 name", path.display())))?;
        if fs::metadata(&path)
            .ctx(|| format!("reading {}", path.display()))?
            .is_dir()
        {
            let sub = dst
                .create_dir(name)
                .ctx(|| format!("creating {name} in the boot image"))?;
            copy_in(&path, &sub)?;
        } else {
            let mut from = File::open(&path).ctx(|| format!("opening {}", path.display()))?;
            let mut to = dst
                .create_file(name)
                .ctx(|| format!("creating {name} in the boot image"))?;
            to.truncate()
                .ctx(|| format!("writing {name} in the boot image"))?;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = from
                    .read(&mut buf)
                    .ctx(|| format!("reading {}", path.display()))?;
                if n == 0 {
                    break;
                }
                to.write_all(&buf[..n])
                    .ctx(|| format!("writing {name} in the boot image"))?;
            }
            to.flush()
                .ctx(|| format!("writing {name} in the boot image"))?;
        }
    }
    Ok(())
}

/// A FAT partition reached either through a mounted folder or as a raw image/device.
#[derive(Clone, Debug)]
pub enum FatAccess {
    Mounted(std::path::PathBuf),
    Image(std::path::PathBuf),
}

impl FatAccess {
    pub fn read(&self, name: &str) -> Result<Option<Vec<u8>>> {
        match self {
            FatAccess::Mounted(dir) => match fs::read(dir.join(name)) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(Error::Io {
                    context: format!("reading {}", dir.join(name).display()),
                    source: e,
                }),
            },
            FatAccess::Image(img) => {
                let f = File::open(img).ctx(|| format!("opening {}", img.display()))?;
                let fs = fatfs::FileSystem::new(f, fatfs::FsOptions::new())
                    .ctx(|| format!("{} is not a FAT file system", img.display()))?;
                let mut file = match fs.root_dir().open_file(name) {
                    Ok(f) => f,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => {
                        return Err(Error::Io {
                            context: format!("opening {name} in {}", img.display()),
                            source: e,
                        });
                    }
                };
                let mut buf = Vec::new();
                file.read_to_end(&mut buf)
                    .ctx(|| format!("reading {name} in {}", img.display()))?;
                Ok(Some(buf))
            }
        }
    }

    /// Replaces a small file so that a reader (the firmware after a power cut) sees the old
    /// or the new content. On a mounted folder: write `name.new`, fsync, rename over, fsync
    /// the folder. In an image, fatfs can't rename over an existing entry and remove+rename
    /// would leave a moment without the file, so the new content overwrites the old one in
    /// its cluster: for autoboot.txt (same length either way) a single sector write.
    pub fn replace(&self, io: &Io, name: &str, data: &[u8]) -> Result<()> {
        match self {
            FatAccess::Mounted(dir) => io.atomic_write(&dir.join(name), data),
            FatAccess::Image(img) => {
                let f = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open(img)
                    .ctx(|| format!("opening {}", img.display()))?;
                let fs = fatfs::FileSystem::new(&f, fatfs::FsOptions::new())
                    .ctx(|| format!("{} is not a FAT file system", img.display()))?;
                let root = fs.root_dir();
                io.step(&format!("write {name} in {}", img.display()))?;
                let mut file = root
                    .create_file(name)
                    .ctx(|| format!("opening {name} in {}", img.display()))?;
                file.seek(SeekFrom::Start(0))
                    .ctx(|| format!("writing {name}"))?;
                file.write_all(data)
                    .ctx(|| format!("writing {name} in {}", img.display()))?;
                // Only shrinks when the length changed (a first write or a foreign file).
                file.truncate()
                    .ctx(|| format!("writing {name} in {}", img.display()))?;
                file.flush()
                    .ctx(|| format!("writing {name} in {}", img.display()))?;
                drop(file);
                drop(root);
                fs.unmount().ctx(|| format!("closing {}", img.display()))?;
                io.sync(&f, &format!("fsync {}", img.display()))
            }
        }
    }
}
