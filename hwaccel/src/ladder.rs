//! PeerTube's transcoding arithmetic: which resolutions a source gets, at which frame rate,
//! size and bitrate. Pure functions, shared by the media workers and `peerbox hwaccel`.

/// PeerTube's resolutions (the height of a landscape video; 0 is audio only).
pub const RESOLUTIONS: [u32; 8] = [144, 240, 360, 480, 720, 1080, 1440, 2160];

/// Bits per pixel for PeerTube's theoretical bitrates, per resolution (from
/// `packages/core-utils/src/videos/bitrate.ts`).
const BPP: [(u32, f64, f64, f64); 8] = [
    // (resolution, min, average, max)
    (2160, 0.02, 0.08, 0.14),
    (1440, 0.02, 0.09, 0.16),
    (1080, 0.02, 0.10, 0.17),
    (720, 0.02, 0.11, 0.19),
    (480, 0.02, 0.12, 0.22),
    (360, 0.02, 0.15, 0.26),
    (240, 0.02, 0.17, 0.29),
    (144, 0.02, 0.19, 0.32),
];

#[derive(Clone, Copy)]
enum Table {
    Min,
    Average,
    Max,
}

/// PeerTube's aspect ratio: width over height, rounded to 4 decimals.
pub fn aspect_ratio(width: u32, height: u32) -> f64 {
    if width == 0 || height == 0 {
        return 0.0;
    }
    (f64::from(width) / f64::from(height) * 10_000.0).round() / 10_000.0
}

/// `ratio` is [`aspect_ratio`]; portrait videos (ratio < 1) count their long side too.
fn calculate(table: Table, resolution: u32, ratio: f64, fps: f64) -> u64 {
    let Some(&(_, min, avg, max)) = BPP.iter().find(|(r, ..)| *r <= resolution) else {
        return 0;
    };
    let bpp = match table {
        Table::Min => min,
        Table::Average => avg,
        Table::Max => max,
    };
    let size1 = f64::from(resolution);
    let size2 = if ratio > 0.0 && ratio < 1.0 {
        size1 / ratio
    } else {
        size1 * ratio
    };
    (size1 * size2 * fps * bpp).floor() as u64
}

/// PeerTube's `getAverageTheoreticalBitrate` (bits a second).
pub fn average_bitrate(resolution: u32, ratio: f64, fps: f64) -> u64 {
    match calculate(Table::Average, resolution, ratio, fps) {
        0 => 192_000,
        b => b,
    }
}

/// PeerTube's `getMaxTheoreticalBitrate`: above it an upload is not stream-copied.
pub fn max_bitrate(resolution: u32, ratio: f64, fps: f64) -> u64 {
    match calculate(Table::Max, resolution, ratio, fps) {
        0 => 256_000,
        b => b,
    }
}

/// PeerTube's `getMinTheoreticalBitrate`.
pub fn min_bitrate(resolution: u32, ratio: f64, fps: f64) -> u64 {
    match calculate(Table::Min, resolution, ratio, fps) {
        0 => 10_000,
        b => b,
    }
}

/// PeerTube's target bitrate for a rendition: the average theoretical bitrate, but no more
/// than the input's bitrate plus 30 %, and never below the minimum.
pub fn target_bitrate(input_bitrate: Option<u64>, resolution: u32, ratio: f64, fps: f64) -> u64 {
    let average = average_bitrate(resolution, ratio, fps);
    let capped = match input_bitrate {
        Some(b) if b > 0 => average.min(b + b * 3 / 10),
        _ => average,
    };
    capped.max(min_bitrate(resolution, ratio, fps))
}

/// PeerTube's `toEven`: odd numbers go up by one.
pub fn to_even(n: u32) -> u32 {
    if n % 2 == 1 { n + 1 } else { n }
}

/// The resolutions to produce for a source of `input` (its short side), highest first:
/// the original resolution (PeerTube's `buildOriginalFileResolution`), then every ladder
/// rung strictly below the input.
pub fn renditions(input: u32, ladder: &[u32], keep_original: bool) -> Vec<u32> {
    let mut rungs: Vec<u32> = ladder.iter().copied().filter(|r| *r <= input).collect();
    rungs.sort_unstable();
    let original = if keep_original {
        to_even(input)
    } else {
        rungs.last().copied().unwrap_or_else(|| to_even(input))
    };
    let mut out = vec![original];
    out.extend(
        rungs
            .into_iter()
            .rev()
            .filter(|r| *r < input && *r != original),
    );
    out
}

/// PeerTube's `computeOutputFPS` for an integer input rate: renditions below 720p keep at
/// most 30 fps (by a divisor of the input when there is one), nothing goes above
/// `max_fps`, and nothing below 1 fps. Returns None below PeerTube's hard minimum (0.1 fps).
pub fn output_fps(input_fps: f64, resolution: u32, max_fps: u32) -> Option<u32> {
    // NaN fails this comparison too.
    if input_fps.is_nan() || input_fps < 0.1 {
        return None;
    }
    let max = max_fps.max(1);
    let standard: Vec<u32> = match [24, 25, 30].into_iter().filter(|v| *v <= max).collect() {
        v if Vec::is_empty(&v) => vec![max],
        v => v,
    };
    let mut hd: Vec<u32> = [50, 60, max].into_iter().filter(|v| *v <= max).collect();
    hd.dedup();
    // PeerTube works on ffprobe's rounded rate.
    let mut fps = input_fps.round().max(1.0) as u32;
    if resolution < 720 && fps > 30.min(max) {
        fps = closest_standard(fps, &standard);
    }
    if fps > max {
        fps = closest_standard(fps, &hd);
    }
    Some(fps.clamp(1, max))
}

