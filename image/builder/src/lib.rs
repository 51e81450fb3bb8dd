//! Builds Peerbox appliance images from Debian packages for the boards of `board-configs/`:
//! cross-compiles the node against an arm64 sysroot, makes the root file system with
//! mmdebstrap (kernel and initramfs handled on the host, not under emulation), and writes an
//! A/B disk image with its compressed copy, checksum and (for Raspberry Pi) Imager entry.
//! It owns `image/`; it never changes the node's sources or the board files.

pub mod apt;
pub mod board;
pub mod boot;
pub mod cache;
pub mod cross;
pub mod fat;
pub mod initramfs;
pub mod layout;
pub mod packages;
pub mod qemu;
pub mod rootfs;
pub mod tools;
pub mod yocto;

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use crate::apt::{Apt, Sources};
use crate::board::{Arch, Board, BootFlow};
use crate::boot::Slot;
use crate::cache::Cache;
use crate::fat::Content;
use crate::layout::{BOOT_A, BOOT_B, CONFIG, CONFIG_LABEL, DATA, DATA_LABEL, Layout, SYSTEM_A};
use crate::packages::PackageLists;

/// The repository this builder belongs to.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")))
}

/// Runs one build step, printing its name and how long it took.
pub fn step<T>(name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    eprintln!("==> {name}");
    let start = Instant::now();
    let result = f().with_context(|| format!("step failed: {name}"))?;
    eprintln!("    {name}: {:.1} s", start.elapsed().as_secs_f64());
    Ok(result)
}

/// Host tools a board's build needs.
pub fn required_tools(board: &Board) -> Vec<tools::Tool> {
    let mut list: Vec<tools::Tool> = tools::COMMON.to_vec();
    if board.image.arch == Arch::Arm64 && std::env::consts::ARCH != "aarch64" {
        list.extend_from_slice(tools::ARM64_CROSS);
    } else if board.image.arch == Arch::Arm64 {
        list.push(tools::ARM64_CROSS[1]);
    }
    if board.image.boot_flow == BootFlow::Uboot {
        list.extend_from_slice(tools::UBOOT);
    }
    list
}

/// Validates the board's `[image]` table, the package lists and the host tools.
pub fn check(repo: &Path, board_name: &str) -> Result<Board> {
    let board = Board::load(repo, board_name)?;
    PackageLists::load(repo)?;
    tools::require(&required_tools(&board))?;
    Ok(board)
}

/// Makes foreign-architecture binaries run through qemu-user (mmdebstrap's maintainer
/// scripts, the `peerbox --version` check).
fn ensure_binfmt(arch: Arch) -> Result<()> {
    if arch != Arch::Arm64 || std::env::consts::ARCH == "aarch64" {
        return Ok(());
    }
    let entry = Path::new("/proc/sys/fs/binfmt_misc/qemu-aarch64");
    if entry.exists() && std::fs::read_to_string(entry).is_ok_and(|s| s.starts_with("enabled")) {
        return Ok(());
    }
    if !Path::new("/proc/sys/fs/binfmt_misc/register").exists() {
        tools::run(tools::command("mount").args([
            "-t",
            "binfmt_misc",
            "binfmt_misc",
            "/proc/sys/fs/binfmt_misc",
        ]))
        .context("cannot mount binfmt_misc, which runs arm64 programs through qemu-user")?;
    }
    tools::run(tools::command("update-binfmts").args(["--enable", "qemu-aarch64"])).context(
        "cannot register qemu-aarch64 with binfmt_misc (Debian package qemu-user-static)",
    )?;
    Ok(())
}

/// `SOURCE_DATE_EPOCH`, else the time of the checked-out commit: file dates in the image.
fn source_date_epoch(repo: &Path) -> u64 {
    if let Some(e) = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return e;
    }
    tools::output(
        tools::command("git")
            .arg("-C")
            .arg(repo)
            .args(["log", "-1", "--format=%ct"]),
    )
    .ok()
    .and_then(|s| s.trim().parse().ok())
    .unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    })
}

fn build_id(repo: &Path) -> String {
    tools::output(
        tools::command("git")
            .arg("-C")
            .arg(repo)
            .args(["describe", "--always", "--dirty"]),
    )
    .map(|s| s.trim().to_string())
    .unwrap_or_else(|_| "unknown".into())
}

