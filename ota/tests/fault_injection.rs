//! Power cuts at every step: the updater is "killed" at each write, fsync and rename of an
//! install, a trial boot and a rollback (injected crashes), and at random moments as a real
//! process (SIGKILL). After each, the simulated device is powered on: it must boot a slot
//! holding a complete image, keep the user's data byte for byte, and settle so that a new
//! install goes through.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use common::*;
use peerbox_ota::fault::{CrashPlan, Io};
use peerbox_ota::slots::{RecordingRebooter, Sim, SlotId};
use peerbox_ota::state::OutcomeKind;
use peerbox_ota::{Error, HealthOutcome, Ota, OtaConfig};
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;

const SYSTEM_LEN: usize = 24_000;

struct Bundles {
    _t: tempfile::TempDir,
    keys: Keys,
    v2: PathBuf,
    v3: PathBuf,
}

fn bundles(system_len: usize, block_size: u32) -> Result<Bundles, Box<dyn std::error::Error>> {
    let t = tempfile::tempdir()?;
    let keys = keygen(&t.path().join("keys"), "release")?;
    let mut o = BundleOpts::new("1.1.0");
    o.system_len = system_len;
    o.block_size = block_size;
    let v2 = make_bundle(t.path(), &[&keys.key], &o)?;
    o.version = "1.2.0";
    let v3 = make_bundle(t.path(), &[&keys.key], &o)?;
    Ok(Bundles {
        _t: t,
        keys,
        v2,
        v3,
    })
}

/// A device and what it must look like whatever happens.
struct World {
    _t: tempfile::TempDir,
    dev: SimDevice,
    data: std::collections::BTreeMap<PathBuf, String>,
    /// Versions whose complete image may boot.
    good: Vec<(&'static str, String)>,
    system_len: usize,
    /// U-Boot backend (text environment, the image's boot script emulated) instead of the simulator.
    uboot: bool,
}

fn world(base: &Path, b: &Bundles, system_len: usize) -> Result<World, Box<dyn std::error::Error>> {
    world_with(base, b, system_len, false)
}

fn world_with(
    base: &Path,
    b: &Bundles,
    system_len: usize,
    uboot: bool,
) -> Result<World, Box<dyn std::error::Error>> {
    let t = tempfile::tempdir_in(base)?;
    let mut dev = sim_device(
        t.path(),
        &b.keys.public,
        "1.0.0",
        (256 * 1024, system_len as u64 + 8192),
    )?;
    // The flashed slot A holds a complete 1.0.0 system of the same length as the bundles'.
    fs::write(dev.sim.join("a.system"), {
        let mut v = system_bytes("1.0.0", system_len);
        v.resize(system_len + 8192, 0);
        v
    })?;
    let good = ["1.0.0", "1.1.0", "1.2.0"]
        .into_iter()
        .map(|v| {
            (
                v,
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(system_bytes(
                    v, system_len,
                ))),
            )
        })
        .collect();
    if uboot {
        // The same slot files, switched by a U-Boot environment on a "config partition".
        let config = dev.root.join("config");
        fs::create_dir_all(&config)?;
        fs::write(
            config.join("peerbox-boot.env"),
            "BOOT_ORDER=A B\nBOOT_A_LEFT=3\nBOOT_B_LEFT=3\n",
        )?;
        let sim = dev.sim.display().to_string();
        let text = fs::read_to_string(&dev.config_path)?.replace(
            &format!("kind = \"sim\"\ndir = \"{sim}\"\n"),
            &format!(
                "kind = \"uboot\"\nenv = {{ path = \"{}\", format = \"text\" }}\ncmdline = \"{}\"\n\
                 a = {{ boot = \"{sim}/a.boot\", system = \"{sim}/a.system\" }}\n\
                 b = {{ boot = \"{sim}/b.boot\", system = \"{sim}/b.system\" }}\n",
                config.join("peerbox-boot.env").display(),
                dev.root.join("cmdline").display()
            ),
        );
        dev.config = OtaConfig::parse(&text)?;
    }
    let w = World {
        data: data_fingerprint(&dev.data),
        _t: t,
        dev,
        good,
        system_len,
        uboot,
    };
    if uboot {
        w.power_on("first boot")?;
    }
    Ok(w)
}

impl World {
    fn ota(&self, io: Io) -> Result<Ota, String> {
        let cfg: OtaConfig = self.dev.config.clone();
        let slots = cfg
            .slots(Some(Arc::new(RecordingRebooter::default())))
            .map_err(|e| e.to_string())?;
        Ok(Ota::with_parts(cfg, slots, io))
    }

