//! Shared helpers: keys, image builds, bundles and simulated devices made at test time.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use peerbox_ota::OtaConfig;
use peerbox_ota::bundle::{self, BundleSpec};
use peerbox_ota::keys::{self, SecretKey};
use sha2::{Digest, Sha256};

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Deterministic bytes that differ per version, like two builds of a system image.
pub fn system_bytes(version: &str, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut h = Sha256::digest(version.as_bytes());
    while out.len() < len {
        out.extend_from_slice(&h);
        h = Sha256::digest(h);
    }
    out.truncate(len);
    out
}

/// An image build's outputs: a system image file and a boot files folder.
pub fn image_build(
    dir: &Path,
    version: &str,
    system_len: usize,
) -> std::io::Result<(PathBuf, PathBuf)> {
    let system = dir.join(format!("system-{version}.img"));
    fs::write(&system, system_bytes(version, system_len))?;
    let boot = dir.join(format!("boot-{version}"));
    fs::create_dir_all(boot.join("overlays"))?;
    fs::write(
        boot.join("config.txt"),
        format!("# peerbox {version}\narm_64bit=1\nkernel=kernel8.img\n"),
    )?;
    fs::write(
        boot.join("cmdline.txt"),
        "console=serial0,115200 root=PARTUUID=0badc0de-05 rootfstype=erofs ro rootwait\n",
    )?;
    fs::write(
        boot.join("kernel8.img"),
        system_bytes(&format!("kernel {version}"), 20_000),
    )?;
    fs::write(boot.join("overlays/disable-bt.dtbo"), b"dtbo")?;
    fs::write(boot.join("version"), version)?;
    Ok((system, boot))
}

pub struct Keys {
    pub dir: PathBuf,
    pub key: PathBuf,
    pub public: PathBuf,
}

pub fn keygen(dir: &Path, name: &str) -> Result<Keys, peerbox_ota::Error> {
    let (key, public, _) = keys::keygen(dir, name)?;
    Ok(Keys {
        dir: dir.to_owned(),
        key,
        public,
    })
}

pub struct BundleOpts<'a> {
    pub version: &'a str,
    pub board: &'a str,
    pub min_version: Option<&'a str>,
    pub compatible_from: Option<&'a str>,
    pub system_len: usize,
    pub block_size: u32,
    pub boot_size: Option<u64>,
}

impl<'a> BundleOpts<'a> {
    pub fn new(version: &'a str) -> Self {
        BundleOpts {
            version,
            board: "sim-board",
            min_version: None,
            compatible_from: None,
            system_len: 40_000,
            block_size: 4096,
            boot_size: Some(64 * 1024),
        }
    }
}

pub fn make_bundle(
    dir: &Path,
    keys: &[&Path],
    o: &BundleOpts,
) -> Result<PathBuf, peerbox_ota::Error> {
    let (system, boot) =
        image_build(dir, o.version, o.system_len).map_err(|e| peerbox_ota::Error::Io {
            context: "image build".into(),
            source: e,
        })?;
    let out = dir.join(format!("{}-{}.pbx", o.board, o.version));
    let keys = keys
        .iter()
        .map(|k| SecretKey::load(k))
        .collect::<Result<Vec<_>, _>>()?;
    bundle::create(
        &BundleSpec {
            version: o.version.into(),
            board: o.board.into(),
            compatible_from: o.compatible_from.map(Into::into),
            min_version: o.min_version.map(Into::into),
            block_size: o.block_size,
            system_image: system,
            boot,
            boot_size: o.boot_size,
        },
        &keys,
        &out,
    )?;
    Ok(out)
}

/// A simulated device: slots as files, data partition with user files, updater config.
pub struct SimDevice {
    pub root: PathBuf,
    pub sim: PathBuf,
    pub data: PathBuf,
    pub config_path: PathBuf,
    pub config: OtaConfig,
}

pub fn sim_device(
    root: &Path,
    keyring: &Path,
    version: &str,
    slot_len: (u64, u64),
) -> Result<SimDevice, Box<dyn std::error::Error>> {
    let sim = root.join("sim");
    peerbox_ota::slots::Sim::create(&sim, slot_len.0, slot_len.1)?;
    // Slot A holds the running version, as flashed.
    let mut a = fs::OpenOptions::new()
        .write(true)
        .open(sim.join("a.system"))?;
    std::io::Write::write_all(&mut a, &system_bytes(version, 40_000))?;
    let data = root.join("data");
    fs::create_dir_all(data.join("media"))?;
    fs::write(data.join("catalog.redb"), system_bytes("catalog", 50_000))?;
    fs::write(data.join("media/video.mp4"), system_bytes("video", 30_000))?;
    let etc = root.join("etc");
    fs::create_dir_all(&etc)?;
    fs::write(etc.join("version"), format!("{version}\n"))?;
    let text = format!(
        r#"board = "sim-board"
keyring = "{}"
version_file = "{}"
state_dir = "{}"
boot_id = "{}"

[slots]
kind = "sim"
dir = "{}"

[health]
hold_secs = 0
timeout_secs = 0.02
interval_secs = 0.01
"#,
        keyring.display(),
        etc.join("version").display(),
        data.join("ota").display(),
        sim.join("boot_id").display(),
        sim.display()
    );
    let config_path = etc.join("ota.toml");
    fs::write(&config_path, &text)?;
    Ok(SimDevice {
        root: root.to_owned(),
        sim,
        data,
        config_path,
        config: OtaConfig::parse(&text)?,
    })
}

/// sha256 of every file under `dir` except the updater's own folder.
pub fn data_fingerprint(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if p.file_name().is_some_and(|n| n == "ota") {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(b) = fs::read(&p) {
                out.insert(p, hex::encode(Sha256::digest(&b)));
            }
        }
    }
    out
}

pub fn sha_prefix(path: &Path, len: usize) -> std::io::Result<String> {
    let b = fs::read(path)?;
    Ok(hex::encode(Sha256::digest(&b[..len.min(b.len())])))
}

pub fn no_progress() -> peerbox_ota::ProgressFn {
    std::sync::Arc::new(|_| {})
}

/// A tmpfs (the tests run as root), unmounted when dropped.
pub struct Tmpfs(pub PathBuf);

impl Tmpfs {
    pub fn mount(dir: &Path, size: &str) -> std::io::Result<Self> {
        fs::create_dir_all(dir)?;
        let st = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()?;
        if !st.success() {
            return Err(std::io::Error::other(format!(
                "mount -t tmpfs on {} failed (tests run as root)",
                dir.display()
            )));
        }
        Ok(Tmpfs(dir.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}
