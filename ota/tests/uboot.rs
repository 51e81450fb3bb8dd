//! U-Boot boot counter: the binary environment matches what U-Boot's own tool writes, and the
//! image's boot script (image/uboot/boot.cmd, emulated here: `env import`, first slot in
//! BOOT_ORDER with tries left, decrement, `env export` + `fatwrite` of its three variables)
//! takes trials, commits and falls back, with the environment kept as text or binary.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use common::*;
use peerbox_ota::fault::Io;
use peerbox_ota::slots::{RecordingRebooter, SlotId};
use peerbox_ota::ubootenv::{self, EnvFormat, EnvLocation};
use peerbox_ota::{BootCheck, HealthOutcome, Ota, OtaConfig};

const ENV_SIZE: usize = 0x4000;

/// U-Boot's mkenvimage (u-boot-tools) from `name=value` lines.
fn mkenvimage(
    vars: &[(&str, &str)],
    size: usize,
    redundant: bool,
    out: &Path,
) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let input = out.with_extension("txt");
    fs::write(
        &input,
        vars.iter()
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect::<String>(),
    )?;
    let mut cmd = Command::new("mkenvimage");
    cmd.args(["-s", &size.to_string(), "-p", "0", "-o"])
        .arg(out);
    if redundant {
        cmd.arg("-r");
    }
    let st = cmd
        .arg(&input)
        .status()
        .map_err(|e| format!("mkenvimage (install u-boot-tools): {e}"))?;
    if !st.success() {
        return Err("mkenvimage failed".into());
    }
    Ok(fs::read(out)?)
}

/// Reads an environment image the way U-Boot's `env import -c` does, independently of ours.
fn uboot_import(bytes: &[u8]) -> Option<BTreeMap<String, String>> {
    let crc = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?);
    if crc32fast::hash(&bytes[4..]) != crc {
        return None;
    }
    Some(
        bytes[4..]
            .split(|b| *b == 0)
            .take_while(|e| !e.is_empty())
            .filter_map(|e| {
                let s = String::from_utf8_lossy(e);
                s.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
            })
            .collect(),
    )
}

#[test]
fn our_environment_is_byte_for_byte_what_mkenvimage_writes() -> TestResult {
    let t = tempfile::tempdir()?;
    let vars = [
        ("BOOT_A_LEFT", "3"),
        ("BOOT_B_LEFT", "1"),
        ("BOOT_ORDER", "B A"),
        ("PEERBOX_TRIAL", "B"),
    ];
    let map: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let theirs = mkenvimage(&vars, ENV_SIZE, false, &t.path().join("env.bin"))?;
    assert!(
        ubootenv::encode(&map, ENV_SIZE, None)? == theirs,
        "differs from mkenvimage"
    );
    let (ours, _) =
        ubootenv::decode(&theirs, false).ok_or("our reader rejects mkenvimage's output")?;
    assert_eq!(ours, map);
    // Redundant layout: CRC, flag byte (mkenvimage starts at 1), data.
    let theirs = mkenvimage(&vars, ENV_SIZE, true, &t.path().join("env-r.bin"))?;
    assert!(
        ubootenv::encode(&map, ENV_SIZE, Some(1))? == theirs,
        "differs from mkenvimage -r"
    );
    Ok(())
}

#[test]
fn a_redundant_environment_alternates_copies_and_survives_a_torn_write() -> TestResult {
    let t = tempfile::tempdir()?;
    let path = t.path().join("env.img");
    let size = 4096;
    let first = mkenvimage(
        &[("BOOT_ORDER", "A B")],
        size,
        true,
        &t.path().join("c0.bin"),
    )?;
    let mut img = first.clone();
    img.resize(2 * size, 0xff); // second copy blank (bad CRC)
    fs::write(&path, &img)?;
    let loc = EnvLocation {
        path: path.clone(),
        offset: 0,
        size,
        redundant_offset: Some(size as u64),
        format: EnvFormat::Binary,
    };
    let mut env = loc.read()?;
    assert_eq!(env.get("BOOT_ORDER"), Some("A B"));
    env.set("BOOT_ORDER", "B A");
    loc.write(&Io::default(), &mut env)?;
    let bytes = fs::read(&path)?;
    assert_eq!(&bytes[..size], &first[..], "the live copy was overwritten");
    assert_eq!(bytes[size + 4], 2, "new copy's flag");
    assert_eq!(loc.read()?.get("BOOT_ORDER"), Some("B A"));
    env.set("BOOT_ORDER", "A B");
    loc.write(&Io::default(), &mut env)?;
    let bytes = fs::read(&path)?;
    assert_eq!(bytes[4], 3, "writes alternate between copies");
    // Tear the newest copy: the other one is used.
    let mut torn = bytes.clone();
    torn[100] ^= 0xff;
    fs::write(&path, &torn)?;
    assert_eq!(loc.read()?.get("BOOT_ORDER"), Some("B A"));
    Ok(())
}