/// The largest candidate dividing `fps`, else the one leaving the smallest remainder.
fn closest_standard(fps: u32, candidates: &[u32]) -> u32 {
    let mut desc = candidates.to_vec();
    desc.sort_unstable_by(|a, b| b.cmp(a));
    if let Some(d) = desc.iter().find(|c| **c > 0 && fps.is_multiple_of(**c)) {
        return *d;
    }
    candidates
        .iter()
        .copied()
        .filter(|c| *c > 0)
        .min_by_key(|c| fps % c)
        .unwrap_or(fps)
}

/// Output frame size for `resolution`, keeping the display aspect ratio as ffmpeg's
/// `scale=w=-2:h=res` (landscape) or `w=res:h=-2` (portrait) does.
pub fn dimensions(display_width: u32, display_height: u32, resolution: u32) -> (u32, u32) {
    let (w, h) = (
        u64::from(display_width.max(1)),
        u64::from(display_height.max(1)),
    );
    let res = u64::from(resolution);
    // Round to the nearest even number, at least 2.
    let even = |num: u64, den: u64| (((num + den) / (2 * den)) * 2).max(2) as u32;
    if h > w {
        (resolution, even(res * h, w))
    } else {
        (even(res * w, h), resolution)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WIDE: f64 = 1.7778;

    #[test]
    fn bitrates_match_peertube_tables() {
        assert_eq!(aspect_ratio(1920, 1080), WIDE);
        // floor(1080 * (1080 * 1.7778) * 30 * 0.10), as PeerTube computes it
        assert_eq!(average_bitrate(1080, WIDE, 30.0), 6_220_877);
        assert_eq!(max_bitrate(1080, WIDE, 30.0), 10_575_492);
        assert_eq!(average_bitrate(720, WIDE, 30.0), 3_041_318);
        assert_eq!(average_bitrate(480, WIDE, 30.0), 1_474_578);
        // Portrait counts the long side the same way: 1080 * 1920 * 30 * 0.10.
        assert_eq!(
            average_bitrate(1080, aspect_ratio(1080, 1920), 30.0),
            6_220_800
        );
        // Between rungs, the table of the rung below applies.
        assert_eq!(
            average_bitrate(1000, 1.0, 10.0),
            (1000.0 * 1000.0 * 10.0 * 0.11) as u64
        );
        // Below 144p PeerTube has no table and uses fixed values.
        assert_eq!(average_bitrate(100, WIDE, 30.0), 192_000);
        assert_eq!(max_bitrate(100, WIDE, 30.0), 256_000);
        // The input bitrate + 30 % caps the target; the minimum floors it.
        assert_eq!(target_bitrate(Some(1_000_000), 720, WIDE, 30.0), 1_300_000);
        assert_eq!(target_bitrate(Some(1_000), 720, WIDE, 30.0), 552_966);
        assert_eq!(target_bitrate(None, 720, WIDE, 30.0), 3_041_318);
    }

    #[test]
    fn ladder_never_goes_above_the_source() {
        let ladder = [144, 240, 360, 480, 720, 1080, 1440, 2160];
        assert_eq!(
            renditions(1080, &ladder, true),
            vec![1080, 720, 480, 360, 240, 144]
        );
        assert_eq!(renditions(360, &ladder, true), vec![360, 240, 144]);
        // An odd, off-ladder source keeps its own (even) resolution on top.
        assert_eq!(
            renditions(1001, &ladder, true),
            vec![1002, 720, 480, 360, 240, 144]
        );
        // Without keep_original the top is the highest rung the source reaches.
        assert_eq!(renditions(1080, &[480, 720], false), vec![720, 480]);
        assert_eq!(renditions(100, &[480, 720], false), vec![100]);
        assert_eq!(renditions(100, &[480, 720], true), vec![100]);
    }

    #[test]
    fn fps_follows_peertube() {
        assert_eq!(output_fps(30.0, 1080, 60), Some(30));
        assert_eq!(output_fps(29.97, 480, 60), Some(30));
        assert_eq!(output_fps(60.0, 1080, 60), Some(60));
        // Below 720p, high rates drop to a divisor in PeerTube's standard set.
        assert_eq!(output_fps(60.0, 480, 60), Some(30));
        assert_eq!(output_fps(50.0, 360, 60), Some(25));
        assert_eq!(output_fps(48.0, 240, 60), Some(24));
        // Never above 60.
        assert_eq!(output_fps(120.0, 1080, 60), Some(60));
        assert_eq!(output_fps(100.0, 1080, 60), Some(50));
        // A board may cap lower.
        assert_eq!(output_fps(60.0, 720, 30), Some(30));
        // Very slow sources are raised to 1 fps; absurd ones refused.
        assert_eq!(output_fps(0.5, 240, 60), Some(1));
        assert_eq!(output_fps(0.01, 240, 60), None);
        assert_eq!(output_fps(f64::NAN, 240, 60), None);
    }

    #[test]
    fn dimensions_keep_aspect_and_are_even() {
        assert_eq!(dimensions(1920, 1080, 720), (1280, 720));
        assert_eq!(dimensions(1920, 1080, 480), (854, 480));
        assert_eq!(dimensions(1920, 1080, 144), (256, 144));
        assert_eq!(dimensions(1080, 1920, 720), (720, 1280));
        assert_eq!(dimensions(640, 480, 240), (320, 240));
        assert_eq!(dimensions(100_000, 2, 2), (100_000, 2));
    }
}
