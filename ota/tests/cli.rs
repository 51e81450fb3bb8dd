//! The commands as an operator types them: keygen, bundle (from a boot folder or a boot FAT
//! image), verify, install, status, reboot, mark-good.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::*;
use peerbox_ota::slots::{Sim, SlotId};

fn run(args: &[&std::ffi::OsStr]) -> std::io::Result<(bool, String, String)> {
    let out = Command::new(env!("CARGO_BIN_EXE_peerbox-ota"))
        .args(args)
        .output()?;
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

fn p(p: &Path) -> &std::ffi::OsStr {
    p.as_os_str()
}

#[test]
fn keygen_bundle_verify_install_status_mark_good() -> TestResult {
    let t = tempfile::tempdir()?;
    let keys = t.path().join("keys");
    let (ok, out, err) = run(&[
        os("keygen"),
        os("--out"),
        p(&keys),
        os("--name"),
        os("release-2026"),
    ])?;
    assert!(ok, "{err}");
    assert!(
        out.starts_with("key ") && out.contains("release-2026.key"),
        "{out}"
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &fs::metadata(keys.join("release-2026.key"))?.permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "the secret key is readable by others");
    // A second keygen never overwrites a key.
    let (ok, _, err) = run(&[
        os("keygen"),
        os("--out"),
        p(&keys),
        os("--name"),
        os("release-2026"),
    ])?;
    assert!(!ok && err.contains("already exists"), "{err}");

    // The image build's outputs: a system image and the boot partition as a FAT image.
    let (system, boot_dir) = image_build(t.path(), "1.1.0", 40_000)?;
    let boot_img = t.path().join("boot-a.fat");
    peerbox_ota::fatimg::build(&boot_dir, &boot_img, Some(128 * 1024))?;
    let bundle = t.path().join("peerbox-sim-board-1.1.0.pbx");
    let key = keys.join("release-2026.key");
    let (ok, out, err) = run(&[
        os("bundle"),
        os("--key"),
        p(&key),
        os("--system"),
        p(&system),
        os("--boot"),
        p(&boot_img),
        os("--version"),
        os("1.1.0"),
        os("--board"),
        os("sim-board"),
        os("--compatible-from"),
        os(">=1.0.0"),
        os("--block-size"),
        os("4096"),
        os("-o"),
        p(&bundle),
    ])?;
    assert!(ok, "{err}");
    assert!(out.contains("1.1.0 for sim-board"), "{out}");
    // The boot payload is the image build's FAT image, byte for byte.
    let bytes = fs::read(&bundle)?;
    let boot = fs::read(&boot_img)?;
    assert!(bytes.windows(boot.len()).any(|w| w == boot.as_slice()));

    // From an image build's output folder.
    let out_dir = t.path().join("target-image");
    fs::create_dir_all(&out_dir)?;
    fs::copy(&system, out_dir.join("system.erofs"))?;
    fs::copy(&boot_img, out_dir.join("boot.fat"))?;
    let from_bundle = out_dir.join("b.pbx");
    let (ok, _, err) = run(&[
        os("bundle"),
        os("--from"),
        p(&out_dir),
        os("--key"),
        p(&key),
        os("--version"),
        os("1.1.0"),
        os("--board"),
        os("sim-board"),
        os("--compatible-from"),
        os(">=1.0.0"),
        os("--block-size"),
        os("4096"),
        os("-o"),
        p(&from_bundle),
    ])?;
    assert!(ok, "{err}");
    assert!(
        fs::read(&from_bundle)? == bytes,
        "--from gave another bundle"
    );

    // A boot "image" that is not FAT is refused.
    let (ok, _, err) = run(&[
        os("bundle"),
        os("--key"),
        p(&key),
        os("--system"),
        p(&system),
        os("--boot"),
        p(&system),
        os("--version"),
        os("1.1.0"),
        os("--board"),
        os("sim-board"),
        os("-o"),
        p(&t.path().join("x.pbx")),
    ])?;
    assert!(!ok && err.contains("is not a FAT file system"), "{err}");

    let dev = sim_device(
        &t.path().join("dev"),
        &keys.join("release-2026.pub"),
        "1.0.0",
        (256 * 1024, 128 * 1024),
    )?;
    let cfg = p(&dev.config_path);
    let (ok, out, err) = run(&[os("--ota-config"), cfg, os("verify"), p(&bundle)])?;
    assert!(ok && out.starts_with("OK:"), "{out}{err}");
    let (ok, out, err) = run(&[os("--ota-config"), cfg, os("install"), p(&bundle)])?;
    assert!(ok, "{err}");
    assert!(out.contains("installed 1.1.0 into slot B"), "{out}");
    assert!(err.contains("Writing 100%"), "no progress shown: {err}");
    let (ok, out, _) = run(&[os("--ota-config"), cfg, os("status")])?;
    assert!(ok);
    assert!(
        out.contains("running: 1.0.0 in slot A; default slot A"),
        "{out}"
    );
    assert!(
        out.contains("pending: 1.1.0 in slot B (reboot-required)"),
        "{out}"
    );
    let (ok, json, _) = run(&[os("--ota-config"), cfg, os("status"), os("--json")])?;
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&json)?;
    assert_eq!(v["pending"]["version"], "1.1.0");
    assert_eq!(v["current_version"], "1.0.0");

    let (ok, _, err) = run(&[os("--ota-config"), cfg, os("reboot")])?;
    assert!(ok, "{err}");
    assert_eq!(Sim::open(&dev.sim).power_on()?.booted, SlotId::B);
    fs::write(dev.root.join("etc/version"), "1.1.0")?;
    let (ok, out, _) = run(&[os("--ota-config"), cfg, os("boot-check")])?;
    assert!(ok && out.contains("trial boot of 1.1.0 in slot B"), "{out}");
    let (ok, out, _) = run(&[os("--ota-config"), cfg, os("mark-good")])?;
    assert!(ok && out.contains("committed 1.1.0"), "{out}");
    let (_, out, _) = run(&[os("--ota-config"), cfg, os("status")])?;
    assert!(
        out.contains("running: 1.1.0 in slot B; default slot B"),
        "{out}"
    );
    assert!(
        out.contains("last result: Success 1.1.0: updated to 1.1.0"),
        "{out}"
    );

    // A missing configuration says so.
    let (ok, _, err) = run(&[
        os("--ota-config"),
        os("/nonexistent/ota.toml"),
        os("status"),
    ])?;
    assert!(!ok && err.contains("/nonexistent/ota.toml"), "{err}");
    Ok(())
}