/// A UUID made from the board name, for reproducible file systems.
fn stable_uuid(what: &str, board: &str) -> String {
    let h = Sha256::digest(format!("peerbox {what} {board}").as_bytes());
    let x = hex::encode(&h[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &x[..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Where the outputs go; default `target/image/BOARD`.
    pub out_dir: Option<PathBuf>,
    /// xz level for `.img.xz`: 0 by default (an image in about 20 s on 2 cores); 6 to 9
    /// for published images (a little smaller, minutes longer).
    pub xz_level: u32,
    /// The system's version (semver); default: the workspace's version.
    pub version: Option<String>,
    /// Public keys (`peerbox ota keygen`'s `.pub`) the box trusts for updates. An image
    /// without any refuses every update bundle.
    pub ota_keys: Vec<PathBuf>,
    /// A folder copied over the system partition last: a site's own settings and units.
    pub overlay: Option<PathBuf>,
}

/// What a build produced.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Built {
    pub board: String,
    pub version: String,
    pub build: String,
    pub out_dir: PathBuf,
    pub image_xz: PathBuf,
    pub image_xz_sha256: String,
    /// Size and SHA-256 of the raw disk image inside the .img.xz (the raw file itself is
    /// not kept: 1 GB or more of each build would only duplicate the download).
    pub image_size: u64,
    pub image_sha256: String,
    pub kernel: String,
    pub layout: Layout,
    /// U-Boot for a virtual board's `-bios`.
    pub bios: Option<PathBuf>,
    pub rpi_imager_json: Option<PathBuf>,
}

pub fn output_dir(repo: &Path, board: &str) -> PathBuf {
    repo.join("target/image").join(board)
}

/// Builds the image of `board_name`.
pub fn build(repo: &Path, board_name: &str, opts: &Options) -> Result<Built> {
    let started = Instant::now();
    let board = Board::load(repo, board_name)?;
    let img = &board.image;
    if img.boot_flow == BootFlow::GrubEfi {
        bail!(
            "board-configs/{}.toml: [image].boot_flow = \"grub-efi\" is not built yet: the builder makes \"rpi-tryboot\" and \"uboot\" images",
            board.name
        );
    }
    check(repo, board_name)?;
    // mmdebstrap's root mode, chroot and file ownership in the image need root.
    if tools::output(tools::command("id").arg("-u"))?.trim() != "0" {
        bail!("building an image needs root (mmdebstrap, chroot, file owners): run it with sudo");
    }
    let arch = img.arch;
    let cache = Cache::new(repo)?;
    let lists = PackageLists::load(repo)?;
    let sources = Sources::new(&img.suite);
    let epoch = source_date_epoch(repo);
    let version = opts
        .version
        .clone()
        .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string());
    let build = build_id(repo);
    let out_dir = opts
        .out_dir
        .clone()
        .unwrap_or_else(|| output_dir(repo, &board.name));
    std::fs::create_dir_all(&out_dir)?;
    let work = cache.path(&format!("work-{}", board.name));
    cache::remove_any(&work)?;
    std::fs::create_dir_all(&work)?;
    ensure_binfmt(arch)?;

    // The sysroot first (the compiler needs it), then the root file system (emulated, one
    // core) while the node compiles (the other core).
    let sysroot = cross::sysroot(&cache, arch, &sources, &lists)?;
    let rootfs_packages = lists.rootfs(&img.packages);
    let (base, peerbox) = std::thread::scope(|s| {
        let base = s.spawn(|| rootfs::base(&cache, arch, &sources, &rootfs_packages));
        let bin = step(&format!("peerbox for {}", arch.rust_target()), || {
            cross::build(repo, &cache, arch, &sysroot, "peerbox", "peerbox")
        });
        let base = base
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the root file system build panicked")));
        (base, bin)
    });
    let (base, peerbox) = (base?, peerbox?);

    let apt = Apt::new(&cache, arch.debian(), &sources)?;
    let (kernel, busybox, firmware, uboot) = step("kernel, busybox and firmware packages", || {
        let kpkg = apt.resolve_kernel(&img.kernel.package, img.kernel.suite.as_deref())?;
        let kdeb = apt.download(&kpkg, img.kernel.suite.as_deref())?;
        let kernel = rootfs::KernelFiles::find(apt::extract(&cache, &kdeb)?)?;
        let bb = apt::extract(&cache, &apt.download("busybox-static", None)?)?;
        let firmware = match &img.firmware {
            Some(f) => Some(apt::extract(&cache, &apt.download(&f.package, None)?)?),
            None => None,
        };
        let uboot = match &img.uboot {
            Some(u) => Some(apt::extract(&cache, &apt.download(&u.package, None)?)?),
            None => None,
        };
        Ok((kernel, bb.join("bin/busybox"), firmware, uboot))
    })?;

    let layout = Layout::new(layout::disk_id(&board.name), &img.partitions);
    let staging = work.join("rootfs");
    step("system partition (image/rootfs, modules, node)", || {
        rootfs::stage(
            &base,
            &staging,
            &rootfs::Additions {
                repo,
                board: &board,
                layout: &layout,
                kernel: &kernel,
                peerbox: &peerbox,
                version: &version,
                build_id: &build,
                epoch,
                ota_keys: &opts.ota_keys,
                overlay: opts.overlay.as_deref(),
            },
        )
    })?;
    let system_img = work.join("system.erofs");
    step("EROFS system image", || {
        rootfs::erofs(
            &staging,
            &system_img,
            &stable_uuid("system", &board.name),
            epoch,
        )?;
        let size = std::fs::metadata(&system_img)?.len();
        if size > img.partitions.system {
            bail!(
                "the system image is {} MiB but [image].partitions.system is {} MiB",
                size.div_ceil(layout::MIB),
                img.partitions.system / layout::MIB
            );
        }
        Ok(())
    })?;

    let initrd = work.join("initrd.img");
    step("initramfs", || {
        let modules =
            initramfs::resolve_modules(&staging, &kernel.version, &img.initramfs_modules)?;
        initramfs::build(
            repo,
            &staging,
            &kernel.version,
            &busybox,
            &modules,
            epoch,
            &initrd,
        )
    })?;
    cache::remove_any(&staging)?;

    // Boot partition of slot A; slot B stays empty until the first update writes it.
    let boot_a = work.join("boot-a.fat");
    let boot_b = work.join("boot-b.fat");
    let config = work.join("config.fat");
    let mut bios = None;
    step("boot and config partitions", || {
        let mut files: Vec<(String, Content)> = vec![
            ("vmlinuz".into(), Content::File(kernel.image())),
            ("initrd.img".into(), Content::File(initrd.clone())),
        ];
        for dtb in &img.kernel.dtbs {
            let src = kernel.dtb(dtb);
            if !src.is_file() {
                bail!(
                    "kernel {} has no device tree {dtb} ([image].kernel.dtbs)",
                    kernel.version
                );
            }
            let name = dtb.rsplit('/').next().unwrap_or(dtb).to_string();
            files.push((name, Content::File(src)));
        }
        let mut config_files: Vec<(String, Content)> = Vec::new();
        match img.boot_flow {
            BootFlow::RpiTryboot => {
                let (fw, fw_root) = (img.firmware.as_ref(), firmware.as_ref());
                if let (Some(fw), Some(root)) = (fw, fw_root) {
                    for name in &fw.files {
                        let src = root.join("usr/lib/raspi-firmware").join(name);
                        if !src.is_file() {
                            bail!("{} has no {name} ([image].firmware.files)", fw.package);
                        }
                        files.push((name.clone(), Content::File(src)));
                    }
                }
                files.push((
                    "config.txt".into(),
                    Content::Bytes(boot::config_txt(&board).into_bytes()),
                ));
                files.push((
                    "cmdline.txt".into(),
                    Content::Bytes(boot::cmdline_txt(&board, &layout, Slot::A).into_bytes()),
                ));
                config_files.push((
                    "autoboot.txt".into(),
                    Content::Bytes(boot::autoboot_txt().into_bytes()),
                ));
            }
            BootFlow::GrubEfi => bail!("grub-efi images are not built yet"),
            BootFlow::Uboot => {
                let scr = work.join("boot.scr");
                boot::uboot_script(repo, &board, &layout, &scr)?;
                config_files.push(("boot.scr".into(), Content::File(scr)));
                config_files.push((
                    "peerbox-boot.env".into(),
                    Content::Bytes(boot::uboot_state().into_bytes()),
                ));
                if let (Some(u), Some(root)) = (&img.uboot, &uboot) {
                    let src = root.join(&u.binary);
                    if !src.is_file() {
                        bail!("{} has no {} ([image].uboot.binary)", u.package, u.binary);
                    }
                    if u.offset.is_none() {
                        let dest = out_dir.join("u-boot.bin");
                        std::fs::copy(&src, &dest)?;
                        bios = Some(dest);
                    }
                }
            }
        }
        config_files.push((
            "README.txt".into(),
            Content::Bytes(readme_txt(&board).into_bytes()),
        ));
        let id = layout.disk_id;
        fat::make(
            &config,
            img.partitions.config,
            CONFIG_LABEL,
            id ^ 1,
            &config_files,
            epoch,
            &work,
        )?;
        fat::make(
            &boot_a,
            img.partitions.boot,
            "BOOT-A",
            id ^ 2,
            &files,
            epoch,
            &work,
        )?;
        fat::make(
            &boot_b,
            img.partitions.boot,
            "BOOT-B",
            id ^ 3,
            &[],
            epoch,
            &work,
        )?;
        Ok(())
    })?;

    let data_img = work.join("data.ext4");
    step("data partition", || {
        make_data(&data_img, img.partitions.data, &board.name, epoch, &work)
    })?;

    let name = format!("peerbox-{}", board.name);
    let image = work.join(format!("{name}.img"));
    step("disk image", || {
        let mut parts: Vec<(u8, &Path)> = vec![
            (CONFIG, &config),
            (BOOT_A, &boot_a),
            (BOOT_B, &boot_b),
            (SYSTEM_A, &system_img),
            (DATA, &data_img),
        ];
        parts.sort_by_key(|p| p.0);
        assemble(&image, &layout, &parts)?;
        if let (Some(u), Some(root)) = (&img.uboot, &uboot)
            && let Some(offset) = u.offset
        {
            let binary = std::fs::read(root.join(&u.binary))?;
            if offset + binary.len() as u64 > layout.part(CONFIG).start {
                bail!(
                    "{} ({} bytes at [image].uboot.offset {offset}) would overwrite the first partition at 1 MiB",
                    u.binary,
                    binary.len()
                );
            }
            write_at(&image, offset, &binary)?;
        }
        Ok(())
    })?;

    let image_xz = out_dir.join(format!("{name}.img.xz"));
    let (image_sha256, image_xz_sha256) = step("compressed image and checksums", || {
        compress(&image, &image_xz, opts.xz_level)?;
        let raw = sha256_file(&image)?;
        let xz = sha256_file(&image_xz)?;
        std::fs::write(
            out_dir.join(format!("{name}.img.xz.sha256")),
            format!("{xz}  {name}.img.xz\n"),
        )?;
        Ok((raw, xz))
    })?;

    let image_size = std::fs::metadata(&image)?.len();
    let rpi_imager_json = match &img.imager {
        Some(imager) => {
            let path = out_dir.join(format!("{name}.rpi-imager.json"));
            let entry = serde_json::json!({
                "os_list": [{
                    "name": imager.name,
                    "description": imager.description,
                    "url": format!("{}{name}.img.xz", url_base()),
                    "release_date": release_date(epoch),
                    "extract_size": image_size,
                    "extract_sha256": image_sha256,
                    "image_download_size": std::fs::metadata(&image_xz)?.len(),
                    "image_download_sha256": image_xz_sha256,
                    "devices": imager.devices,
                }]
            });
            std::fs::write(&path, serde_json::to_string_pretty(&entry)? + "\n")?;
            Some(path)
        }
        None => None,
    };

    // The slot payloads of an update bundle (`just ota-bundle`): slot A's boot partition and
    // the system image.
    std::fs::rename(&system_img, out_dir.join("system.erofs"))?;
    std::fs::rename(&boot_a, out_dir.join("boot.fat"))?;
    cache::remove_any(&work)?;
    let built = Built {
        board: board.name.clone(),
        version,
        build,
        out_dir: out_dir.clone(),
        image_xz,
        image_xz_sha256,
        image_size,
        image_sha256,
        kernel: kernel.version.clone(),
        layout,
        bios,
        rpi_imager_json,
    };
    std::fs::write(
        out_dir.join("build-info.json"),
        serde_json::to_string_pretty(&built)? + "\n",
    )?;
    eprintln!(
        "==> {} built in {:.1} s: {}",
        board.name,
        started.elapsed().as_secs_f64(),
        built.image_xz.display()
    );
    Ok(built)
}

/// `$PEERBOX_IMAGE_URL_BASE` (where the images will be published, ending in `/`) for the
/// Imager entry's download URL; without it the URL is the bare file name.
fn url_base() -> String {
    std::env::var("PEERBOX_IMAGE_URL_BASE")
        .map(|b| if b.ends_with('/') { b } else { format!("{b}/") })
        .unwrap_or_default()
}

/// `YYYY-MM-DD` of a Unix time (civil calendar, UTC).
fn release_date(epoch: u64) -> String {
    let days = (epoch / 86_400) as i64;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn readme_txt(board: &Board) -> String {
    format!(
        "Peerbox ({})\r\n\r\n\
         This partition is the box's settings partition.\r\n\
         - claim-code.txt appears here after the first start: open http://peerbox.local/setup\r\n\
           and enter the code to set up your Peerbox.\r\n\
         - To allow SSH access for debugging, put your public keys in ssh-authorized-keys.txt\r\n\
           (user root, key login only).\r\n\
         Leave the other files as they are: they choose which system the box starts.\r\n",
        board.name
    )
}

/// The data partition: ext4 with the node's folders, owned by its account.
fn make_data(dest: &Path, size: u64, board: &str, epoch: u64, work: &Path) -> Result<()> {
    let skel = work.join("data-skeleton");
    cache::remove_any(&skel)?;
    for (dir, owner, mode) in [
        ("peerbox", rootfs::PEERBOX_UID, 0o750),
        ("setup", rootfs::PEERBOX_UID, 0o750),
        ("ssh", 0, 0o700),
    ] {
        let p = skel.join(dir);
        std::fs::create_dir_all(&p)?;
        std::os::unix::fs::chown(&p, Some(owner), Some(owner))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode))?;
    }
    let _ = std::fs::remove_file(dest);
    std::fs::File::create(dest)?.set_len(size)?;
    let uuid = stable_uuid("data", board);
    tools::run(
        tools::command("mkfs.ext4")
            .env("E2FSPROGS_FAKE_TIME", epoch.to_string())
            .args(["-q", "-F", "-L", DATA_LABEL, "-U", &uuid])
            .args(["-E", &format!("hash_seed={uuid},root_owner=0:0")])
            .args(["-m", "1"])
            .arg("-d")
            .arg(&skel)
            .arg(dest),
    )?;
    cache::remove_any(&skel)?;
    Ok(())
}

