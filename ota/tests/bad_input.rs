//! Bundles that must be refused, and what the user is told.

mod common;

use std::fs;
use std::process::Command;

use common::*;
use peerbox_ota::bundle::{self, MAGIC};
use peerbox_ota::keys::Keyring;
use peerbox_ota::slots::{Sim, SlotId};
use peerbox_ota::state::OutcomeKind;
use peerbox_ota::{Error, Ota};

fn verify(path: &std::path::Path, keyring: &Keyring) -> Result<bundle::Header, Error> {
    bundle::verify_file(path, keyring, &mut |_, _| {})
}

#[test]
fn a_good_bundle_verifies_and_names_its_signer() -> TestResult {
    let t = tempfile::tempdir()?;
    let k = keygen(t.path(), "release")?;
    let b = make_bundle(t.path(), &[&k.key], &BundleOpts::new("1.1.0"))?;
    let h = verify(&b, &Keyring::load(&k.public)?)?;
    assert_eq!(h.manifest.version, "1.1.0");
    assert_eq!(h.manifest.board, "sim-board");
    assert_eq!(h.signed_by, Keyring::load(&k.public)?.ids()[0]);
    Ok(())
}

#[test]
fn a_bundle_signed_by_an_unknown_key_is_refused_naming_the_key() -> TestResult {
    let t = tempfile::tempdir()?;
    let trusted = keygen(t.path(), "trusted")?;
    let other = keygen(t.path(), "other")?;
    let b = make_bundle(t.path(), &[&other.key], &BundleOpts::new("1.1.0"))?;
    let other_id = Keyring::load(&other.public)?.ids()[0].clone();
    match verify(&b, &Keyring::load(&trusted.public)?) {
        Err(e @ Error::UnknownKey { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains("unknown key") && msg.contains(&other_id),
                "{msg}"
            );
        }
        other => panic!("expected an unknown key, got {other:?}"),
    }
    Ok(())
}

#[test]
fn key_rotation_through_the_keyring_folder_and_double_signatures() -> TestResult {
    let t = tempfile::tempdir()?;
    let keys_dir = t.path().join("keys");
    let k1 = keygen(&keys_dir, "k1")?;
    let k2 = keygen(&keys_dir, "k2")?;
    let old_ring = t.path().join("old-ring");
    fs::create_dir_all(&old_ring)?;
    fs::copy(&k1.public, old_ring.join("k1.pub"))?;
    let new_ring = t.path().join("new-ring");
    fs::create_dir_all(&new_ring)?;
    fs::copy(&k2.public, new_ring.join("k2.pub"))?;
    // The transition bundle, signed by both: old devices and new devices take it.
    let both = make_bundle(t.path(), &[&k1.key, &k2.key], &BundleOpts::new("2.0.0"))?;
    verify(&both, &Keyring::load(&old_ring)?)?;
    verify(&both, &Keyring::load(&new_ring)?)?;
    // The keyring folder (both keys) takes either.
    let only_k2 = make_bundle(t.path(), &[&k2.key], &BundleOpts::new("2.1.0"))?;
    verify(&only_k2, &Keyring::load(&keys_dir)?)?;
    // A device still on the old keyring refuses the new key alone.
    assert!(matches!(
        verify(&only_k2, &Keyring::load(&old_ring)?),
        Err(Error::UnknownKey { .. })
    ));
    Ok(())
}

