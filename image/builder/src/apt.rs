//! Debian package sources, and a private apt for the target architecture: it downloads the
//! kernel, firmware, busybox and U-Boot packages whose files the build places itself, without
//! adding a foreign architecture to the host's dpkg.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result, bail};

use crate::cache::Cache;
use crate::tools::{self, KEYRING};

/// Where packages come from: `$PEERBOX_DEBIAN_MIRROR` and `$PEERBOX_DEBIAN_SECURITY_MIRROR`,
/// or Debian's own.
#[derive(Debug, Clone)]
pub struct Sources {
    pub mirror: String,
    pub security: String,
    pub suite: String,
}

impl Sources {
    pub fn new(suite: &str) -> Sources {
        Sources {
            mirror: std::env::var("PEERBOX_DEBIAN_MIRROR")
                .unwrap_or_else(|_| "http://deb.debian.org/debian".into()),
            security: std::env::var("PEERBOX_DEBIAN_SECURITY_MIRROR")
                .unwrap_or_else(|_| "http://deb.debian.org/debian-security".into()),
            suite: suite.to_string(),
        }
    }

    /// One-line sources for mmdebstrap and apt: the release with its updates and security
    /// fixes, and backports (never used unless asked for by name).
    pub fn lines(&self, components: &str, backports: bool) -> Vec<String> {
        let s = &self.suite;
        let mut lines = vec![
            format!("deb [signed-by={KEYRING}] {} {s} {components}", self.mirror),
            format!(
                "deb [signed-by={KEYRING}] {} {s}-updates {components}",
                self.mirror
            ),
            format!(
                "deb [signed-by={KEYRING}] {} {s}-security {components}",
                self.security
            ),
        ];
        if backports {
            lines.push(format!(
                "deb [signed-by={KEYRING}] {} {s}-backports {components}",
                self.mirror
            ));
        }
        lines
    }

    pub fn describe(&self) -> String {
        format!("{} {} / {}", self.mirror, self.suite, self.security)
    }
}

/// apt with its own state folder under the cache, set to the target architecture.
pub struct Apt {
    root: PathBuf,
    arch: String,
    debs: PathBuf,
    updated: Mutex<bool>,
}

impl Apt {
    pub fn new(cache: &Cache, arch: &str, sources: &Sources) -> Result<Apt> {
        let root = cache.path(&format!("apt-{arch}-{}", sources.suite));
        for dir in [
            "etc/apt/apt.conf.d",
            "etc/apt/preferences.d",
            "etc/apt/sources.list.d",
            "var/lib/apt/lists/partial",
            "var/cache/apt/archives/partial",
            "var/lib/dpkg",
        ] {
            std::fs::create_dir_all(root.join(dir))?;
        }
        let status = root.join("var/lib/dpkg/status");
        if !status.exists() {
            std::fs::write(&status, "")?;
        }
        // Components for firmware: raspi-firmware is in non-free-firmware.
        let mut list = sources.lines("main non-free-firmware", true).join("\n");
        list.push('\n');
        std::fs::write(root.join("etc/apt/sources.list"), list)?;
        let debs = cache.path(&format!("debs-{arch}"));
        std::fs::create_dir_all(&debs)?;
        Ok(Apt {
            root,
            arch: arch.to_string(),
            debs,
            updated: Mutex::new(false),
        })
    }

    fn cmd(&self, program: &str) -> std::process::Command {
        let mut c = tools::command(program);
        for option in [
            format!("Dir={}", self.root.display()),
            format!(
                "Dir::State::status={}",
                self.root.join("var/lib/dpkg/status").display()
            ),
            format!("APT::Architecture={}", self.arch),
            format!("APT::Architectures::={}", self.arch),
            "APT::Sandbox::User=root".to_string(),
            "Acquire::Languages=none".to_string(),
            "Debug::NoLocking=1".to_string(),
        ] {
            c.arg("-o").arg(option);
        }
        c
    }

    /// `apt-get update`, once per build.
    pub fn update(&self) -> Result<()> {
        let mut done = self.updated.lock().unwrap_or_else(|p| p.into_inner());
        if !*done {
            tools::run(self.cmd("apt-get").args(["-q", "update"]))
                .context("cannot read the Debian package lists (is the mirror reachable?)")?;
            *done = true;
        }
        Ok(())
    }

    /// A field of the candidate version of `spec` (`name` or `name/suite`).
    fn show(&self, spec: &str) -> Result<Vec<(String, String)>> {
        self.update()?;
        let text = tools::output(
            self.cmd("apt-cache")
                .args(["show", "--no-all-versions", spec]),
        )
        .with_context(|| format!("no Debian package {spec}"))?;
        let mut fields = Vec::new();
        for line in text.lines() {
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(": ")
                && !k.starts_with(' ')
            {
                fields.push((k.to_string(), v.to_string()));
            }
        }
        if fields.is_empty() {
            bail!("no Debian package {spec}");
        }
        Ok(fields)
    }

    /// The kernel package that a metapackage such as `linux-image-arm64` stands for.
    pub fn resolve_kernel(&self, package: &str, suite: Option<&str>) -> Result<String> {
        let spec = spec(package, suite);
        let fields = self.show(&spec)?;
        let depends = field(&fields, "Depends").unwrap_or_default();
        let real = depends
            .split(',')
            .map(|d| d.trim().split([' ', '(', '|']).next().unwrap_or(""))
            .find(|d| d.starts_with("linux-image-"));
        Ok(real.unwrap_or(package).to_string())
    }

    /// Downloads `package` (from `suite` if given, else the newest of the release, its
    /// updates and security fixes) and returns the .deb; reused when already downloaded.
    pub fn download(&self, package: &str, suite: Option<&str>) -> Result<PathBuf> {
        let spec = spec(package, suite);
        let fields = self.show(&spec)?;
        let filename =
            field(&fields, "Filename").with_context(|| format!("apt shows no file for {spec}"))?;
        let name = Path::new(&filename)
            .file_name()
            .with_context(|| format!("odd file name {filename}"))?
            .to_owned();
        let dest = self.debs.join(&name);
        if dest.exists() {
            return Ok(dest);
        }
        let tmp = self.debs.join(format!(".download-{}", std::process::id()));
        crate::cache::remove_any(&tmp)?;
        std::fs::create_dir_all(&tmp)?;
        tools::run(
            self.cmd("apt-get")
                .args(["-q", "download", &spec])
                .current_dir(&tmp),
        )
        .with_context(|| format!("cannot download {spec}"))?;
        let got = std::fs::read_dir(&tmp)?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|e| e == "deb"))
            .with_context(|| format!("apt-get download {spec} wrote no .deb"))?;
        std::fs::rename(&got, &dest)?;
        std::fs::remove_dir_all(&tmp)?;
        Ok(dest)
    }
}

fn spec(package: &str, suite: Option<&str>) -> String {
    match suite {
        Some(s) => format!("{package}/{s}"),
        None => package.to_string(),
    }
}

fn field(fields: &[(String, String)], name: &str) -> Option<String> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// Unpacks a .deb into `dest` (cached by the .deb's name).
pub fn extract(cache: &Cache, deb: &Path) -> Result<PathBuf> {
    let name = deb
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    // A .deb is named package_version_arch: other versions of the package are its family.
    let package = name.split('_').next().unwrap_or_default();
    cache.entry(
        &format!("unpacked-{package}_"),
        &format!("unpacked-{name}"),
        |dir| {
            std::fs::create_dir_all(dir)?;
            tools::run(tools::command("dpkg-deb").arg("-x").arg(deb).arg(dir))?;
            Ok(())
        },
    )
}