struct Board {
    _t: tempfile::TempDir,
    dir: PathBuf,
    keys: Keys,
    env: PathBuf,
    text: bool,
    config: OtaConfig,
    reboots: RecordingRebooter,
}

const SCRIPT_VARS: [&str; 3] = ["BOOT_A_LEFT", "BOOT_B_LEFT", "BOOT_ORDER"];

fn board(text: bool) -> Result<Board, Box<dyn std::error::Error>> {
    let t = tempfile::tempdir()?;
    let dir = t.path().to_owned();
    let keys = keygen(&dir.join("keys"), "release")?;
    // As the image build leaves it: the slot state on the config partition, slot A first.
    fs::create_dir_all(dir.join("config"))?;
    let initial = [
        ("BOOT_A_LEFT", "3"),
        ("BOOT_B_LEFT", "3"),
        ("BOOT_ORDER", "A B"),
    ];
    let (env, format) = if text {
        let env = dir.join("config/peerbox-boot.env");
        fs::write(&env, "BOOT_ORDER=A B\nBOOT_A_LEFT=3\nBOOT_B_LEFT=3\n")?;
        (env, "text")
    } else {
        let env = dir.join("config/uboot.env");
        mkenvimage(&initial, ENV_SIZE, false, &env)?;
        (env, "binary")
    };
    for slot in ["a", "b"] {
        fs::File::create(dir.join(format!("{slot}.boot")))?.set_len(256 * 1024)?;
        fs::File::create(dir.join(format!("{slot}.system")))?.set_len(64 * 1024)?;
    }
    fs::write(dir.join("version"), "1.0.0")?;
    let text_cfg = format!(
        r#"board = "sim-board"
keyring = "{keys}"
version_file = "{d}/version"
state_dir = "{d}/data/ota"
boot_id = "{d}/boot_id"

[slots]
kind = "uboot"
env = {{ path = "{env}", size = {ENV_SIZE}, format = "{format}" }}
cmdline = "{d}/cmdline"
a = {{ boot = "{d}/a.boot", system = "{d}/a.system" }}
b = {{ boot = "{d}/b.boot", system = "{d}/b.system" }}

[health]
hold_secs = 0.02
timeout_secs = 0.2
interval_secs = 0.01
"#,
        keys = keys.public.display(),
        d = dir.display(),
        env = env.display(),
    );
    let b = Board {
        _t: t,
        config: OtaConfig::parse(&text_cfg)?,
        dir,
        keys,
        env,
        text,
        reboots: RecordingRebooter::default(),
    };
    b.script_boot()?;
    Ok(b)
}

impl Board {
    fn ota(&self) -> Result<Ota, peerbox_ota::Error> {
        let slots = self.config.slots(Some(Arc::new(self.reboots.clone())))?;
        Ok(Ota::with_parts(self.config.clone(), slots, Io::default()))
    }

    /// `env import`, as U-Boot reads the file.
    fn env(&self) -> Result<BTreeMap<String, String>, Box<dyn std::error::Error>> {
        let bytes = fs::read(&self.env)?;
        if self.text {
            Ok(String::from_utf8(bytes)?
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect())
        } else {
            Ok(uboot_import(&bytes).ok_or("bad CRC")?)
        }
    }