    /// The image's boot script (image/uboot/boot.cmd): import the three variables, boot the
    /// first slot in BOOT_ORDER with tries left after taking one, export them again; when no
    /// slot has tries left, both get theirs back.
    fn uboot_boot(&self) -> Result<SlotId, String> {
        let path = self.dev.root.join("config/peerbox-boot.env");
        let mut env: BTreeMap<String, String> = [
            ("BOOT_ORDER", "A B"),
            ("BOOT_A_LEFT", "3"),
            ("BOOT_B_LEFT", "3"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let text = fs::read_to_string(&path).unwrap_or_default();
        for (k, v) in text.lines().filter_map(|l| l.split_once('=')) {
            if env.contains_key(k) {
                env.insert(k.to_string(), v.to_string());
            }
        }
        for _ in 0..2 {
            let order = env.get("BOOT_ORDER").cloned().unwrap_or_default();
            for name in order.split_whitespace() {
                let key = format!("BOOT_{name}_LEFT");
                let left: u32 = env.get(&key).and_then(|v| v.parse().ok()).unwrap_or(0);
                if left > 0 {
                    env.insert(key, (left - 1).to_string());
                    let out: String = env.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
                    fs::write(&path, out).map_err(|e| e.to_string())?;
                    fs::write(
                        self.dev.sim.join("boot_id"),
                        format!("{:x}", rand::random::<u64>()),
                    )
                    .map_err(|e| e.to_string())?;
                    fs::write(
                        self.dev.root.join("cmdline"),
                        format!("root=PARTUUID=0badc0de-05 peerbox.slot={name}\n"),
                    )
                    .map_err(|e| e.to_string())?;
                    return SlotId::parse(name).ok_or_else(|| format!("bad slot {name}"));
                }
            }
            env.insert("BOOT_A_LEFT".into(), "3".into());
            env.insert("BOOT_B_LEFT".into(), "3".into());
        }
        Err("no slot to boot".into())
    }

    /// Powers the device on and checks what boots. Writes the booted slot's version file, as
    /// each slot has its own /etc/peerbox/version.
    fn power_on(&self, why: &str) -> Result<SlotId, String> {
        let booted = if self.uboot {
            self.uboot_boot()
                .map_err(|e| format!("{why}: device does not boot: {e}"))?
        } else {
            Sim::open(&self.dev.sim)
                .power_on()
                .map_err(|e| format!("{why}: device does not boot: {e}"))?
                .booted
        };
        let slot = booted.to_string().to_ascii_lowercase();
        let sha = sha_prefix(
            &self.dev.sim.join(format!("{slot}.system")),
            self.system_len,
        )
        .map_err(|e| e.to_string())?;
        let version = self
            .good
            .iter()
            .find(|(_, h)| *h == sha)
            .map(|(v, _)| *v)
            .ok_or_else(|| format!("{why}: booted slot {booted} holds no complete image"))?;
        fs::write(self.dev.root.join("etc/version"), version).map_err(|e| e.to_string())?;
        if data_fingerprint(&self.dev.data) != self.data {
            return Err(format!("{why}: the data partition changed"));
        }
        Ok(booted)
    }

    fn version(&self) -> String {
        fs::read_to_string(self.dev.root.join("etc/version")).unwrap_or_default()
    }
}

fn rt() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("runtime: {e}"),
    }
}

fn health(rt: &tokio::runtime::Runtime, ota: &Ota, healthy: bool) -> Result<HealthOutcome, Error> {
    rt.block_on(ota.run_health(|| async move {
        if healthy {
            Ok(())
        } else {
            Err("catalog failed to open: schema 9 is newer than 8".to_string())
        }
    }))
}

fn e<T>(r: Result<T, Error>) -> Result<T, String> {
    r.map_err(|e| format!("unexpected error: {e}"))
}

fn crashed<T>(r: &Result<T, Error>) -> bool {
    matches!(r, Err(Error::Crashed(_)))
}

