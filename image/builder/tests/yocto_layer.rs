//! The Yocto route cannot build here (no network for bitbake's fetches), so it is kept honest
//! by tools: oelint-adv on every recipe of image/meta-peerbox (with the crate list generated
//! from Cargo.lock, as a Yocto builder would), and kas's own schema on the kas files. Both
//! come from PyPI, installed by this test into target/image-cache.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const OELINT_ADV: &str = "oelint-adv==9.11.2";
const KAS: &str = "kas==5.5";

fn repo() -> PathBuf {
    peerbox_image::repo_root()
}

/// A pip `--target` folder with oelint-adv and kas, installed once per version pair (and
/// once per test run: both tests ask for it at the same time).
fn python_tools() -> PathBuf {
    static TOOLS: OnceLock<PathBuf> = OnceLock::new();
    TOOLS.get_or_init(install_python_tools).clone()
}

fn install_python_tools() -> PathBuf {
    let dir = repo().join("target/image-cache/python-tools-oelint-9.11.2-kas-5.5");
    if dir.join("bin/oelint-adv").is_file() {
        return dir;
    }
    // pip itself (python3-pip) where Python came from Debian.
    let deps = Command::new(repo().join("image/install-host-deps"))
        .status()
        .expect("run image/install-host-deps");
    assert!(deps.success(), "image/install-host-deps failed");
    let tmp = dir.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    let status = Command::new("python3")
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
        ])
        .arg(&tmp)
        .args([OELINT_ADV, KAS])
        .status()
        .expect("run python3 -m pip (Debian package python3-pip)");
    assert!(
        status.success(),
        "pip could not install {OELINT_ADV} and {KAS}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&tmp, &dir).expect("move the tools into place");
    dir
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).expect("mkdir");
    for e in std::fs::read_dir(src).expect("read layer") {
        let e = e.expect("entry");
        let to = dst.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).expect("copy");
        }
    }
}

fn files_with(dir: &Path, suffixes: &[&str], out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            files_with(&p, suffixes, out);
        } else if suffixes.iter().any(|s| p.to_string_lossy().ends_with(s)) {
            out.push(p);
        }
    }
    out.sort();
}

#[test]
fn meta_peerbox_passes_oelint_adv() {
    let tools = python_tools();
    let work = tempfile::tempdir().expect("tempdir");
    let layer = work.path().join("image/meta-peerbox");
    copy_dir(&repo().join("image/meta-peerbox"), &layer);
    // The crate list a Yocto build requires, generated from the current Cargo.lock.
    let inc = peerbox_image::yocto::crates_inc(&repo()).expect("crates.inc");
    let lock = std::fs::read_to_string(repo().join("Cargo.lock")).expect("Cargo.lock");
    let registry_crates = lock
        .matches("source = \"registry+https://github.com/rust-lang/crates.io-index\"")
        .count();
    assert_eq!(inc.matches("crate://crates.io/").count(), registry_crates);
    assert_eq!(inc.matches(".sha256sum] = \"").count(), registry_crates);
    std::fs::write(
        layer.join("recipes-peerbox/peerbox/peerbox-crates.inc"),
        inc,
    )
    .expect("write inc");

    let mut recipes = Vec::new();
    files_with(&layer, &[".bb", ".bbappend"], &mut recipes);
    assert!(recipes.len() >= 4, "{recipes:?}");
    let out = Command::new("python3")
        .arg(tools.join("bin/oelint-adv"))
        .env("PYTHONPATH", &tools)
        .args([
            "--quiet",
            "--release",
            "wrynose",
            "--mode",
            "all",
            "--hide",
            "info",
        ])
        // Pings HOMEPAGE over the network.
        .args(["--suppress", "oelint.vars.homepageping"])
        // The project has no public home page yet.
        .args(["--suppress", "oelint.var.mandatoryvar.HOMEPAGE"])
        // The repository has no LICENSE file yet: recipes point at OE-core's AGPL text.
        .args(["--suppress", "oelint.var.licenseremotefile"])
        .args(&recipes)
        .current_dir(&layer)
        .output()
        .expect("run oelint-adv");
    let findings = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && findings.trim().is_empty(),
        "oelint-adv findings on image/meta-peerbox:\n{}",
        findings.replace(&layer.display().to_string(), "image/meta-peerbox")
    );
}

#[test]
fn kas_files_match_the_kas_schema() {
    let tools = python_tools();
    let mut kas_files = Vec::new();
    files_with(
        &repo().join("image/meta-peerbox/kas"),
        &[".yml"],
        &mut kas_files,
    );
    assert!(kas_files.len() >= 3, "{kas_files:?}");
    // kas validates configurations against the JSON schema it ships; do the same, offline.
    let script = r#"
import json, sys, yaml, jsonschema, kas, os
schema = json.load(open(os.path.join(os.path.dirname(kas.__file__), "schema-kas.json")))
for path in sys.argv[1:]:
    with open(path) as f:
        jsonschema.validate(yaml.safe_load(f), schema)
    print("ok", os.path.basename(path))
"#;
    let out = Command::new("python3")
        .env("PYTHONPATH", &tools)
        .args(["-c", script])
        .args(&kas_files)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "kas schema: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The machine files name meta-raspberrypi's 64-bit machines and include the base.
    for (file, machine) in [
        ("peerbox-rpi4.yml", "raspberrypi4-64"),
        ("peerbox-rpi5.yml", "raspberrypi5"),
    ] {
        let text = std::fs::read_to_string(repo().join("image/meta-peerbox/kas").join(file))
            .expect("kas file");
        assert!(text.contains(&format!("machine: {machine}")), "{file}");
        assert!(
            text.contains("image/meta-peerbox/kas/peerbox-base.yml"),
            "{file}"
        );
    }
}
