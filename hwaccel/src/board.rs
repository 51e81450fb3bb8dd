//! Board facts from `board-configs/*.toml`: which encoders to prefer, the resolution ladder,
//! how many jobs may run at once and how deep the pipeline queues are.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::encoder::{self, H264_LEVELS, H264_PROFILES};
use crate::error::BoardError;
use crate::ladder::RESOLUTIONS;

/// The boards whose configs are built into the binary, with their TOML text.
const BUILTIN: &[(&str, &str)] = &[
    ("rpi4", include_str!("../../board-configs/rpi4.toml")),
    ("rpi5", include_str!("../../board-configs/rpi5.toml")),
    ("rock5b", include_str!("../../board-configs/rock5b.toml")),
    ("x86-64", include_str!("../../board-configs/x86-64.toml")),
    (
        "qemu-virt",
        include_str!("../../board-configs/qemu-virt.toml"),
    ),
];

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoardConfig {
    pub board: BoardInfo,
    pub encoders: EncoderPreferences,
    /// Per-element limits and caps, keyed by GStreamer element name.
    #[serde(default)]
    pub encoder: BTreeMap<String, EncoderOverrides>,
    pub transcoding: Transcoding,
    pub queues: Queues,
    /// Image-build facts (architecture, kernel, partitions), read by `image/`, not here.
    #[serde(default)]
    pub image: Option<toml::Table>,
    /// Update facts, read by `ota/`, not here.
    #[serde(default)]
    pub ota: Option<toml::Table>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoardInfo {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncoderPreferences {
    /// GStreamer element names, best first. Encoders not listed are tried after these.
    pub preferred: Vec<String>,
}

/// What a board's encoder needs or cannot do beyond the element's own defaults.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncoderOverrides {
    /// H.264 profile to ask for in the output caps ("high", "main", ...).
    pub profile: Option<String>,
    /// H.264 level to put in the output caps ("4", "4.1", ...).
    pub level: Option<String>,
    pub max_width: Option<u32>,
    pub max_height: Option<u32>,
    /// Throughput limit (16x16 macroblocks a second), e.g. 245760 for level 4.
    pub max_macroblocks_per_second: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transcoding {
    /// PeerTube resolutions (heights of landscape videos) to produce, when the source has them.
    pub ladder: Vec<u32>,
    /// PeerTube's `always_transcode_original_resolution`: also keep the source's own resolution
    /// when it is above or between the ladder's rungs.
    #[serde(default = "yes")]
    pub keep_original_resolution: bool,
    /// PeerTube's `transcoding.fps.max`.
    #[serde(default = "sixty")]
    pub max_fps: u32,
    pub max_concurrent_jobs: u32,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Queues {
    /// Raw frames queued per rendition branch: the main driver of memory use.
    pub raw_video_buffers: u32,
    /// Encoded audio held per rendition while its video catches up.
    pub audio_queue_ms: u32,
}

fn yes() -> bool {
    true
}

fn sixty() -> u32 {
    60
}

impl BoardConfig {
    /// Names of the configs built into the binary.
    pub fn builtin_names() -> Vec<&'static str> {
        BUILTIN.iter().map(|(n, _)| *n).collect()
    }

    /// Loads a built-in board by name (`rpi4`, `x86-64`, ...) or a TOML file by path.
    pub fn load(name_or_path: &str) -> Result<BoardConfig, BoardError> {
        if let Some((name, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
            return BoardConfig::from_toml(text, &format!("built-in board {name}"));
        }
        let path = Path::new(name_or_path);
        let looks_like_path = name_or_path.contains('/') || name_or_path.ends_with(".toml");
        if !looks_like_path && !path.exists() {
            return Err(BoardError::UnknownBoard {
                name: name_or_path.to_string(),
                known: BoardConfig::builtin_names().join(", "),
            });
        }
        BoardConfig::load_file(path)
    }

    pub fn load_file(path: &Path) -> Result<BoardConfig, BoardError> {
        let text = std::fs::read_to_string(path).map_err(|e| BoardError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        BoardConfig::from_toml(&text, &path.display().to_string())
    }

    /// Parses and validates a board config; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<BoardConfig, BoardError> {
        let config: BoardConfig = toml::from_str(text).map_err(|e| BoardError::Parse {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        config
            .validate()
            .map_err(|(key, message)| BoardError::Invalid {
                origin: origin.to_string(),
                key,
                message,
            })?;
        Ok(config)
    }

    /// The built-in board that matches this machine: the device tree's model on ARM boards,
    /// `x86-64` on PCs, `qemu-virt` on QEMU's virt machine.
    pub fn detect_name() -> &'static str {
        let model = [
            "/proc/device-tree/model",
            "/sys/firmware/devicetree/base/model",
        ]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default();
        let compatible = std::fs::read("/proc/device-tree/compatible").unwrap_or_default();
        board_from_device_tree(&model, &String::from_utf8_lossy(&compatible)).unwrap_or(
            if cfg!(target_arch = "x86_64") {
                "x86-64"
            } else {
                "qemu-virt"
            },
        )
    }

    /// Settings for one encoder element, empty when the board says nothing about it.
    pub fn overrides(&self, element: &str) -> EncoderOverrides {
        self.encoder.get(element).cloned().unwrap_or_default()
    }

    fn validate(&self) -> Result<(), (String, String)> {
        let bad = |key: &str, message: String| Err((key.to_string(), message));
        if self.board.name.trim().is_empty() {
            return bad("board.name", "must not be empty".into());
        }
        if self.encoders.preferred.is_empty() {
            return bad(
                "encoders.preferred",
                "must name at least one encoder".into(),
            );
        }
        for (i, name) in self.encoders.preferred.iter().enumerate() {
            if encoder::spec(name).is_none() {
                return bad(
                    &format!("encoders.preferred[{i}]"),
                    format!(
                        "unknown encoder {name:?}; known: {}",
                        encoder::known_names()
                    ),
                );
            }
        }
        for (name, o) in &self.encoder {
            let key = |field: &str| format!("encoder.{name}.{field}");
            if encoder::spec(name).is_none() {
                return bad(
                    &format!("encoder.{name}"),
                    format!(
                        "unknown encoder {name:?}; known: {}",
                        encoder::known_names()
                    ),
                );
            }
            if let Some(p) = &o.profile
                && !H264_PROFILES.contains(&p.as_str())
            {
                return bad(
                    &key("profile"),
                    format!("{p:?} is not one of {}", H264_PROFILES.join(", ")),
                );
            }
            if let Some(l) = &o.level
                && !H264_LEVELS.contains(&l.as_str())
            {
                return bad(
                    &key("level"),
                    format!("{l:?} is not an H.264 level ({})", H264_LEVELS.join(", ")),
                );
            }
            for (field, v) in [("max_width", o.max_width), ("max_height", o.max_height)] {
                if let Some(v) = v
                    && !(16..=16384).contains(&v)
                {
                    return bad(&key(field), format!("{v} is outside 16..=16384"));
                }
            }
            if o.max_macroblocks_per_second == Some(0) {
                return bad(&key("max_macroblocks_per_second"), "must be above 0".into());
            }
        }
        let t = &self.transcoding;
        for (i, r) in t.ladder.iter().enumerate() {
            if !RESOLUTIONS.contains(r) {
                return bad(
                    &format!("transcoding.ladder[{i}]"),
                    format!("{r} is not a PeerTube resolution ({RESOLUTIONS:?})"),
                );
            }
            if t.ladder[..i].contains(r) {
                return bad(
                    &format!("transcoding.ladder[{i}]"),
                    format!("{r} is listed twice"),
                );
            }
        }
        if t.ladder.is_empty() && !t.keep_original_resolution {
            return bad(
                "transcoding.ladder",
                "is empty and keep_original_resolution is false: nothing would be produced".into(),
            );
        }
        if !(1..=60).contains(&t.max_fps) {
            return bad(
                "transcoding.max_fps",
                format!("{} is outside 1..=60", t.max_fps),
            );
        }
        if !(1..=16).contains(&t.max_concurrent_jobs) {
            return bad(
                "transcoding.max_concurrent_jobs",
                format!("{} is outside 1..=16", t.max_concurrent_jobs),
            );
        }
        if !(1..=64).contains(&self.queues.raw_video_buffers) {
            return bad(
                "queues.raw_video_buffers",
                format!("{} is outside 1..=64", self.queues.raw_video_buffers),
            );
        }
        if !(1000..=120_000).contains(&self.queues.audio_queue_ms) {
            return bad(
                "queues.audio_queue_ms",
                format!("{} is outside 1000..=120000", self.queues.audio_queue_ms),
            );
        }
        Ok(())
    }
}

/// Maps a device-tree model/compatible string to a built-in board name.
pub fn board_from_device_tree(model: &str, compatible: &str) -> Option<&'static str> {
    let model = model.trim_end_matches('\0');
    if model.starts_with("Raspberry Pi 4") || model.starts_with("Raspberry Pi Compute Module 4") {
        Some("rpi4")
    } else if model.starts_with("Raspberry Pi 5")
        || model.starts_with("Raspberry Pi Compute Module 5")
    {
        Some("rpi5")
    } else if model.contains("ROCK 5B")
        || model.contains("ROCK 5 B")
        || compatible.contains("rock-5b")
    {
        Some("rock5b")
    } else if compatible.contains("linux,dummy-virt") || model.contains("QEMU") {
        Some("qemu-virt")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid_key(text: &str) -> String {
        match BoardConfig::from_toml(text, "test") {
            Err(BoardError::Invalid { key, .. }) => key,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    const GOOD: &str = r#"
[board]
name = "t"
[encoders]
preferred = ["x264enc"]
[transcoding]
ladder = [360, 720]
max_concurrent_jobs = 1
[queues]
raw_video_buffers = 4
audio_queue_ms = 10000
"#;

    #[test]
    fn every_builtin_board_loads_and_validates() {
        for name in BoardConfig::builtin_names() {
            let board = BoardConfig::load(name).expect(name);
            assert_eq!(board.board.name, name);
            assert!(board.transcoding.max_concurrent_jobs >= 1);
        }
        let rpi4 = BoardConfig::load("rpi4").expect("rpi4");
        assert_eq!(rpi4.encoders.preferred[0], "v4l2h264enc");
        assert_eq!(rpi4.overrides("v4l2h264enc").level.as_deref(), Some("4"));
        let rpi5 = BoardConfig::load("rpi5").expect("rpi5");
        assert!(
            rpi5.encoders
                .preferred
                .iter()
                .all(|e| e == "x264enc" || e == "openh264enc"),
            "the Pi 5 has no hardware H.264 encoder"
        );
    }

    #[test]
    fn loads_a_file_by_path_and_names_unknown_boards() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("mine.toml");
        std::fs::write(&path, GOOD).expect("write");
        let board = BoardConfig::load(path.to_str().expect("utf-8 path")).expect("load");
        assert_eq!(board.transcoding.ladder, vec![360, 720]);
        assert!(
            board.transcoding.keep_original_resolution,
            "PeerTube's default"
        );
        assert_eq!(board.transcoding.max_fps, 60);
        let err = BoardConfig::load("rpi9").expect_err("unknown board");
        assert!(err.to_string().contains("rpi4"), "{err}");
    }

    #[test]
    fn errors_name_the_bad_key() {
        assert_eq!(
            invalid_key(&GOOD.replace("[360, 720]", "[360, 700]")),
            "transcoding.ladder[1]"
        );
        assert_eq!(
            invalid_key(&GOOD.replace("[\"x264enc\"]", "[\"x264enc\", \"h264magic\"]")),
            "encoders.preferred[1]"
        );
        assert_eq!(
            invalid_key(&GOOD.replace("max_concurrent_jobs = 1", "max_concurrent_jobs = 0")),
            "transcoding.max_concurrent_jobs"
        );
        assert_eq!(
            invalid_key(&GOOD.replace("raw_video_buffers = 4", "raw_video_buffers = 1000")),
            "queues.raw_video_buffers"
        );
        assert_eq!(
            invalid_key(&format!("{GOOD}\n[encoder.v4l2h264enc]\nlevel = \"9\"\n")),
            "encoder.v4l2h264enc.level"
        );
        // Misspelt and mistyped keys are caught by the parser, which quotes the line.
        let err = BoardConfig::from_toml(&GOOD.replace("ladder", "ladders"), "test")
            .expect_err("unknown key");
        assert!(err.to_string().contains("ladders"), "{err}");
        let err = BoardConfig::from_toml(
            &GOOD.replace("max_concurrent_jobs = 1", "max_concurrent_jobs = \"two\""),
            "test",
        )
        .expect_err("wrong type");
        assert!(err.to_string().contains("max_concurrent_jobs"), "{err}");
    }

    #[test]
    fn sections_of_other_crates_are_accepted() {
        let text =
            format!("{GOOD}\n[image]\narch = \"arm64\"\n[image.partitions]\nboot = \"128MiB\"\n");
        let board = BoardConfig::from_toml(&text, "test").expect("image section is fine");
        assert!(board.image.is_some());
        // A misspelt section of ours is still an error.
        assert!(BoardConfig::from_toml(&GOOD.replace("[queues]", "[queue]"), "test").is_err());
    }

    #[test]
    fn device_tree_models_map_to_boards() {
        assert_eq!(
            board_from_device_tree("Raspberry Pi 4 Model B Rev 1.4\0", ""),
            Some("rpi4")
        );
        assert_eq!(
            board_from_device_tree("Raspberry Pi 5 Model B Rev 1.0", ""),
            Some("rpi5")
        );
        assert_eq!(
            board_from_device_tree("Radxa ROCK 5B", "radxa,rock-5b\0rockchip,rk3588"),
            Some("rock5b")
        );
        assert_eq!(
            board_from_device_tree("", "linux,dummy-virt"),
            Some("qemu-virt")
        );
        assert_eq!(board_from_device_tree("Some other board", ""), None);
    }
}