/// One update attempt, with the process dying at step `plan` (if it gets that far).
/// Returns Err(description) when an invariant broke.
fn lifecycle(
    w: &World,
    rt: &tokio::runtime::Runtime,
    bundle: &Path,
    plan: &Arc<CrashPlan>,
    healthy: bool,
) -> Result<(), String> {
    // Process 1: install, then reboot into the trial.
    let ota = w.ota(Io::with_crash_plan(plan.clone()))?;
    let r = ota.install_file(bundle, &|_| {});
    if !crashed(&r) {
        e(r)?;
        let r = ota.reboot_into_update();
        if !crashed(&r) {
            e(r)?;
            // The admin page polls while the box shuts down: the update must stay armed.
            let r = ota.status();
            if !crashed(&r) {
                let state = e(r)?.pending.map(|p| p.state);
                if state != Some("rebooting") {
                    return Err(format!("during the reboot the update shows as {state:?}"));
                }
            }
        }
    }
    w.power_on("after the install")?;
    if plan.crashed() {
        return Ok(());
    }
    // Process 2: the trial boot's health check, commit or rollback.
    let ota = w.ota(Io::with_crash_plan(plan.clone()))?;
    let r = health(rt, &ota, healthy);
    if crashed(&r) {
        w.power_on("after a crash in the trial")?;
        return Ok(());
    }
    let out = e(r)?;
    match (&out, healthy) {
        (HealthOutcome::Committed { .. }, true) => {}
        (HealthOutcome::RolledBack { reason, version }, false) => {
            if !reason.contains("catalog failed to open") {
                return Err(format!("rollback reason lost: {reason}"));
            }
            // The admin page asks before the reboot lands: never "success".
            let r = ota.status();
            if !crashed(&r) {
                let st = e(r)?;
                if st.last_result.is_some_and(|l| {
                    l.result == OutcomeKind::Success
                        && l.version.as_deref() == Some(version.as_str())
                }) {
                    return Err(format!("a rolled-back {version} shows as a success"));
                }
            }
            w.power_on("after the rollback reboot")?;
        }
        _ => return Err(format!("healthy={healthy} but {out:?}")),
    }
    Ok(())
}

/// After anything: boots settle within a few power cycles, nothing stays half-done, and (with
/// `reinstall`) a clean install of `bundle` then commits.
fn settle(
    w: &World,
    rt: &tokio::runtime::Runtime,
    bundle: &Path,
    version: &str,
    reinstall: bool,
) -> Result<(), String> {
    for _ in 0..4 {
        let ota = w.ota(Io::default())?;
        e(health(rt, &ota, true))?;
        let st = e(ota.status())?;
        match st.pending.as_ref().map(|p| p.state) {
            None => break,
            Some("reboot-required") => {
                e(ota.reboot_into_update())?;
                w.power_on("reboot into a pending update")?;
            }
            Some(other) => return Err(format!("stuck in {other}: {st:?}")),
        }
    }
    let ota = w.ota(Io::default())?;
    let st = e(ota.status())?;
    if st.pending.is_some() || st.trial {
        return Err(format!("not settled: {st:?}"));
    }
    if !reinstall {
        return Ok(());
    }
    if w.version() != version {
        e(ota.install_file(bundle, &|_| {}))?;
        e(ota.reboot_into_update())?;
        w.power_on("clean update")?;
        let out = e(health(rt, &w.ota(Io::default())?, true))?;
        if !matches!(out, HealthOutcome::Committed { .. }) {
            return Err(format!("clean update not committed: {out:?}"));
        }
        w.power_on("after commit")?;
    }
    if w.version() != version {
        return Err(format!("ended on {} instead of {version}", w.version()));
    }
    let last = e(w.ota(Io::default())?.status())?
        .last_result
        .ok_or("no last result")?;
    if last.result != OutcomeKind::Success {
        return Err(format!("last result {last:?}"));
    }
    Ok(())
}

fn steps(
    w: &World,
    rt: &tokio::runtime::Runtime,
    bundle: &Path,
    healthy: bool,
) -> Result<u64, String> {
    let plan = CrashPlan::counting();
    lifecycle(w, rt, bundle, &plan, healthy)?;
    Ok(plan.steps_seen())
}

/// Crashes at every `stride`-th step of one update's life (install, reboot request, trial,
/// commit or rollback). Returns the cases run and the kinds of steps hit.
fn every_step(
    base: &Path,
    b: &Bundles,
    rt: &tokio::runtime::Runtime,
    uboot: bool,
    healthy: bool,
    stride: usize,
) -> Result<(usize, std::collections::BTreeSet<String>), String> {
    let w = world_with(base, b, SYSTEM_LEN, uboot).map_err(|e| e.to_string())?;
    let n = steps(&w, rt, &b.v2, healthy)?;
    if n <= 50 {
        return Err(format!("only {n} steps"));
    }
    let mut kinds = std::collections::BTreeSet::new();
    let mut cases = 0;
    for k in (1..=n).step_by(stride) {
        let w = world_with(base, b, SYSTEM_LEN, uboot).map_err(|e| e.to_string())?;
        let plan = CrashPlan::at(k);
        lifecycle(&w, rt, &b.v2, &plan, healthy)
            .and_then(|_| settle(&w, rt, &b.v2, "1.1.0", k % 4 == 0))
            .map_err(|e| {
                format!(
                    "uboot={uboot}, healthy={healthy}, crash at step {k} ({:?}): {e}",
                    plan.crashed_at()
                )
            })?;
        kinds.insert(
            plan.crashed_at()
                .unwrap_or_default()
                .split(' ')
                .next()
                .unwrap_or("")
                .to_string(),
        );
        cases += 1;
    }
    Ok((cases, kinds))
}