#[derive(Debug)]
enum Region {
    Magic,
    Lengths,
    Manifest,
    SigKey,
    Sig,
    Index,
    Payload(&'static str, u64),
}

#[test]
fn a_corrupted_byte_anywhere_is_found_and_named() -> TestResult {
    let t = tempfile::tempdir()?;
    let k = keygen(t.path(), "release")?;
    let path = make_bundle(t.path(), &[&k.key], &BundleOpts::new("1.1.0"))?;
    let ring = Keyring::load(&k.public)?;
    let good = fs::read(&path)?;
    let h = verify(&path, &ring)?;
    let ml = u32::from_le_bytes(good[8..12].try_into()?) as usize;
    let sl = u32::from_le_bytes(good[12..16].try_into()?) as usize;
    let index_start = 16 + ml + sl;
    let payload_start = h.header_len as usize;
    let bs = u64::from(h.manifest.block_size);
    let boot = h.manifest.payloads[0].size as usize;
    let mut cases: Vec<(usize, Region)> = vec![
        (0, Region::Magic),
        (7, Region::Magic),
        (9, Region::Lengths),
        (14, Region::Lengths),
    ];
    for i in 0..8 {
        cases.push((16 + i * (ml - 1) / 7, Region::Manifest));
    }
    for i in [0, 17, 31] {
        cases.push((16 + ml + i, Region::SigKey));
    }
    for i in [32, 60, 95] {
        cases.push((16 + ml + i, Region::Sig));
    }
    for i in 0..6 {
        cases.push((
            index_start + i * (payload_start - index_start - 1) / 5,
            Region::Index,
        ));
    }
    for i in 0..12 {
        let off = i * (good.len() - payload_start - 1) / 11;
        let r = if off < boot {
            Region::Payload("boot", off as u64 / bs)
        } else {
            Region::Payload("system", (off - boot) as u64 / bs)
        };
        cases.push((payload_start + off, r));
    }
    let bad = t.path().join("bad.pbx");
    for (pos, region) in &cases {
        let mut bytes = good.clone();
        bytes[*pos] ^= 0x5a;
        fs::write(&bad, &bytes)?;
        let err = match verify(&bad, &ring) {
            Ok(_) => panic!("byte {pos} ({region:?}) corrupted but the bundle verified"),
            Err(e) => e,
        };
        let ok = match (region, &err) {
            (Region::Magic, Error::NotABundle) => true,
            (
                Region::Lengths,
                Error::Malformed(_)
                | Error::Truncated(_)
                | Error::BadSignature { .. }
                | Error::UnknownKey { .. },
            ) => true,
            (Region::Manifest, Error::BadSignature { .. }) => true,
            (Region::SigKey, Error::UnknownKey { .. }) => true,
            (Region::Sig, Error::BadSignature { .. }) => true,
            (Region::Index, Error::BadIndex { .. }) => true,
            (Region::Payload(name, block), Error::BadBlock { payload, block: b }) => {
                payload == name && b == block
            }
            _ => false,
        };
        assert!(ok, "byte {pos} in {region:?}: unexpected error {err:?}");
        assert!(!err.to_string().is_empty());
    }
    // Cut short anywhere: truncated, never accepted.
    for cut in [10, 16 + ml / 2, payload_start + 100, good.len() - 1] {
        fs::write(&bad, &good[..cut])?;
        assert!(verify(&bad, &ring).is_err(), "truncated at {cut} verified");
    }
    assert_eq!(&good[..8], MAGIC);
    Ok(())
}

struct Device {
    _t: tempfile::TempDir,
    dev: SimDevice,
    keys: Keys,
    dir: std::path::PathBuf,
}

fn device(version: &str, slot_len: (u64, u64)) -> Result<Device, Box<dyn std::error::Error>> {
    let t = tempfile::tempdir()?;
    let dir = t.path().to_owned();
    let keys = keygen(&dir.join("keys"), "release")?;
    let dev = sim_device(&dir.join("device"), &keys.public, version, slot_len)?;
    Ok(Device {
        _t: t,
        dev,
        keys,
        dir,
    })
}

fn slot_b(d: &Device) -> std::io::Result<Vec<u8>> {
    fs::read(d.dev.sim.join("b.system"))
}

#[test]
fn a_payload_corruption_stops_a_streamed_install_and_the_slot_never_boots() -> TestResult {
    let d = device("1.0.0", (512 * 1024, 128 * 1024))?;
    let path = make_bundle(&d.dir, &[&d.keys.key], &BundleOpts::new("1.1.0"))?;
    let mut bytes = fs::read(&path)?;
    let n = bytes.len();
    bytes[n - 5000] ^= 1; // inside the system payload
    let ota = Ota::new(d.dev.config.clone())?;
    let err = ota
        .install_stream(&mut bytes.as_slice(), n as u64, &|_| {})
        .err();
    assert!(
        matches!(&err, Some(Error::BadBlock { payload, .. }) if payload == "system"),
        "{err:?}"
    );
    let st = ota.status()?;
    let last = st.last_result.ok_or("no last result")?;
    assert_eq!(last.result, OutcomeKind::Failed);
    assert!(
        last.message.contains("does not match its hash"),
        "{}",
        last.message
    );
    assert!(st.pending.is_none());
    let boot = Sim::open(&d.dev.sim).power_on()?;
    assert_eq!(boot.booted, SlotId::A);
    Ok(())
}

#[test]
fn a_corrupted_file_is_refused_before_a_byte_is_written() -> TestResult {
    let d = device("1.0.0", (512 * 1024, 128 * 1024))?;
    let path = make_bundle(&d.dir, &[&d.keys.key], &BundleOpts::new("1.1.0"))?;
    let mut bytes = fs::read(&path)?;
    let n = bytes.len();
    bytes[n - 1] ^= 1; // the very last byte
    fs::write(&path, &bytes)?;
    let before = slot_b(&d)?;
    let ota = Ota::new(d.dev.config.clone())?;
    let err = ota.install_file(&path, &|_| {}).err();
    assert!(matches!(err, Some(Error::BadBlock { .. })), "{err:?}");
    assert_eq!(slot_b(&d)?, before, "slot B was written");
    assert_eq!(
        ota.status()?.last_result.ok_or("no result")?.result,
        OutcomeKind::Refused
    );
    Ok(())
}

#[test]
fn another_boards_bundle_is_refused() -> TestResult {
    let d = device("1.0.0", (512 * 1024, 128 * 1024))?;
    let mut o = BundleOpts::new("1.1.0");
    o.board = "rpi5";
    let path = make_bundle(&d.dir, &[&d.keys.key], &o)?;
    let ota = Ota::new(d.dev.config.clone())?;
    let err = ota.install_file(&path, &|_| {}).err().ok_or("installed")?;
    assert_eq!(
        err.to_string(),
        "bundle is for board rpi5, this device is sim-board"
    );
    Ok(())
}

#[test]
fn a_bundle_not_compatible_with_the_running_version_is_refused() -> TestResult {
    let d = device("1.0.0", (512 * 1024, 128 * 1024))?;
    let mut o = BundleOpts::new("3.0.0");
    o.compatible_from = Some(">=2.0.0");
    let path = make_bundle(&d.dir, &[&d.keys.key], &o)?;
    let err = Ota::new(d.dev.config.clone())?
        .install_file(&path, &|_| {})
        .err()
        .ok_or("installed")?;
    assert!(matches!(err, Error::Incompatible { .. }), "{err}");
    assert!(err.to_string().contains("over 1.0.0"), "{err}");
    Ok(())
}

#[test]
fn a_downgrade_below_the_minimum_is_refused_after_a_commit_raised_it() -> TestResult {
    let d = device("1.0.0", (512 * 1024, 128 * 1024))?;
    let mut o = BundleOpts::new("2.0.0");
    o.min_version = Some("2.0.0");
    let v2 = make_bundle(&d.dir, &[&d.keys.key], &o)?;
    let ota = Ota::new(d.dev.config.clone())?;
    ota.install_file(&v2, &|_| {})?;
    ota.reboot_into_update()?;
    Sim::open(&d.dev.sim).power_on()?;
    fs::write(d.dev.root.join("etc/version"), "2.0.0")?; // slot B's own /etc/peerbox/version
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let out = rt.block_on(ota.run_health(|| async { Ok(()) }))?;
    assert_eq!(
        out,
        peerbox_ota::HealthOutcome::Committed {
            version: "2.0.0".into()
        }
    );
    assert_eq!(ota.status()?.minimum_version.as_deref(), Some("2.0.0"));
    // 1.5.0 is signed and for this board, but older than the floor.
    let old = make_bundle(&d.dir, &[&d.keys.key], &BundleOpts::new("1.5.0"))?;
    let err = ota.install_file(&old, &|_| {}).err().ok_or("installed")?;
    assert_eq!(
        err.to_string(),
        "downgrade refused: bundle version 1.5.0 is below the minimum allowed version 2.0.0"
    );
    Ok(())
}

#[test]
fn a_slot_too_small_is_refused_before_writing_and_says_so() -> TestResult {
    // System slot of 10 kB; the bundle's system image is 40 kB.
    let d = device("1.0.0", (512 * 1024, 10_000))?;
    let path = make_bundle(&d.dir, &[&d.keys.key], &BundleOpts::new("1.1.0"))?;
    let before = slot_b(&d)?;
    let ota = Ota::new(d.dev.config.clone())?;
    let err = ota.install_file(&path, &|_| {}).err().ok_or("installed")?;
    assert_eq!(
        err.to_string(),
        "no space: payload system needs 40000 bytes but slot B system has 10000"
    );
    assert_eq!(slot_b(&d)?, before);
    assert_eq!(Sim::open(&d.dev.sim).power_on()?.booted, SlotId::A);
    Ok(())
}

#[test]
fn a_full_disk_under_the_slot_fails_the_install_and_the_old_slot_boots() -> TestResult {
    let d = device("1.0.0", (512 * 1024, 128 * 1024))?;
    let path = make_bundle(&d.dir, &[&d.keys.key], &BundleOpts::new("1.1.0"))?;
    // Slot B's boot partition: a sparse 512 KiB file on a 16 KiB tmpfs, so it passes the size
    // check and the disk fills up while writing.
    let small = Tmpfs::mount(&d.dir.join("small"), "16k")?;
    let b_boot = small.0.join("b.boot");
    fs::File::create(&b_boot)?.set_len(512 * 1024)?;
    fs::remove_file(d.dev.sim.join("b.boot"))?;
    std::os::unix::fs::symlink(&b_boot, d.dev.sim.join("b.boot"))?;
    let ota = Ota::new(d.dev.config.clone())?;
    let err = ota.install_file(&path, &|_| {}).err().ok_or("installed")?;
    assert!(err.to_string().contains("No space left on device"), "{err}");
    assert!(err.to_string().contains("boot to slot B"), "{err}");
    assert_eq!(Sim::open(&d.dev.sim).power_on()?.booted, SlotId::A);
    let st = ota.status()?;
    let last = st.last_result.ok_or("no result")?;
    assert_eq!(last.result, OutcomeKind::Failed);
    assert!(last.message.contains("No space left on device"));
    drop(small);
    Ok(())
}

#[test]
fn the_verify_command_exits_non_zero_and_names_what_failed() -> TestResult {
    let d = device("1.0.0", (512 * 1024, 128 * 1024))?;
    let good = make_bundle(&d.dir, &[&d.keys.key], &BundleOpts::new("1.1.0"))?;
    let stranger = keygen(&d.dir.join("stranger"), "x")?;
    let mut o = BundleOpts::new("1.2.0");
    o.board = "rpi4";
    let foreign = make_bundle(&d.dir, &[&d.keys.key], &o)?;
    let unknown = make_bundle(
        &d.dir.join("stranger"),
        &[&stranger.key],
        &BundleOpts::new("1.3.0"),
    )?;
    let mut corrupt = fs::read(&good)?;
    let n = corrupt.len();
    corrupt[n - 100] ^= 0xff;
    let corrupt_path = d.dir.join("corrupt.pbx");
    fs::write(&corrupt_path, corrupt)?;
    let run = |bundle: &std::path::Path| -> std::io::Result<(bool, String)> {
        let out = Command::new(env!("CARGO_BIN_EXE_peerbox-ota"))
            .arg("--ota-config")
            .arg(&d.dev.config_path)
            .arg("verify")
            .arg(bundle)
            .output()?;
        Ok((
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        ))
    };
    let (ok, out) = run(&good)?;
    assert!(ok, "{out}");
    assert!(
        out.starts_with("OK: ") && out.contains("1.1.0 for sim-board"),
        "{out}"
    );
    for (path, want) in [
        (
            &foreign,
            "bundle is for board rpi4, this device is sim-board",
        ),
        (&unknown, "signed by an unknown key"),
        (
            &corrupt_path,
            "payload system: block 9 does not match its hash",
        ),
    ] {
        let (ok, out) = run(path)?;
        assert!(!ok, "{} verified: {out}", path.display());
        assert!(
            out.starts_with("peerbox ota: ") && out.contains(want),
            "{out}"
        );
    }
    // Off the device: an explicit keyring.
    let out = Command::new(env!("CARGO_BIN_EXE_peerbox-ota"))
        .args(["--ota-config", "/nonexistent.toml", "verify", "--keyring"])
        .arg(&stranger.public)
        .arg(&good)
        .output()?;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown key"));
    Ok(())
}

#[test]
fn a_refused_bundle_leaves_a_pending_update_armed() -> TestResult {
    let d = device("1.0.0", (512 * 1024, 128 * 1024))?;
    let good = make_bundle(&d.dir, &[&d.keys.key], &BundleOpts::new("1.1.0"))?;
    let mut o = BundleOpts::new("1.2.0");
    o.board = "rpi4";
    let foreign = make_bundle(&d.dir, &[&d.keys.key], &o)?;
    let ota = Ota::new(d.dev.config.clone())?;
    ota.install_file(&good, &|_| {})?;
    assert!(ota.install_file(&foreign, &|_| {}).is_err());
    let st = ota.status()?;
    assert_eq!(
        st.pending.map(|p| (p.version, p.state)),
        Some(("1.1.0".to_string(), "reboot-required"))
    );
    assert_eq!(st.last_result.map(|l| l.result), Some(OutcomeKind::Refused));
    // The stream path too (an upload of a bundle signed by a stranger).
    let stranger = keygen(&d.dir.join("stranger"), "x")?;
    let unknown = fs::read(make_bundle(
        &d.dir.join("stranger"),
        &[&stranger.key],
        &BundleOpts::new("1.3.0"),
    )?)?;
    assert!(matches!(
        ota.install_stream(&mut unknown.as_slice(), 0, &|_| {}),
        Err(Error::UnknownKey { .. })
    ));
    assert_eq!(
        ota.status()?.pending.map(|p| p.version),
        Some("1.1.0".to_string())
    );
    ota.reboot_into_update()?;
    assert_eq!(Sim::open(&d.dev.sim).power_on()?.booted, SlotId::B);
    Ok(())
}