#[test]
fn another_process_sees_the_progress_of_an_install() -> TestResult {
    let t = tempfile::tempdir()?;
    let k = keygen(&t.path().join("keys"), "release")?;
    let mut o = BundleOpts::new("1.1.0");
    o.system_len = 4 << 20;
    o.block_size = 65536;
    let bundle = make_bundle(t.path(), &[&k.key], &o)?;
    let dev = sim_device(
        &t.path().join("dev"),
        &k.public,
        "1.0.0",
        (256 * 1024, 5 << 20),
    )?;
    let mut child = Command::new(env!("CARGO_BIN_EXE_peerbox-ota"))
        .arg("--ota-config")
        .arg(&dev.config_path)
        .arg("install")
        .arg(&bundle)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    // This process is the admin page: it polls status while the installer runs.
    let ota = peerbox_ota::Ota::new(dev.config.clone())?;
    let mut seen = Vec::new();
    while child.try_wait()?.is_none() {
        if let Some(p) = ota.status()?.progress {
            seen.push(p);
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert!(child.wait()?.success());
    let last = seen.last().ok_or("no progress seen while installing")?;
    assert_eq!(last.version.as_deref(), Some("1.1.0"));
    assert!(last.total > 4 << 20 && last.done <= last.total, "{last:?}");
    assert!(
        seen.windows(2)
            .all(|w| w[0].done <= w[1].done || w[0].stage != w[1].stage)
    );
    // Done: no stale progress bar.
    assert_eq!(ota.status()?.progress, None);
    assert_eq!(
        ota.status()?.pending.map(|p| p.state),
        Some("reboot-required")
    );
    Ok(())
}

/// The node reads the status as an unprivileged user while the root unit installs: it may
/// not open the lock for writing, yet must see the install running and its progress.
#[test]
fn an_unprivileged_reader_sees_the_progress_of_a_root_install() -> TestResult {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let t = tempfile::tempdir()?;
    fs::set_permissions(t.path(), fs::Permissions::from_mode(0o755))?;
    let k = keygen(&t.path().join("keys"), "release")?;
    let dev = sim_device(&t.path().join("dev"), &k.public, "1.0.0", (65536, 65536))?;
    let state = &dev.config.state_dir;
    fs::create_dir_all(state)?;
    // The installer holds the lock and publishes its progress.
    let lock = fs::File::create(state.join("lock"))?;
    lock.lock()?;
    fs::write(
        state.join("progress.json"),
        r#"{"stage":"writing","version":"1.1.0","done":300,"total":1000}"#,
    )?;
    for (p, mode) in [
        (state.join("lock"), 0o444),
        (state.join("progress.json"), 0o444),
        (state.clone(), 0o555),
    ] {
        fs::set_permissions(p, fs::Permissions::from_mode(mode))?;
    }
    // As root, drop to nobody (root would ignore the modes above).
    let mut cmd = if fs::metadata("/proc/self")?.uid() == 0 {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_peerbox-ota"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_peerbox-ota"))
    };
    let out = cmd
        .arg("--ota-config")
        .arg(&dev.config_path)
        .args(["status", "--json"])
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "status failed: {stderr}");
    let status: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(status["current_version"], "1.0.0", "{status}");
    assert_eq!(status["progress"]["stage"], "writing", "{status}");
    assert_eq!(status["progress"]["done"], 300, "{status}");
    drop(lock);
    fs::set_permissions(state, fs::Permissions::from_mode(0o755))?;
    Ok(())
}
