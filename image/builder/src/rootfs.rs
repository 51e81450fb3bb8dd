//! The system partition: a Debian root file system made by mmdebstrap (cached as a tar per
//! package list), to which each build adds the kernel's modules, the node, the files of
//! `image/rootfs/` and a few generated ones, then packs it read-only as EROFS.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};

use crate::apt::Sources;
use crate::board::BootFlow;
use crate::board::{Arch, Board};
use crate::cache::{self, Cache};
use crate::cross::{self, DPKG_EXCLUDES};
use crate::layout::{BOOT_A, BOOT_B, CONFIG, DATA, Layout, SYSTEM_A, SYSTEM_B};
use crate::tools;

/// The node's account. Fixed ids: files on the data partition keep their owner when an
/// update brings a new system.
pub const PEERBOX_UID: u32 = 900;

/// Run inside the new root file system by mmdebstrap (under qemu-user for arm64).
const HOOKS: &[&str] = &[
    "chroot \"$1\" groupadd --system --gid 900 peerbox",
    "chroot \"$1\" useradd --system --uid 900 --gid 900 --home-dir /data/peerbox --no-create-home --shell /usr/sbin/nologin --comment 'Peerbox video node' peerbox",
    "chroot \"$1\" systemctl enable systemd-networkd.service",
    // Host keys are made per box at first boot, on /data.
    "rm -f \"$1\"/etc/ssh/ssh_host_*",
];

/// Units of `image/rootfs` enabled in every image.
const ENABLE: &[&str] = &[
    "peerbox.service",
    "peerbox-firstboot.service",
    "peerbox-ota-boot-check.service",
    "peerbox-ota-health.service",
    "peerbox-ota-request.path",
];

/// Units of Debian's packages that make no sense on a read-only appliance: apt's timers (no
/// apt runs here) and systemd-firstboot, which would ask for a root password at every boot
/// (the machine ID is new at each boot).
const DISABLE: &[&str] = &[
    "timers.target.wants/apt-daily.timer",
    "timers.target.wants/apt-daily-upgrade.timer",
    "timers.target.wants/dpkg-db-backup.timer",
];
const MASK: &[&str] = &["systemd-firstboot.service"];

/// The base root file system of `packages` as a tar, built once per package list.
pub fn base(cache: &Cache, arch: Arch, sources: &Sources, packages: &[String]) -> Result<PathBuf> {
    let mut inputs = vec![
        "rootfs v1".to_string(),
        arch.debian().into(),
        sources.describe(),
    ];
    inputs.extend(HOOKS.iter().map(|s| s.to_string()));
    inputs.extend(packages.iter().cloned());
    let family = format!("rootfs-{}-", arch.debian());
    let name = format!("{family}{}.tar", cache::key(&inputs));
    cache.entry(&family, &name, |tar| {
        crate::step(
            &format!(
                "root file system, {} packages (mmdebstrap, cached afterwards)",
                packages.len()
            ),
            || {
                let mut cmd = tools::command("mmdebstrap");
                cmd.arg("--quiet")
                    .arg("--variant=minbase")
                    .arg(format!("--arch={}", arch.debian()))
                    .arg("--format=tar")
                    .arg(format!("--include={}", packages.join(",")))
                    .arg("--aptopt=APT::Install-Recommends \"false\"")
                    .args(DPKG_EXCLUDES.iter().map(|e| format!("--dpkgopt={e}")))
                    .args(HOOKS.iter().map(|h| format!("--customize-hook={h}")))
                    .arg(&sources.suite)
                    .arg(tar)
                    .args(sources.lines("main", false));
                tools::run(&mut cmd).context("mmdebstrap could not build the root file system")?;
                Ok(())
            },
        )
    })
}

/// The kernel as unpacked from its Debian package.
pub struct KernelFiles {
    pub version: String,
    pub root: PathBuf,
}