/// Writes the partition table and the partition images into a sparse disk image.
fn assemble(image: &Path, layout: &Layout, parts: &[(u8, &Path)]) -> Result<()> {
    let _ = std::fs::remove_file(image);
    std::fs::File::create(image)?.set_len(layout.size)?;
    let mut cmd = tools::command("sfdisk");
    cmd.args(["--quiet", "--no-reread", "--no-tell-kernel"])
        .arg(image)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().context("cannot start sfdisk")?;
    child
        .stdin
        .take()
        .context("sfdisk stdin")?
        .write_all(layout.sfdisk_script().as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "sfdisk could not write the partition table: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut disk = std::fs::File::options().write(true).open(image)?;
    for (number, path) in parts {
        let part = layout.part(*number);
        let len = std::fs::metadata(path)?.len();
        if len > part.size {
            bail!("{} is larger than partition {number}", path.display());
        }
        copy_sparse(path, &mut disk, part.start)?;
    }
    disk.sync_all()?;
    Ok(())
}

/// Copies `src` into `disk` at `offset`, skipping blocks of zeros (the disk stays sparse).
fn copy_sparse(src: &Path, disk: &mut std::fs::File, offset: u64) -> Result<()> {
    let mut input = std::fs::File::open(src)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut at = offset;
    loop {
        let n = read_full(&mut input, &mut buf)?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        if chunk.iter().any(|&b| b != 0) {
            disk.seek(SeekFrom::Start(at))?;
            disk.write_all(chunk)?;
        }
        at += n as u64;
    }
    Ok(())
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = r.read(&mut buf[filled..])?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

fn write_at(image: &Path, offset: u64, data: &[u8]) -> Result<()> {
    let mut disk = std::fs::File::options().write(true).open(image)?;
    disk.seek(SeekFrom::Start(offset))?;
    disk.write_all(data)?;
    Ok(())
}

fn compress(image: &Path, dest: &Path, level: u32) -> Result<()> {
    let tmp = dest.with_extension("xz.tmp");
    let out = std::fs::File::create(&tmp)?;
    let status = tools::command("xz")
        .args(["-T2", &format!("-{level}"), "-c"])
        .arg(image)
        .stdout(out)
        .status()
        .context("cannot start xz")?;
    if !status.success() {
        bail!("xz failed ({status})");
    }
    std::fs::rename(&tmp, dest)?;
    Ok(())
}

/// SHA-256 of a file, by coreutils' sha256sum: the images are gigabytes, and this stays fast
/// when the builder itself is a debug build (as in `cargo test`).
pub fn sha256_file(path: &Path) -> Result<String> {
    let out = tools::output(tools::command("sha256sum").arg("-b").arg(path))?;
    let sum = out.split_whitespace().next().unwrap_or("");
    if sum.len() != 64 {
        bail!("sha256sum printed {out:?} for {}", path.display());
    }
    Ok(sum.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn release_dates() {
        assert_eq!(super::release_date(0), "1970-01-01");
        assert_eq!(super::release_date(1_764_028_800), "2025-11-25");
        assert_eq!(super::release_date(951_782_400), "2000-02-29");
    }
}
