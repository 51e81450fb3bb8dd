//! The health gate of a trial boot: commit only after the node stayed healthy for the whole
//! hold time; a flapping node restarts the clock; a trial that never gets there rolls back
//! and leaves its log on the data partition.

mod common;

use std::fs;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::*;
use peerbox_ota::slots::{Sim, SlotId};
use peerbox_ota::state::OutcomeKind;
use peerbox_ota::{BootCheck, HealthOutcome, Ota, OtaConfig};

fn trial_device(
    hold: f64,
    timeout: f64,
) -> Result<(tempfile::TempDir, SimDevice), Box<dyn std::error::Error>> {
    let t = tempfile::tempdir()?;
    let keys = keygen(&t.path().join("keys"), "release")?;
    let mut dev = sim_device(
        &t.path().join("dev"),
        &keys.public,
        "1.0.0",
        (256 * 1024, 128 * 1024),
    )?;
    let text = fs::read_to_string(&dev.config_path)?
        .replace("hold_secs = 0\n", &format!("hold_secs = {hold}\n"))
        .replace(
            "timeout_secs = 0.02\n",
            &format!("timeout_secs = {timeout}\n"),
        );
    dev.config = OtaConfig::parse(&text)?;
    let bundle = make_bundle(t.path(), &[&keys.key], &BundleOpts::new("1.1.0"))?;
    let ota = Ota::new(dev.config.clone())?;
    ota.install_file(&bundle, &|_| {})?;
    ota.reboot_into_update()?;
    assert_eq!(Sim::open(&dev.sim).power_on()?.booted, SlotId::B);
    fs::write(dev.root.join("etc/version"), "1.1.0")?;
    Ok((t, dev))
}

#[tokio::test]
async fn a_flapping_node_is_committed_only_after_a_full_healthy_hold() -> TestResult {
    let (_t, dev) = trial_device(0.3, 5.0)?;
    let ota = Ota::new(dev.config.clone())?;
    let calls = Arc::new(AtomicU32::new(0));
    let start = Instant::now();
    let c = calls.clone();
    // Healthy, then one failure at the 10th check, then healthy for good.
    let out = ota
        .run_health(move || {
            let n = c.fetch_add(1, Ordering::SeqCst);
            async move {
                if n == 10 {
                    Err("HTTP 502 while the catalog reopens".to_string())
                } else {
                    Ok(())
                }
            }
        })
        .await?;
    assert_eq!(
        out,
        HealthOutcome::Committed {
            version: "1.1.0".into()
        }
    );
    assert!(calls.load(Ordering::SeqCst) > 10);
    // The clock restarted after the failure (10 checks 10 ms apart): at least that plus a full hold.
    assert!(
        start.elapsed() >= Duration::from_millis(300) + Duration::from_millis(10 * 10),
        "{:?}",
        start.elapsed()
    );
    let log = fs::read_to_string(dev.data.join("ota/trial.log"))?;
    assert!(
        log.contains("unhealthy: HTTP 502 while the catalog reopens"),
        "{log}"
    );
    assert!(log.contains("committing 1.1.0"), "{log}");
    assert_eq!(Sim::open(&dev.sim).power_on()?.booted, SlotId::B);
    Ok(())
}

#[tokio::test]
async fn a_node_that_never_gets_healthy_is_rolled_back_and_says_why() -> TestResult {
    let (_t, dev) = trial_device(0.1, 0.3)?;
    let ota = Ota::new(dev.config.clone())?;
    let out = ota
        .run_health(|| async { Err("catalog schema 9 is newer than this build".to_string()) })
        .await?;
    let HealthOutcome::RolledBack { version, reason } = out else {
        panic!("{out:?}")
    };
    assert_eq!(version, "1.1.0");
    assert!(
        reason.contains("did not stay healthy for 0.1s within 0.3s: catalog schema 9"),
        "{reason}"
    );
    assert_eq!(
        Sim::open(&dev.sim).load()?.reboots,
        vec!["normal".to_string()]
    );
    // The old slot comes back and reports it.
    assert_eq!(Sim::open(&dev.sim).power_on()?.booted, SlotId::A);
    fs::write(dev.root.join("etc/version"), "1.0.0")?;
    let ota = Ota::new(dev.config.clone())?;
    assert!(matches!(ota.boot_check()?, BootCheck::RolledBack { .. }));
    assert_eq!(ota.boot_check()?, BootCheck::Normal);
    let st = ota.status()?;
    let last = st.last_result.ok_or("no result")?;
    assert_eq!(last.result, OutcomeKind::RolledBack);
    assert!(last.message.contains("catalog schema 9"));
    assert!(
        st.last_log
            .ok_or("no log")?
            .contains("unhealthy: catalog schema 9 is newer than this build")
    );
    assert_eq!(st.current_version, "1.0.0");
    Ok(())
}

#[tokio::test]
async fn mark_good_commits_a_trial_by_hand_and_mark_bad_rolls_it_back() -> TestResult {
    let (_t, dev) = trial_device(60.0, 600.0)?;
    let ota = Ota::new(dev.config.clone())?;
    assert_eq!(
        ota.mark_good()?,
        BootCheck::Committed {
            version: "1.1.0".into()
        }
    );
    assert_eq!(Sim::open(&dev.sim).power_on()?.booted, SlotId::B);

    let (_t, dev) = trial_device(60.0, 600.0)?;
    let ota = Ota::new(dev.config.clone())?;
    ota.reject_trial("the admin saw broken thumbnails")?;
    assert_eq!(Sim::open(&dev.sim).power_on()?.booted, SlotId::A);
    let st = Ota::new(dev.config.clone())?.status()?;
    assert!(
        st.last_result
            .is_some_and(|l| l.message == "the admin saw broken thumbnails")
    );
    Ok(())
}
