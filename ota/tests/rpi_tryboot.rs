//! Raspberry Pi tryboot against real FAT images: autoboot.txt on the config partition before
//! and after a commit and after failed trials, read back with mtools as a second opinion.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use common::*;
use peerbox_ota::fault::Io;
use peerbox_ota::slots::{RecordingRebooter, SlotId, autoboot_txt};
use peerbox_ota::state::OutcomeKind;
use peerbox_ota::{BootCheck, HealthOutcome, Ota, OtaConfig};

const AB: &str = "[all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=3\n";
/// As the image build writes it, with comments.
const IMAGE_AB: &str = "# Peerbox A/B boot (Raspberry Pi firmware tryboot). Boot partition 2 is slot A,\n\
                        # 3 is slot B; the update agent swaps them when it commits an update.\n\
                        [all]\ntryboot_a_b=1\nboot_partition=2\n[tryboot]\nboot_partition=3\n";
const BA: &str = "[all]\ntryboot_a_b=1\nboot_partition=3\n[tryboot]\nboot_partition=2\n";

struct Pi {
    _t: tempfile::TempDir,
    dir: PathBuf,
    keys: Keys,
    config: OtaConfig,
    reboots: RecordingRebooter,
    mounted: bool,
}

/// `mtype` from mtools: reads a file out of a FAT image without our code.
fn mtype(image: &Path, name: &str) -> Result<String, Box<dyn std::error::Error>> {
    let out = Command::new("mtype")
        .arg("-i")
        .arg(image)
        .arg(format!("::{name}"))
        .env("MTOOLS_SKIP_CHECK", "1")
        .output()
        .map_err(|e| format!("mtype (install mtools): {e}"))?;
    if !out.status.success() {
        return Err(format!("mtype {name}: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(String::from_utf8(out.stdout)?)
}

fn fat_image(path: &Path, size: u64) -> Result<(), Box<dyn std::error::Error>> {
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    f.set_len(size)?;
    fatfs::format_volume(&f, fatfs::FormatVolumeOptions::new())?;
    Ok(())
}

fn pi(mounted: bool) -> Result<Pi, Box<dyn std::error::Error>> {
    let t = tempfile::tempdir()?;
    let dir = t.path().to_owned();
    let keys = keygen(&dir.join("keys"), "release")?;
    // The card as the image build leaves it: config partition with autoboot.txt for slot A.
    let config_loc = if mounted {
        let d = dir.join("config");
        fs::create_dir_all(&d)?;
        fs::write(d.join("autoboot.txt"), IMAGE_AB)?;
        format!("config_dir = \"{}\"", d.display())
    } else {
        let img = dir.join("config.img");
        fat_image(&img, 1 << 20)?;
        let f = fs::OpenOptions::new().read(true).write(true).open(&img)?;
        let fatfs = fatfs::FileSystem::new(&f, fatfs::FsOptions::new())?;
        std::io::Write::write_all(
            &mut fatfs.root_dir().create_file("autoboot.txt")?,
            AB.as_bytes(),
        )?;
        fatfs.unmount()?;
        format!("config_image = \"{}\"", img.display())
    };
    for slot in ["a", "b"] {
        fat_image(&dir.join(format!("{slot}.boot")), 256 * 1024)?;
        fs::File::create(dir.join(format!("{slot}.system")))?.set_len(64 * 1024)?;
    }
    let dt = dir.join("dt");
    fs::create_dir_all(&dt)?;
    fs::write(dt.join("partition"), 2u32.to_be_bytes())?;
    fs::write(dt.join("tryboot"), 0u32.to_be_bytes())?;
    fs::write(
        dir.join("cmdline"),
        "console=serial0 root=PARTUUID=1234abcd-05 rootfstype=erofs ro\n",
    )?;
    fs::write(dir.join("version"), "1.0.0\n")?;
    let text = format!(
        r#"board = "sim-board"
keyring = "{keys}"
version_file = "{d}/version"
state_dir = "{d}/data/ota"
boot_id = "{d}/boot_id"

[slots]
kind = "rpi-tryboot"
{config_loc}
devicetree = "{d}/dt"
cmdline = "{d}/cmdline"
a = {{ boot = "{d}/a.boot", system = "{d}/a.system" }}
b = {{ boot = "{d}/b.boot", system = "{d}/b.system" }}

[health]
hold_secs = 0.05
timeout_secs = 0.3
interval_secs = 0.01
"#,
        keys = keys.public.display(),
        d = dir.display(),
    );
    Ok(Pi {
        _t: t,
        config: OtaConfig::parse(&text)?,
        dir,
        keys,
        reboots: RecordingRebooter::default(),
        mounted,
    })
}

impl Pi {
    fn ota(&self) -> Result<Ota, peerbox_ota::Error> {
        let slots = self.config.slots(Some(Arc::new(self.reboots.clone())))?;
        Ok(Ota::with_parts(self.config.clone(), slots, Io::default()))
    }

    fn autoboot(&self) -> Result<String, Box<dyn std::error::Error>> {
        if self.mounted {
            let d = self.dir.join("config");
            assert!(
                !d.join("autoboot.txt.new").exists(),
                "a temporary autoboot.txt was left behind"
            );
            Ok(fs::read_to_string(d.join("autoboot.txt"))?)
        } else {
            mtype(&self.dir.join("config.img"), "autoboot.txt")
        }
    }

    /// What the firmware does: boot `partition`, telling the OS whether it was a tryboot.
    fn firmware_boots(&self, partition: u32, tryboot: bool, version: &str) -> std::io::Result<()> {
        fs::write(self.dir.join("dt/partition"), partition.to_be_bytes())?;
        fs::write(
            self.dir.join("dt/tryboot"),
            u32::from(tryboot).to_be_bytes(),
        )?;
        fs::write(
            self.dir.join("boot_id"),
            format!("{:x}", rand::random::<u64>()),
        )?;
        fs::write(self.dir.join("version"), version)
    }

    fn reboots(&self) -> Vec<bool> {
        self.reboots.0.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

fn rt() -> Result<tokio::runtime::Runtime, std::io::Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

fn bundle(p: &Pi, version: &str) -> Result<PathBuf, peerbox_ota::Error> {
    make_bundle(&p.dir, &[&p.keys.key], &BundleOpts::new(version))
}

fn update_commit_and_failed_trial(mounted: bool) -> TestResult {
    let p = pi(mounted)?;
    let rt = rt()?;
    let initial = if mounted { IMAGE_AB } else { AB };
    assert_eq!(p.autoboot()?, initial);
    assert_eq!(autoboot_txt(2, 3), AB);

    // Install 1.1.0 into slot B: the running slot stays the default.
    let ota = p.ota()?;
    let installed = ota.install_file(&bundle(&p, "1.1.0")?, &|_| {})?;
    assert_eq!(installed.slot, SlotId::B);
    assert_eq!(
        p.autoboot()?,
        initial,
        "autoboot.txt changed before the trial"
    );
    // Slot B's cmdline.txt now mounts slot B's system partition (6) of this disk.
    let cmdline = mtype(&p.dir.join("b.boot"), "cmdline.txt")?;
    assert_eq!(
        cmdline,
        "console=serial0,115200 root=PARTUUID=1234abcd-06 rootfstype=erofs ro rootwait\n"
    );
    assert_eq!(mtype(&p.dir.join("b.boot"), "version")?, "1.1.0");
    let st = ota.status()?;
    assert_eq!(
        st.pending.as_ref().map(|x| (x.version.as_str(), x.state)),
        Some(("1.1.0", "reboot-required"))
    );

    // The trial reboot sets the one-shot tryboot flag.
    ota.reboot_into_update()?;
    assert_eq!(p.reboots(), vec![true]);
    p.firmware_boots(3, true, "1.1.0")?;
    let ota = p.ota()?;
    assert_eq!(
        ota.boot_check()?,
        BootCheck::Trial {
            slot: SlotId::B,
            version: "1.1.0".into()
        }
    );
    assert!(ota.status()?.trial);
    let out = rt.block_on(ota.run_health(|| async { Ok(()) }))?;
    assert_eq!(
        out,
        HealthOutcome::Committed {
            version: "1.1.0".into()
        }
    );
    assert_eq!(p.autoboot()?, BA, "commit did not swap autoboot.txt");

    // Later boots take slot B without the flag.
    p.firmware_boots(3, false, "1.1.0")?;
    let ota = p.ota()?;
    assert_eq!(ota.boot_check()?, BootCheck::Normal);
    let st = ota.status()?;
    assert_eq!(
        (st.booted, st.primary, st.trial),
        (Some(SlotId::B), Some(SlotId::B), false)
    );
    assert_eq!(
        st.last_result.as_ref().map(|l| l.result),
        Some(OutcomeKind::Success)
    );

    // 1.2.0 goes to slot A, and its node never gets healthy.
    let installed = ota.install_file(&bundle(&p, "1.2.0")?, &|_| {})?;
    assert_eq!(installed.slot, SlotId::A);
    assert_eq!(
        mtype(&p.dir.join("a.boot"), "cmdline.txt")?
            .split_whitespace()
            .nth(1),
        Some("root=PARTUUID=1234abcd-05")
    );
    ota.reboot_into_update()?;
    p.firmware_boots(2, true, "1.2.0")?;
    let ota = p.ota()?;
    let out =
        rt.block_on(ota.run_health(|| async { Err("GET /api/v1/health: HTTP 503".to_string()) }))?;
    let HealthOutcome::RolledBack { version, reason } = out else {
        panic!("not rolled back: {out:?}")
    };
    assert_eq!(version, "1.2.0");
    assert!(reason.contains("HTTP 503"), "{reason}");
    // A plain reboot: the flag is gone, the default (B) boots. autoboot.txt never changed.
    assert_eq!(p.reboots(), vec![true, true, false]);
    assert_eq!(p.autoboot()?, BA);
    p.firmware_boots(3, false, "1.1.0")?;
    let ota = p.ota()?;
    assert!(
        matches!(ota.boot_check()?, BootCheck::RolledBack { ref reason, .. } if reason.contains("HTTP 503"))
    );
    let st = ota.status()?;
    let last = st.last_result.ok_or("no result")?;
    assert_eq!(
        (last.result, last.version.as_deref()),
        (OutcomeKind::RolledBack, Some("1.2.0"))
    );
    let log = st.last_log.ok_or("no trial log")?;
    assert!(
        log.contains("trial boot of 1.2.0 on slot A")
            && log.contains("unhealthy: GET /api/v1/health: HTTP 503"),
        "{log}"
    );
    assert_eq!(st.current_version, "1.1.0");

    // A trial that dies before its health check (power cut, kernel panic): the firmware
    // already cleared the flag, so the next boot is the default, and it says why.
    let ota = p.ota()?;
    ota.install_file(&bundle(&p, "1.2.1")?, &|_| {})?;
    ota.reboot_into_update()?;
    p.firmware_boots(2, true, "1.2.1")?;
    assert!(matches!(p.ota()?.boot_check()?, BootCheck::Trial { .. }));
    p.firmware_boots(3, false, "1.1.0")?;
    let check = p.ota()?.boot_check()?;
    assert!(
        matches!(&check, BootCheck::RolledBack { reason, .. } if reason.contains("without confirming its health")),
        "{check:?}"
    );
    assert_eq!(p.autoboot()?, BA);
    Ok(())
}

#[test]
fn tryboot_on_a_fat_image_commits_and_rolls_back() -> TestResult {
    update_commit_and_failed_trial(false)
}

#[test]
fn tryboot_on_a_mounted_config_partition_commits_and_rolls_back() -> TestResult {
    update_commit_and_failed_trial(true)
}

#[test]
fn an_old_eeprom_that_ignores_tryboot_is_reported() -> TestResult {
    let p = pi(false)?;
    let ota = p.ota()?;
    ota.install_file(&bundle(&p, "1.1.0")?, &|_| {})?;
    ota.reboot_into_update()?;
    // The firmware booted the default partition without the flag.
    p.firmware_boots(2, false, "1.0.0")?;
    let check = p.ota()?.boot_check()?;
    assert!(matches!(check, BootCheck::RolledBack { .. }), "{check:?}");
    assert_eq!(p.autoboot()?, AB);
    Ok(())
}