impl KernelFiles {
    pub fn find(root: PathBuf) -> Result<KernelFiles> {
        let boot = root.join("boot");
        let version = std::fs::read_dir(&boot)
            .with_context(|| format!("{} has no boot folder", root.display()))?
            .flatten()
            .find_map(|e| {
                e.file_name()
                    .to_string_lossy()
                    .strip_prefix("vmlinuz-")
                    .map(str::to_string)
            })
            .context("the kernel package has no /boot/vmlinuz-*")?;
        Ok(KernelFiles { version, root })
    }

    pub fn image(&self) -> PathBuf {
        self.root
            .join("boot")
            .join(format!("vmlinuz-{}", self.version))
    }

    pub fn modules(&self) -> Result<PathBuf> {
        for dir in ["lib/modules", "usr/lib/modules"] {
            let p = self.root.join(dir).join(&self.version);
            if p.is_dir() {
                return Ok(p);
            }
        }
        bail!("the kernel package has no modules for {}", self.version)
    }

    pub fn dtb(&self, rel: &str) -> PathBuf {
        self.root
            .join("usr/lib")
            .join(format!("linux-image-{}", self.version))
            .join(rel)
    }
}

/// What the build writes into the system besides the packages.
pub struct Additions<'a> {
    pub repo: &'a Path,
    pub board: &'a Board,
    pub layout: &'a Layout,
    pub kernel: &'a KernelFiles,
    pub peerbox: &'a Path,
    pub version: &'a str,
    pub build_id: &'a str,
    pub epoch: u64,
    pub ota_keys: &'a [PathBuf],
    pub overlay: Option<&'a Path>,
}

