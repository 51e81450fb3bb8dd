//! Semantic versions of system images (semver, as Cargo reads it).

use std::fmt;

use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub semver::Version);

impl Version {
    pub fn parse(s: &str) -> Result<Self> {
        semver::Version::parse(s.trim())
            .map(Version)
            .map_err(|e| Error::Version {
                value: s.to_string(),
                reason: e.to_string(),
            })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Clone, Debug)]
pub struct VersionReq(semver::VersionReq);

impl VersionReq {
    pub fn parse(s: &str) -> Result<Self> {
        semver::VersionReq::parse(s.trim())
            .map(VersionReq)
            .map_err(|e| Error::Version {
                value: s.to_string(),
                reason: e.to_string(),
            })
    }
    pub fn matches(&self, v: &Version) -> bool {
        self.0.matches(&v.0)
    }
}
