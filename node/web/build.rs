//! The player bundle is built by `just player` (esbuild from node/web/player's lockfile)
//! and embedded with include_bytes!; say how to get it rather than fail on a missing file.

fn main() {
    for name in ["player.js", "upload.js", "studio.js"] {
        let path = format!("player/dist/{name}");
        println!("cargo::rerun-if-changed={path}");
        if !std::path::Path::new(&path).is_file() {
            panic!("{path} is missing: run `just player` to build the web player bundle");
        }
    }
}