/// Unpacks the base tar into `dir` and adds everything of `add`.
pub fn stage(base_tar: &Path, dir: &Path, add: &Additions) -> Result<()> {
    cache::remove_any(dir)?;
    std::fs::create_dir_all(dir)?;
    tools::run(
        tools::command("tar")
            .arg("-C")
            .arg(dir)
            .args(["--numeric-owner", "-xpf"])
            .arg(base_tar),
    )?;

    // Kernel modules, indexed by the host's depmod (no emulation needed).
    let modules_dir = dir.join("usr/lib/modules");
    std::fs::create_dir_all(&modules_dir)?;
    tools::run(
        tools::command("cp")
            .arg("-a")
            .arg(add.kernel.modules()?)
            .arg(&modules_dir),
    )?;
    tools::run(
        tools::command("depmod")
            .arg("-b")
            .arg(dir)
            .arg(&add.kernel.version),
    )?;

    copy_tree(&add.repo.join("image/rootfs"), dir)?;
    let bin = dir.join("usr/bin/peerbox");
    std::fs::copy(add.peerbox, &bin)?;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755))?;

    // Mount points: the system is read-only, so systemd cannot make them at boot.
    std::fs::create_dir_all(dir.join("data"))?;
    std::fs::create_dir_all(dir.join("boot/config"))?;
    let data = add.layout.partuuid(DATA);
    let config = add.layout.partuuid(CONFIG);
    write(
        dir,
        "etc/fstab",
        &format!(
            "# Peerbox: the system is read-only; /data holds everything the box writes.\n\
             # The data partition grows to the end of the card at first boot.\n\
             PARTUUID={data}  /data  ext4  rw,noatime,nosuid,nodev,x-systemd.growfs,x-systemd.requires=peerbox-grow-data.service  0  2\n\
             # The card's first partition: claim code, SSH keys, boot state of the A/B slots.\n\
             PARTUUID={config}  /boot/config  vfat  rw,noatime,nosuid,nodev,noexec,fmask=0133,dmask=0022,flush,nofail  0  2\n\
             tmpfs  /var  tmpfs  mode=0755,nosuid,nodev,size=256M  0  0\n\
             tmpfs  /tmp  tmpfs  mode=1777,nosuid,nodev,size=25%  0  0\n"
        ),
    )?;
    write(dir, "etc/hostname", "peerbox\n")?;
    // The node picks its encoder ladder and limits from the board's config by this name.
    write(
        dir,
        "usr/lib/systemd/system/peerbox.service.d/board.conf",
        &format!("[Service]\nEnvironment=PEERBOX_BOARD={}\n", add.board.name),
    )?;
    // The running system's version, for the update agent.
    write(dir, "etc/peerbox/version", &format!("{}\n", add.version))?;
    write(dir, "etc/peerbox/ota.toml", &ota_config(add))?;
    let keyring = dir.join("etc/peerbox/ota-keys");
    cache::remove_any(&keyring)?;
    std::fs::create_dir_all(&keyring)?;
    for key in add.ota_keys {
        let name = key
            .file_name()
            .with_context(|| format!("update key {} has no file name", key.display()))?;
        std::fs::copy(key, keyring.join(name))
            .with_context(|| format!("cannot copy the update key {}", key.display()))?;
    }
    write(
        dir,
        "etc/hosts",
        "127.0.0.1\tlocalhost\n127.0.1.1\tpeerbox\n::1\tlocalhost ip6-localhost ip6-loopback\n",
    )?;
    // Empty: systemd makes a new machine ID at each boot of a read-only system.
    write(dir, "etc/machine-id", "")?;
    // The claim code on every login prompt, while there is one (written by firstboot).
    let issue = dir.join("etc/issue.d/50-peerbox.issue");
    std::fs::create_dir_all(dir.join("etc/issue.d"))?;
    cache::remove_any(&issue)?;
    std::os::unix::fs::symlink("/run/peerbox/issue", &issue)?;
    write(
        dir,
        "usr/lib/peerbox/image-release",
        &format!(
            "PEERBOX_BOARD={}\nPEERBOX_VERSION={}\nPEERBOX_BUILD={}\nPEERBOX_BOOT_FLOW={}\nPEERBOX_KERNEL={}\nPEERBOX_DISK_ID={:08x}\n",
            add.board.name,
            add.version,
            add.build_id,
            add.board.image.boot_flow.name(),
            add.kernel.version,
            add.layout.disk_id
        ),
    )?;
    let os_release = dir.join("usr/lib/os-release");
    let mut text = std::fs::read_to_string(&os_release).unwrap_or_default();
    text.push_str(&format!(
        "IMAGE_ID=peerbox-{}\nIMAGE_VERSION={}\n",
        add.board.name, add.version
    ));
    std::fs::write(&os_release, text)?;
    // With no clock battery, the clock starts no earlier than the image's date.
    let epoch_file = dir.join("usr/lib/clock-epoch");
    std::fs::write(&epoch_file, "")?;
    std::fs::File::options()
        .write(true)
        .open(&epoch_file)?
        .set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(add.epoch))?;

    if let Some(overlay) = add.overlay {
        copy_tree(overlay, dir)?;
    }

    let etc_units = dir.join("etc/systemd/system");
    for unit in ENABLE {
        let path = dir.join("usr/lib/systemd/system").join(unit);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("image/rootfs has no unit {unit}"))?;
        for target in wanted_by(&text) {
            let wants = etc_units.join(format!("{target}.wants"));
            std::fs::create_dir_all(&wants)?;
            let link = wants.join(unit);
            cache::remove_any(&link)?;
            std::os::unix::fs::symlink(format!("/usr/lib/systemd/system/{unit}"), link)?;
        }
    }
    for rel in DISABLE {
        cache::remove_any(&etc_units.join(rel))?;
    }
    for unit in MASK {
        let link = etc_units.join(unit);
        cache::remove_any(&link)?;
        std::os::unix::fs::symlink("/dev/null", link)?;
    }

    check_node_runs(dir, add)
}