    /// `env export` of the script's three variables, then `fatwrite`.
    fn save_env(&self, env: &BTreeMap<String, String>) -> Result<(), Box<dyn std::error::Error>> {
        let vars: Vec<(&str, &str)> = env
            .iter()
            .filter(|(k, _)| SCRIPT_VARS.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if self.text {
            fs::write(
                &self.env,
                vars.iter()
                    .map(|(k, v)| format!("{k}={v}\n"))
                    .collect::<String>(),
            )?;
        } else {
            mkenvimage(&vars, ENV_SIZE, false, &self.env)?;
        }
        Ok(())
    }

    fn trial_marker(&self) -> Option<String> {
        fs::read_to_string(self.dir.join("data/ota/uboot-trial")).ok()
    }

    /// The boot script: defaults, import; the first slot in BOOT_ORDER with tries left loses
    /// one and boots with peerbox.slot=<slot>; none left: both get their tries back.
    fn script_boot(&self) -> Result<SlotId, Box<dyn std::error::Error>> {
        let mut env: BTreeMap<String, String> = [
            ("BOOT_ORDER", "A B"),
            ("BOOT_A_LEFT", "3"),
            ("BOOT_B_LEFT", "3"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        if let Ok(stored) = self.env() {
            env.extend(
                stored
                    .into_iter()
                    .filter(|(k, _)| SCRIPT_VARS.contains(&k.as_str())),
            );
        }
        let order = env.get("BOOT_ORDER").cloned().unwrap_or_default();
        for name in order.split_whitespace() {
            let key = format!("BOOT_{name}_LEFT");
            let left: u32 = env.get(&key).and_then(|v| v.parse().ok()).unwrap_or(0);
            if left > 0 {
                env.insert(key, (left - 1).to_string());
                self.save_env(&env)?;
                fs::write(
                    self.dir.join("cmdline"),
                    format!("console=ttyAMA0 root=PARTUUID=5eedf00d-05 peerbox.slot={name}\n"),
                )?;
                let version =
                    fs::read_to_string(self.dir.join(format!("{}.version", name.to_lowercase())))
                        .unwrap_or_else(|_| "1.0.0".into());
                fs::write(self.dir.join("version"), version)?;
                fs::write(
                    self.dir.join("boot_id"),
                    format!("{:x}", rand::random::<u64>()),
                )?;
                return SlotId::parse(name).ok_or_else(|| "bad slot".into());
            }
        }
        env.insert("BOOT_A_LEFT".into(), "3".into());
        env.insert("BOOT_B_LEFT".into(), "3".into());
        self.save_env(&env)?;
        self.script_boot()
    }

    fn installed(&self, slot: SlotId, version: &str) -> std::io::Result<()> {
        fs::write(
            self.dir
                .join(format!("{}.version", slot.to_string().to_lowercase())),
            version,
        )
    }
}

fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn uboot_with_a_text_environment_as_the_image_keeps_it() -> TestResult {
    trial_commit_and_fallback(true)
}

#[test]
fn uboot_with_a_binary_environment_as_fw_setenv_keeps_it() -> TestResult {
    trial_commit_and_fallback(false)
}

fn trial_commit_and_fallback(text: bool) -> TestResult {
    let b = board(text)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    assert_eq!(
        b.env()?,
        vars(&[
            ("BOOT_A_LEFT", "2"),
            ("BOOT_B_LEFT", "3"),
            ("BOOT_ORDER", "A B")
        ])
    );
    // A healthy normal boot gives slot A its attempts back.
    let out = rt.block_on(b.ota()?.run_health(|| async { Ok(()) }))?;
    assert_eq!(out, HealthOutcome::NotTrial { marked_good: true });
    assert_eq!(b.env()?.get("BOOT_A_LEFT").map(String::as_str), Some("3"));

    let bundle = make_bundle(&b.dir, &[&b.keys.key], &BundleOpts::new("1.1.0"))?;
    let ota = b.ota()?;
    assert_eq!(ota.install_file(&bundle, &|_| {})?.slot, SlotId::B);
    b.installed(SlotId::B, "1.1.0")?;
    // Armed: B first with one attempt, A keeps its three.
    assert_eq!(
        b.env()?,
        vars(&[
            ("BOOT_A_LEFT", "3"),
            ("BOOT_B_LEFT", "1"),
            ("BOOT_ORDER", "B A")
        ])
    );
    assert_eq!(b.trial_marker().as_deref(), Some("B"));
    ota.reboot_into_update()?;
    assert_eq!(
        b.reboots.0.lock().map(|v| v.clone()).unwrap_or_default(),
        vec![false]
    );
    // While the box shuts down the admin page keeps asking: the update stays armed.
    let st = b.ota()?.status()?;
    assert_eq!(st.pending.map(|p| p.state), Some("rebooting"));
    assert_eq!(b.env()?.get("BOOT_ORDER").map(String::as_str), Some("B A"));
    assert_eq!(b.script_boot()?, SlotId::B);
    let ota = b.ota()?;
    assert_eq!(
        ota.boot_check()?,
        BootCheck::Trial {
            slot: SlotId::B,
            version: "1.1.0".into()
        }
    );
    assert_eq!(
        rt.block_on(ota.run_health(|| async { Ok(()) }))?,
        HealthOutcome::Committed {
            version: "1.1.0".into()
        }
    );
    let committed = vars(&[
        ("BOOT_A_LEFT", "3"),
        ("BOOT_B_LEFT", "3"),
        ("BOOT_ORDER", "B A"),
    ]);
    assert_eq!(b.env()?, committed);
    assert_eq!(b.trial_marker(), None);
    if !text {
        // Byte for byte what U-Boot's tool makes of the same variables.
        let vars = [
            ("BOOT_A_LEFT", "3"),
            ("BOOT_B_LEFT", "3"),
            ("BOOT_ORDER", "B A"),
        ];
        let expect = mkenvimage(&vars, ENV_SIZE, false, &b.dir.join("x.bin"))?;
        assert!(
            fs::read(&b.env)? == expect,
            "differs from mkenvimage's output"
        );
    }
    assert_eq!(b.script_boot()?, SlotId::B);

    // 1.2.0 into A; its trial hangs (no health check ever runs): the watchdog resets, the
    // counter is spent, U-Boot goes back to B.
    let bundle = make_bundle(&b.dir, &[&b.keys.key], &BundleOpts::new("1.2.0"))?;
    let ota = b.ota()?;
    assert_eq!(ota.install_file(&bundle, &|_| {})?.slot, SlotId::A);
    b.installed(SlotId::A, "1.2.0")?;
    ota.reboot_into_update()?;
    assert_eq!(b.script_boot()?, SlotId::A);
    assert!(matches!(b.ota()?.boot_check()?, BootCheck::Trial { .. }));
    assert_eq!(
        b.script_boot()?,
        SlotId::B,
        "no fallback after the trial's one attempt"
    );
    let ota = b.ota()?;
    let check = ota.boot_check()?;
    assert!(
        matches!(&check, BootCheck::RolledBack { version, .. } if version == "1.2.0"),
        "{check:?}"
    );
    let env = b.env()?;
    assert_eq!(env.get("BOOT_A_LEFT").map(String::as_str), Some("0"));
    assert_eq!(env.get("BOOT_ORDER").map(String::as_str), Some("B A"));
    assert_eq!(b.trial_marker(), None);
    assert_eq!(ota.status()?.current_version, "1.1.0");

    // An unhealthy trial is rolled back without waiting for the counter.
    ota.install_file(&bundle, &|_| {})?;
    ota.reboot_into_update()?;
    assert_eq!(b.script_boot()?, SlotId::A);
    let out = rt.block_on(
        b.ota()?
            .run_health(|| async { Err("media workers did not start".into()) }),
    )?;
    assert!(
        matches!(&out, HealthOutcome::RolledBack { reason, .. } if reason.contains("media workers")),
        "{out:?}"
    );
    assert_eq!(b.env()?.get("BOOT_A_LEFT").map(String::as_str), Some("0"));
    // Until the reboot happens the failed trial is not mistaken for a commit.
    let st = b.ota()?.status()?;
    assert_eq!(st.pending.map(|p| p.state), Some("rolling-back"));
    assert!(matches!(
        b.ota()?.boot_check()?,
        BootCheck::RollingBack { .. }
    ));
    assert_eq!(b.script_boot()?, SlotId::B);
    let st = b.ota()?.status()?;
    assert!(
        st.last_result
            .is_some_and(|l| l.message.contains("media workers did not start"))
    );
    Ok(())
}
