//! `image/packages.toml`: the Debian packages of every image and of the cross sysroot.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageLists {
    pub system: Vec<String>,
    pub node: Vec<String>,
    pub sysroot: Vec<String>,
}

impl PackageLists {
    pub fn load(repo: &Path) -> Result<PackageLists> {
        let path = repo.join("image/packages.toml");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let lists: PackageLists =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("image/packages.toml: {e}"))?;
        for (key, list) in [
            ("system", &lists.system),
            ("node", &lists.node),
            ("sysroot", &lists.sysroot),
        ] {
            if list.is_empty() {
                bail!("image/packages.toml: `{key}` is empty");
            }
        }
        Ok(lists)
    }

    /// Every package of a board's root file system, sorted (the cache key depends on it).
    pub fn rootfs(&self, board_extra: &[String]) -> Vec<String> {
        let mut all: Vec<String> = self
            .system
            .iter()
            .chain(&self.node)
            .chain(board_extra)
            .cloned()
            .collect();
        all.sort();
        all.dedup();
        all
    }
}