/// Fails if the node asks for a library the system lacks, then runs `peerbox --version` in
/// the new system (under qemu-user): the binary, its loader and its libraries work together.
fn check_node_runs(dir: &Path, add: &Additions) -> Result<()> {
    let arch = add.board.image.arch;
    let triplet = arch.gnu_triplet();
    let missing: Vec<String> = cross::needed_libraries(arch, add.peerbox)?
        .into_iter()
        .filter(|lib| {
            ![format!("usr/lib/{triplet}"), "usr/lib".to_string()]
                .iter()
                .any(|d| dir.join(d).join(lib).exists())
        })
        .collect();
    if !missing.is_empty() {
        bail!(
            "peerbox needs {} but no package of the root file system provides it: add the package to `node` in image/packages.toml",
            missing.join(", ")
        );
    }
    let out = tools::output(
        tools::command("chroot")
            .arg(dir)
            .args(["/usr/bin/peerbox", "--version"]),
    )
    .context("peerbox does not start in the new root file system")?;
    if !out.starts_with("peerbox") {
        bail!("`peerbox --version` in the new root file system printed {out:?}");
    }
    Ok(())
}

fn wanted_by(unit: &str) -> Vec<String> {
    unit.lines()
        .filter_map(|l| l.trim().strip_prefix("WantedBy="))
        .flat_map(|v| v.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .collect()
}

fn write(root: &Path, rel: &str, text: &str) -> Result<()> {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    cache::remove_any(&path)?;
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// Copies a tree of the repository into the image: files keep their mode, and belong to
/// root whoever owns the checkout.
fn copy_tree(src: &Path, dst: &Path) -> Result<()> {
    for entry in std::fs::read_dir(src).with_context(|| format!("cannot read {}", src.display()))? {
        let entry = entry?;
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            std::fs::create_dir_all(&to)?;
            copy_tree(&from, &to)?;
        } else if kind.is_file() {
            cache::remove_any(&to)?;
            std::fs::copy(&from, &to)?;
            let executable = from.metadata()?.permissions().mode() & 0o111 != 0;
            std::fs::set_permissions(
                &to,
                std::fs::Permissions::from_mode(if executable { 0o755 } else { 0o644 }),
            )?;
            std::os::unix::fs::chown(&to, Some(0), Some(0))?;
        }
    }
    Ok(())
}

/// The updater's settings (`peerbox ota`, see ota/README.md) for the board's boot flow. The
/// feed is set per box in `ota-feed.toml` on the card's first partition.
fn ota_config(add: &Additions) -> String {
    let slots = match add.board.image.boot_flow {
        BootFlow::RpiTryboot => {
            "kind = \"rpi-tryboot\"\nconfig_dir = \"/boot/config\"\n".to_string()
        }
        _ => "kind = \"uboot\"\n\
              env = { path = \"/boot/config/peerbox-boot.env\", format = \"text\" }\n"
            .to_string(),
    };
    format!(
        "# Over-the-air updates of this box: see `peerbox ota --help`.\n\
         board = \"{board}\"\n\
         keyring = \"/etc/peerbox/ota-keys\"\n\
         version_file = \"/etc/peerbox/version\"\n\
         state_dir = \"/data/ota\"\n\
         feed_file = \"/boot/config/ota-feed.toml\"\n\
         \n\
         [slots]\n\
         {slots}\
         a = {{ boot = \"part:{BOOT_A}\", system = \"part:{SYSTEM_A}\" }}\n\
         b = {{ boot = \"part:{BOOT_B}\", system = \"part:{SYSTEM_B}\" }}\n\
         \n\
         [health]\n\
         hold_secs = 60\n\
         timeout_secs = 600\n",
        board = add.board.name,
    )
}

/// Packs `dir` as a read-only EROFS image at `dest`. Uncompressed: the image is xz-compressed
/// as a whole for download (smaller and faster than xz over lz4 data: 267 MB in 21 s against
/// 326 MB in 63 s for mkfs.erofs -zlz4hc plus xz, measured on 2 cores), and the card reads it
/// without decompression.
pub fn erofs(dir: &Path, dest: &Path, uuid: &str, epoch: u64) -> Result<()> {
    let _ = std::fs::remove_file(dest);
    tools::run(
        tools::command("mkfs.erofs")
            .arg("--quiet")
            .arg(format!("-T{epoch}"))
            .arg(format!("-U{uuid}"))
            .arg(dest)
            .arg(dir),
    )?;
    Ok(())
}