#[test]
fn injected_crashes_with_the_uboot_boot_counter() -> TestResult {
    let b = bundles(SYSTEM_LEN, 4096)?;
    let base = tempfile::tempdir()?;
    let fs = Tmpfs::mount(base.path(), "256m")?;
    let rt = rt();
    let (healthy, _) = every_step(&fs.0, &b, &rt, true, true, 1)?;
    let (unhealthy, _) = every_step(&fs.0, &b, &rt, true, false, 2)?;
    eprintln!("U-Boot: {} injected crashes", healthy + unhealthy);
    assert!(healthy + unhealthy >= 100);
    Ok(())
}

#[test]
fn injected_crashes_at_every_step_leave_a_bootable_good_slot() -> TestResult {
    let b = bundles(SYSTEM_LEN, 4096)?;
    // Devices live on a tmpfs: fsync costs nothing there, and a kill is a kill all the same.
    let base = tempfile::tempdir()?;
    let fs = Tmpfs::mount(base.path(), "256m")?;
    let rt = rt();
    let seed: u64 = rand::random();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut cases = 0;
    let mut at_steps = std::collections::BTreeSet::new();
    let started = Instant::now();
    for healthy in [true, false] {
        let (n, kinds) = every_step(&fs.0, &b, &rt, false, healthy, 1)?;
        cases += n;
        at_steps.extend(kinds);
    }
    // The other direction: running 1.1.0 from slot B, update to 1.2.0 into slot A, crashing
    // at random steps.
    let n = {
        let w = world(&fs.0, &b, SYSTEM_LEN)?;
        settle(&w, &rt, &b.v2, "1.1.0", true)?;
        steps(&w, &rt, &b.v3, true)?
    };
    for _ in 0..60 {
        let w = world(&fs.0, &b, SYSTEM_LEN)?;
        settle(&w, &rt, &b.v2, "1.1.0", true)?;
        let k = rng.gen_range(1..=n);
        let healthy = rng.gen_bool(0.7);
        let plan = CrashPlan::at(k);
        lifecycle(&w, &rt, &b.v3, &plan, healthy)
            .and_then(|_| settle(&w, &rt, &b.v3, "1.2.0", true))
            .map_err(|e| {
                format!(
                    "seed {seed}: 1.1.0 -> 1.2.0, crash at {k} ({:?}): {e}",
                    plan.crashed_at()
                )
            })?;
        cases += 1;
    }
    eprintln!(
        "{cases} injected crashes in {:?}; step kinds: {at_steps:?}",
        started.elapsed()
    );
    assert!(cases >= 200, "{cases} cases");
    for kind in ["write", "fsync", "rename", "create"] {
        assert!(
            at_steps.contains(kind),
            "no crash at a {kind} step: {at_steps:?}"
        );
    }
    Ok(())
}

#[test]
fn sigkill_of_the_installer_process_at_random_moments() -> TestResult {
    // Larger payloads so that an install takes long enough to be hit anywhere.
    let system_len = 1 << 20;
    let b = bundles(system_len, 65536)?;
    let base = tempfile::tempdir()?;
    let fs = Tmpfs::mount(base.path(), "256m")?;
    let rt = rt();
    let bin = env!("CARGO_BIN_EXE_peerbox-ota");
    let install = |w: &World| -> std::io::Result<std::process::Child> {
        Command::new(bin)
            .arg("--ota-config")
            .arg(&w.dev.config_path)
            .arg("install")
            .arg(&b.v2)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
    };
    // How long an install takes here; the estimate follows the fastest runs seen, as the
    // machine's load changes.
    let w = world(&fs.0, &b, system_len)?;
    let t0 = Instant::now();
    let st = install(&w)?.wait()?;
    assert!(st.success());
    let mut est = t0.elapsed();
    let seed: u64 = rand::random();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let (mut killed, mut finished) = (0, 0);
    for i in 0..60 {
        if killed >= 16 {
            break;
        }
        let w = world(&fs.0, &b, system_len)?;
        let mut child = install(&w)?;
        let start = Instant::now();
        let at = est.mul_f64(rng.gen_range(0.0..1.05));
        let mut done = None;
        while start.elapsed() < at {
            if child.try_wait()?.is_some() {
                done = Some(start.elapsed());
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        match done {
            Some(took) => {
                finished += 1;
                est = est.min(took);
            }
            None => {
                child.kill()?; // SIGKILL
                killed += 1;
            }
        }
        child.wait()?;
        w.power_on("after SIGKILL")
            .and_then(|_| settle(&w, &rt, &b.v2, "1.1.0", i % 2 == 0))
            .map_err(|e| format!("seed {seed}, case {i}, killed after {at:?}: {e}"))?;
    }
    eprintln!(
        "{killed} installs killed, {finished} finished first (an install takes about {est:?})"
    );
    assert!(killed >= 12, "only {killed} kills landed");
    Ok(())
}
