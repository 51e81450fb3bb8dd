//! A small initramfs made on the host, without emulation: busybox, the kernel modules that
//! reach the system partition (with their dependencies, as modprobe resolves them), and
//! `image/initramfs/init`, which finds the slot's partition by PARTUUID and starts systemd.
//! Written as a newc cpio archive here so that it is reproducible and needs no device nodes
//! on the build host.

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::tools;

/// An archive member.
enum Member {
    Dir,
    File { mode: u32, data: Vec<u8> },
    CharDevice { major: u32, minor: u32 },
}

struct Archive {
    members: Vec<(String, Member)>,
    mtime: u64,
}

impl Archive {
    fn dir(&mut self, path: &str) {
        if !self.members.iter().any(|(p, _)| p == path) {
            self.members.push((path.to_string(), Member::Dir));
        }
    }

    /// Adds the folders leading to `path`.
    fn parents(&mut self, path: &str) {
        let mut at = String::new();
        let parts: Vec<&str> = path.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            if !at.is_empty() {
                at.push('/');
            }
            at.push_str(part);
            self.dir(&at.clone());
        }
    }

    fn file(&mut self, path: &str, mode: u32, data: Vec<u8>) {
        self.parents(path);
        self.members
            .push((path.to_string(), Member::File { mode, data }));
    }

    fn write(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut ino = 1u32;
        let mut entry = |out: &mut Vec<u8>,
                         name: &str,
                         mode: u32,
                         rdev: (u32, u32),
                         data: &[u8]| {
            let header = format!(
                "070701{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}{:08x}",
                ino,
                mode,
                0,
                0,
                1,
                self.mtime,
                data.len(),
                0,
                0,
                rdev.0,
                rdev.1,
                name.len() + 1,
                0
            );
            ino += 1;
            out.extend_from_slice(header.as_bytes());
            out.extend_from_slice(name.as_bytes());
            out.push(0);
            while !out.len().is_multiple_of(4) {
                out.push(0);
            }
            out.extend_from_slice(data);
            while !out.len().is_multiple_of(4) {
                out.push(0);
            }
        };
        let mut sorted: Vec<&(String, Member)> = self.members.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, member) in sorted {
            match member {
                Member::Dir => entry(&mut out, name, 0o040755, (0, 0), &[]),
                Member::File { mode, data } => entry(&mut out, name, 0o100000 | mode, (0, 0), data),
                Member::CharDevice { major, minor } => {
                    entry(&mut out, name, 0o020600, (*major, *minor), &[])
                }
            }
        }
        entry(&mut out, "TRAILER!!!", 0, (0, 0), &[]);
        out
    }
}

/// Module files (relative to `/lib/modules/KVER`) for `names`, dependencies first.
pub fn resolve_modules(rootfs: &Path, kver: &str, names: &[String]) -> Result<Vec<String>> {
    let prefix = rootfs.join("lib/modules").join(kver);
    let prefix_usr = rootfs.join("usr/lib/modules").join(kver);
    let mut files: Vec<String> = Vec::new();
    for name in names {
        let out = tools::run(
            tools::command("modprobe")
                .arg("--dirname")
                .arg(rootfs)
                .args(["--set-version", kver, "--show-depends", name]),
        )
        .with_context(|| {
            format!("kernel {kver} has no module {name:?} ([image].initramfs_modules)")
        })?;
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            // "insmod /path/x.ko [params]" or "builtin x"
            let Some(path) = line.strip_prefix("insmod ") else {
                continue;
            };
            let path = Path::new(path.split_whitespace().next().unwrap_or(""));
            let rel = path
                .strip_prefix(&prefix)
                .or_else(|_| path.strip_prefix(&prefix_usr))
                .with_context(|| {
                    format!(
                        "modprobe named a module outside the tree: {}",
                        path.display()
                    )
                })?
                .to_string_lossy()
                .into_owned();
            if !files.contains(&rel) {
                files.push(rel);
            }
        }
    }
    Ok(files)
}

/// Builds the gzip-compressed initramfs at `dest`.
pub fn build(
    repo: &Path,
    rootfs: &Path,
    kver: &str,
    busybox: &Path,
    modules: &[String],
    mtime: u64,
    dest: &Path,
) -> Result<()> {
    let mut archive = Archive {
        members: Vec::new(),
        mtime,
    };
    for dir in ["dev", "proc", "sys", "newroot", "bin", "etc", "lib"] {
        archive.dir(dir);
    }
    // The kernel opens /dev/console for init before anything mounts devtmpfs.
    archive.members.push((
        "dev/console".into(),
        Member::CharDevice { major: 5, minor: 1 },
    ));
    archive.file(
        "bin/busybox",
        0o755,
        std::fs::read(busybox).with_context(|| format!("cannot read {}", busybox.display()))?,
    );
    let init = repo.join("image/initramfs/init");
    archive.file(
        "init",
        0o755,
        std::fs::read(&init).with_context(|| format!("cannot read {}", init.display()))?,
    );

    let tree = rootfs.join("usr/lib/modules").join(kver);
    let mut list = String::new();
    for rel in modules {
        let src = tree.join(rel);
        let (name, data) = if let Some(plain) = rel.strip_suffix(".xz") {
            // busybox's insmod takes plain modules: unpack the compressed ones here.
            let out = tools::run(tools::command("xz").arg("-dc").arg(&src))?;
            (plain.to_string(), out.stdout)
        } else if rel.ends_with(".zst") || rel.ends_with(".gz") {
            bail!("{rel}: only plain and .xz kernel modules are supported in the initramfs");
        } else {
            (
                rel.clone(),
                std::fs::read(&src).with_context(|| format!("cannot read {}", src.display()))?,
            )
        };
        archive.file(&format!("lib/modules/{name}"), 0o644, data);
        list.push_str(&name);
        list.push('\n');
    }
    archive.file("etc/initramfs-modules", 0o644, list.into_bytes());

    let cpio = dest.with_extension("cpio");
    std::fs::write(&cpio, archive.write())?;
    let gz = tools::run(tools::command("gzip").args(["-n", "-9", "-c"]).arg(&cpio))?;
    std::fs::write(dest, gz.stdout)?;
    std::fs::remove_file(&cpio)?;
    Ok(())
}
