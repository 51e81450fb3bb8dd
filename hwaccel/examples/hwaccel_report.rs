//! Prints what `peerbox hwaccel` would print, for a board name or TOML path (default: this
//! machine's board).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let name = std::env::args()
        .nth(1)
        .unwrap_or_else(|| peerbox_hwaccel::BoardConfig::detect_name().to_string());
    let board = peerbox_hwaccel::BoardConfig::load(&name)?;
    print!("{}", peerbox_hwaccel::report(&board)?);
    Ok(())
}
