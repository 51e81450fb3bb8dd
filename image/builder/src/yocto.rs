//! `peerbox-crates.inc` for the Yocto recipe: every crate of Cargo.lock as a `crate://` URI
//! with its checksum, in the format of OE-core's `bitbake -c update_crates` (which needs a
//! built python3-native; this needs only the lock file).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

#[derive(Deserialize)]
struct Lock {
    package: Vec<LockedPackage>,
}

#[derive(Deserialize)]
struct LockedPackage {
    name: String,
    version: String,
    source: Option<String>,
    checksum: Option<String>,
}

const CRATES_IO: &str = "registry+https://github.com/rust-lang/crates.io-index";

pub fn crates_inc_path(repo: &Path) -> PathBuf {
    repo.join("image/meta-peerbox/recipes-peerbox/peerbox/peerbox-crates.inc")
}

/// The text of `peerbox-crates.inc` for the workspace's Cargo.lock.
pub fn crates_inc(repo: &Path) -> Result<String> {
    let path = repo.join("Cargo.lock");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let lock: Lock = toml::from_str(&text).map_err(|e| anyhow::anyhow!("Cargo.lock: {e}"))?;
    let mut uris = String::new();
    let mut sums = String::new();
    for p in &lock.package {
        match p.source.as_deref() {
            None => continue, // a workspace member
            Some(CRATES_IO) => {}
            Some(other) => bail!(
                "{} {} comes from {other}: only crates.io crates can be listed for Yocto",
                p.name,
                p.version
            ),
        }
        let sum = p
            .checksum
            .as_deref()
            .with_context(|| format!("Cargo.lock has no checksum for {} {}", p.name, p.version))?;
        uris.push_str(&format!(
            "    crate://crates.io/{}/{} \\\n",
            p.name, p.version
        ));
        sums.push_str(&format!(
            "SRC_URI[{}-{}.sha256sum] = \"{sum}\"\n",
            p.name, p.version
        ));
    }
    Ok(format!(
        "# Generated from Cargo.lock by `cargo run -p peerbox-image -- yocto-crates`\n\
         # (the format of OE-core's `bitbake -c update_crates peerbox`); do not edit.\n\n\
         SRC_URI += \"\\\n{uris}\"\n\n{sums}"
    ))
}
