//! Builds the qemu-virt, rpi4 and rpi5 images for real (Debian packages, cross-compiled node)
//! and checks what a user gets: the Raspberry Pi cards read back from the compressed images
//! with loop-free tools, and the virtual board booted under qemu-system-aarch64 (TCG) until
//! its node is healthy, claimed with the code found on the card, and logged into.
//!
//! Needs root and Debian's mirror (as CI has); the host packages are installed by
//! image/install-host-deps. The sysroot and root file system are built once and cached under
//! target/image-cache, so the three builds share them.

use std::collections::HashMap;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use peerbox_image::layout::{self, BOOT_A, BOOT_B, CONFIG, DATA, EXTENDED, SYSTEM_A, SYSTEM_B};
use peerbox_image::{Built, Options, fat, qemu};
use serde_json::Value;

/// One heavy job at a time on a 2-core machine: builds, and the boot whose time is measured.
static MACHINE: Mutex<()> = Mutex::new(());
static HOST_DEPS: OnceLock<()> = OnceLock::new();
static BUILT: OnceLock<Mutex<HashMap<String, Built>>> = OnceLock::new();

fn repo() -> PathBuf {
    peerbox_image::repo_root()
}

fn install_host_deps() {
    HOST_DEPS.get_or_init(|| {
        let status = Command::new(repo().join("image/install-host-deps"))
            .status()
            .expect("run image/install-host-deps");
        assert!(status.success(), "image/install-host-deps failed");
    });
}

/// The board's image, built once per test run (the caller holds MACHINE).
fn built(board: &str) -> Built {
    install_host_deps();
    let map = BUILT.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(b) = map.lock().unwrap_or_else(|p| p.into_inner()).get(board) {
        return b.clone();
    }
    let start = Instant::now();
    let options = Options {
        version: Some(updates::FIRST_VERSION.to_string()),
        ota_keys: vec![updates::keys().public.clone()],
        ..Options::default()
    };
    let b = peerbox_image::build(&repo(), board, &options)
        .unwrap_or_else(|e| panic!("building the {board} image failed: {e:#}"));
    println!(
        "TIMING {board}: image built in {:.0} s",
        start.elapsed().as_secs_f64()
    );
    map.lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(board.to_string(), b.clone());
    b
}

fn machine() -> std::sync::MutexGuard<'static, ()> {
    MACHINE.lock().unwrap_or_else(|p| p.into_inner())
}

/// The partition table of a disk image, as sfdisk reads it from the file.
fn partition_table(image: &Path) -> Value {
    let out = Command::new("sfdisk")
        .arg("--json")
        .arg(image)
        .output()
        .expect("run sfdisk");
    assert!(
        out.status.success(),
        "sfdisk --json: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("sfdisk json");
    v["partitiontable"].clone()
}

/// (start, size) in bytes of partition `n` in sfdisk's JSON.
fn part(table: &Value, image: &Path, n: u8) -> (u64, u64, Value) {
    let node = format!("{}{n}", image.display());
    let p = table["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .find(|p| p["node"] == node.as_str())
        .unwrap_or_else(|| panic!("no partition {n} in {table}"))
        .clone();
    let sector = table["sectorsize"].as_u64().unwrap_or(512);
    (
        p["start"].as_u64().expect("start") * sector,
        p["size"].as_u64().expect("size") * sector,
        p,
    )
}

fn read_at(image: &Path, offset: u64, len: usize) -> Vec<u8> {
    use std::io::{Seek, SeekFrom};
    let mut f = std::fs::File::open(image).expect("open image");
    f.seek(SeekFrom::Start(offset)).expect("seek");
    let mut buf = vec![0; len];
    f.read_exact(&mut buf).expect("read");
    buf
}

/// (block count × block size, volume label) of the ext4 file system at `offset`.
fn ext4_superblock(image: &Path, offset: u64) -> (u64, String) {
    let sb = read_at(image, offset + 1024, 1024);
    assert_eq!(&sb[56..58], &[0x53, 0xef], "no ext4 superblock");
    let blocks_lo = u32::from_le_bytes(sb[4..8].try_into().expect("4 bytes")) as u64;
    let blocks_hi = u32::from_le_bytes(sb[0x150..0x154].try_into().expect("4 bytes")) as u64;
    let block_size = 1024u64 << u32::from_le_bytes(sb[24..28].try_into().expect("4 bytes"));
    let label = String::from_utf8_lossy(&sb[120..136])
        .trim_end_matches('\0')
        .to_string();
    (((blocks_hi << 32) | blocks_lo) * block_size, label)
}

fn is_erofs(image: &Path, offset: u64) -> bool {
    read_at(image, offset + 1024, 4) == 0xE0F5_E1E2u32.to_le_bytes()
}

/// Decompresses the .img.xz as a user would and checks it against its .sha256.
fn unpacked_download(b: &Built, dir: &Path) -> PathBuf {
    let name = b
        .image_xz
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let sums = std::fs::read_to_string(b.out_dir.join(format!("{name}.sha256"))).expect(".sha256");
    assert_eq!(
        sums,
        format!(
            "{}  {name}\n",
            peerbox_image::sha256_file(&b.image_xz).expect("hash")
        )
    );
    let img = dir.join(name.trim_end_matches(".xz"));
    qemu::flash(&b.image_xz, &img).expect("decompress the download");
    assert_eq!(
        peerbox_image::sha256_file(&img).expect("hash"),
        b.image_sha256
    );
    img
}

/// What both Raspberry Pi images must have, read back from the downloaded image.
fn check_rpi_card(board: &str, firmware: &[&str], dtb: &str, config_lines: &[&str]) {
    let b = {
        let _m = machine();
        built(board)
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let img = unpacked_download(&b, dir.path());

    // MBR with the A/B layout: 1 config (active), 2/3 boot A/B, 4 extended, 5/6 system A/B, 7 data.
    let table = partition_table(&img);
    assert_eq!(table["label"], "dos");
    let disk_id = format!("{:08x}", b.layout.disk_id);
    assert_eq!(table["id"], format!("0x{disk_id}"));
    let expect = [
        (CONFIG, "e", 16),
        (BOOT_A, "c", 128),
        (BOOT_B, "c", 128),
        (SYSTEM_A, "83", 1536),
        (SYSTEM_B, "83", 1536),
        (DATA, "83", 256),
    ];
    for (n, kind, mib) in expect {
        let (start, size, p) = part(&table, &img, n);
        assert_eq!(p["type"], kind, "partition {n}");
        assert_eq!(size, mib * layout::MIB, "size of partition {n}");
        assert_eq!(start % layout::MIB, 0, "partition {n} is not MiB-aligned");
        assert_eq!(
            p["bootable"].as_bool().unwrap_or(false),
            n == CONFIG,
            "active flag of {n}"
        );
    }
    let (_, _, ext) = part(&table, &img, EXTENDED);
    assert_eq!(ext["type"], "5");

    // Config partition: autoboot.txt with tryboot A/B, slot A = partition 2.
    let (config_at, _, _) = part(&table, &img, CONFIG);
    let autoboot =
        String::from_utf8(fat::read(&img, config_at, "autoboot.txt").expect("autoboot.txt"))
            .expect("utf8");
    let settings: Vec<&str> = autoboot.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        settings,
        [
            "[all]",
            "tryboot_a_b=1",
            "boot_partition=2",
            "[tryboot]",
            "boot_partition=3"
        ],
        "{autoboot}"
    );
    assert!(
        autoboot.len() <= 512,
        "the firmware reads at most 512 bytes of autoboot.txt"
    );

    // Boot A: firmware, kernel, initramfs, device tree, config.txt, cmdline.txt.
    let (boot_a, _, _) = part(&table, &img, BOOT_A);
    let files = fat::list(&img, boot_a).expect("mdir boot A");
    for f in firmware
        .iter()
        .chain(&["vmlinuz", "initrd.img", "config.txt", "cmdline.txt", dtb])
    {
        assert!(
            files.iter().any(|x| x == f),
            "{f} missing on boot A: {files:?}"
        );
    }
    for f in firmware {
        let on_card = fat::read(&img, boot_a, f).expect("firmware file");
        assert!(on_card.len() > 1000, "{f} is {} bytes", on_card.len());
    }
    let config = String::from_utf8(fat::read(&img, boot_a, "config.txt").expect("config.txt"))
        .expect("utf8");
    for line in [
        "arm_64bit=1",
        "kernel=vmlinuz",
        "initramfs initrd.img followkernel",
        "enable_uart=1",
    ]
    .iter()
    .chain(config_lines)
    {
        assert!(
            config.lines().any(|l| l == *line),
            "config.txt lacks {line:?}:\n{config}"
        );
    }
    let cmdline = String::from_utf8(fat::read(&img, boot_a, "cmdline.txt").expect("cmdline.txt"))
        .expect("utf8");
    assert_eq!(
        cmdline.lines().count(),
        1,
        "cmdline.txt is one line: {cmdline:?}"
    );
    for arg in [
        &format!("root=PARTUUID={disk_id}-05") as &str,
        "ro",
        "rootwait",
        "peerbox.slot=A",
    ] {
        assert!(
            cmdline.split_whitespace().any(|a| a == arg),
            "cmdline.txt lacks {arg}: {cmdline}"
        );
    }
    let (gz, _) = {
        let raw = fat::read(&img, boot_a, "initrd.img").expect("initrd");
        (raw[..2].to_vec(), raw.len())
    };
    assert_eq!(gz, [0x1f, 0x8b], "initrd.img is not gzip");

    // Boot B exists, empty until the first update.
    let (boot_b, _, _) = part(&table, &img, BOOT_B);
    assert!(fat::list(&img, boot_b).expect("mdir boot B").is_empty());

    // System A is the read-only EROFS image; data is ext4 labelled for /etc/fstab.
    let (sys_a, _, _) = part(&table, &img, SYSTEM_A);
    assert!(is_erofs(&img, sys_a), "system A is not EROFS");
    let (data_at, data_size, _) = part(&table, &img, DATA);
    let (fs_size, label) = ext4_superblock(&img, data_at);
    assert_eq!(label, "peerbox-data");
    assert_eq!(fs_size, data_size);

    // Raspberry Pi Imager entry describing exactly this download.
    let json: Value = serde_json::from_str(
        &std::fs::read_to_string(b.rpi_imager_json.as_ref().expect("imager json")).expect("read"),
    )
    .expect("json");
    let entry = &json["os_list"][0];
    assert_eq!(entry["image_download_sha256"], b.image_xz_sha256.as_str());
    assert_eq!(entry["extract_sha256"], b.image_sha256.as_str());
    assert_eq!(
        entry["image_download_size"],
        std::fs::metadata(&b.image_xz).expect("xz").len()
    );
    assert_eq!(
        entry["extract_size"],
        std::fs::metadata(&img).expect("img").len()
    );
    assert!(
        entry["url"]
            .as_str()
            .expect("url")
            .ends_with(&format!("peerbox-{board}.img.xz"))
    );
    assert!(entry["release_date"].as_str().expect("date").len() == 10);
    println!(
        "{board}: {} MiB download, {} MiB card image",
        std::fs::metadata(&b.image_xz).expect("xz").len() >> 20,
        std::fs::metadata(&img).expect("img").len() >> 20
    );
}

#[test]
fn rpi4_card_has_the_ab_layout_firmware_and_boot_files() {
    check_rpi_card(
        "rpi4",
        &["start4.elf", "fixup4.dat"],
        "bcm2711-rpi-4-b.dtb",
        &["upstream_kernel=1"],
    );
}

#[test]
fn rpi5_card_has_the_ab_layout_and_boot_files() {
    check_rpi_card("rpi5", &[], "bcm2712-rpi-5-b.dtb", &["os_check=0"]);
}

/// A booted virtual board. Kills QEMU when the test ends, however it ends.
struct Vm {
    child: Child,
    serial: PathBuf,
    /// The node's port 80, forwarded to loopback.
    base: String,
    http: reqwest::blocking::Client,
    started: Instant,
}

impl Vm {
    fn serial_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.serial).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    fn get(&self, path: &str) -> reqwest::blocking::RequestBuilder {
        self.http.get(format!("{}{path}", self.base))
    }

    fn post(&self, path: &str) -> reqwest::blocking::RequestBuilder {
        self.http.post(format!("{}{path}", self.base))
    }

    fn healthy(&self) -> Option<Value> {
        let r = self.get("/api/v1/health").send().ok()?;
        (r.status() == 200).then(|| r.json().ok()).flatten()
    }

    /// Waits for the node's health check (through U-Boot, kernel, systemd, first boot).
    fn wait_healthy(&mut self, limit: Duration) -> Value {
        let since = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = self.child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                panic!(
                    "qemu exited ({status}) before the node was healthy: {err}\n--- serial ---\n{}",
                    self.serial_tail()
                );
            }
            if let Some(health) = self.healthy() {
                return health;
            }
            if since.elapsed() > limit {
                panic!(
                    "no healthy node after {:?}\n--- serial ---\n{}",
                    since.elapsed(),
                    self.serial_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn claim(&self, code: &str) -> reqwest::blocking::Response {
        self.post("/api/v1/setup/claim")
            .json(&serde_json::json!({
                "claimCode": code,
                "instanceName": "Video club",
                "adminPassword": ADMIN_PASSWORD,
            }))
            .send()
            .expect("claim")
    }

    /// Logs the administrator in as a PeerTube client does (asking for the local OAuth
    /// client with the box's name as Host) and returns the access token.
    fn login(&self, host: &str) -> String {
        let client: Value = self
            .get("/api/v1/oauth-clients/local")
            .header("Host", host)
            .send()
            .expect("oauth client")
            .json()
            .expect("client json");
        let token: Value = self
            .post("/api/v1/users/token")
            .form(&[
                (
                    "client_id",
                    client["client_id"].as_str().expect("client_id"),
                ),
                (
                    "client_secret",
                    client["client_secret"].as_str().expect("client_secret"),
                ),
                ("grant_type", "password"),
                ("username", "admin"),
                ("password", ADMIN_PASSWORD),
            ])
            .send()
            .expect("token")
            .json()
            .expect("token json");
        token["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token: {token}"))
            .to_string()
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A card bigger than the image, as after flashing the download: the data partition must
/// grow into it.
fn flash(b: &Built, dir: &Path) -> (PathBuf, u64) {
    let disk = unpacked_download(b, dir);
    let card_size = b.layout.size + 512 * layout::MIB;
    std::fs::File::options()
        .write(true)
        .open(&disk)
        .and_then(|f| f.set_len(card_size))
        .expect("grow the card");
    (disk, card_size)
}

/// Starts QEMU on a card; the node's port 80 answers at `vm.base`. `no_reboot`: QEMU exits
/// when the guest reboots, instead of booting again.
fn start_vm(b: &Built, disk: &Path, dir: &Path, no_reboot: bool) -> Vm {
    start_vm_with(b, disk, &dir.join("serial.log"), no_reboot, None)
}

/// As `start_vm`, with the serial console logged to `serial` and, when given, a raw disk
/// image plugged in as a USB stick.
fn start_vm_with(
    b: &Built,
    disk: &Path,
    serial: &Path,
    no_reboot: bool,
    usb_stick: Option<&Path>,
) -> Vm {
    let port = free_port();
    let serial = serial.to_path_buf();
    let bios = b.bios.clone().expect("u-boot.bin beside the image");
    let mut command = qemu::command(
        &bios,
        disk,
        port,
        &qemu::Serial::File(serial.clone()),
        no_reboot,
    );
    if let Some(stick) = usb_stick {
        command
            .args(["-device", "qemu-xhci", "-drive"])
            .arg(format!(
                "if=none,id=stick,format=raw,readonly=on,file={}",
                stick.display()
            ))
            .args(["-device", "usb-storage,drive=stick"]);
    }
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start qemu-system-aarch64");
    Vm {
        child,
        serial,
        base: format!("http://127.0.0.1:{port}"),
        http: reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client"),
        started: Instant::now(),
    }
}

/// The claim code, read from the card's first partition as its owner would.
fn claim_code_on_card(disk: &Path) -> String {
    let table = partition_table(disk);
    let (config_at, _, _) = part(&table, disk, CONFIG);
    let note = String::from_utf8(
        fat::read(disk, config_at, "claim-code.txt").expect("claim-code.txt on the card"),
    )
    .expect("utf8");
    note.lines()
        .find_map(|l| l.strip_prefix("Peerbox claim code: "))
        .unwrap_or_else(|| panic!("no code in claim-code.txt: {note:?}"))
        .trim()
        .to_string()
}

const ADMIN_PASSWORD: &str = "correct horse battery";

#[test]
fn qemu_virt_boots_to_a_healthy_node_that_is_claimed_and_logged_into() {
    let _m = machine();
    let b = built("qemu-virt");
    let dir = tempfile::tempdir().expect("tempdir");
    let (disk, card_size) = flash(&b, dir.path());
    let mut vm = start_vm(&b, &disk, dir.path(), true);

    // Boot to a healthy node: U-Boot, kernel, initramfs, systemd, first boot, peerbox.
    let health = vm.wait_healthy(Duration::from_secs(420));
    let boot_time = vm.started.elapsed();
    println!(
        "TIMING qemu-virt: boot to a healthy node in {:.1} s (qemu-system-aarch64 -M virt -cpu cortex-a72, TCG)",
        boot_time.as_secs_f64()
    );
    assert_eq!(health["setupPending"], true, "{health}");
    let serial_log = std::fs::read_to_string(&vm.serial).expect("serial log");
    assert!(
        serial_log.contains("peerbox: booting slot A"),
        "U-Boot did not pick slot A:\n{}",
        vm.serial_tail()
    );

    // The claim code on the card is the one on the serial console.
    let code = claim_code_on_card(&disk);
    assert_eq!(code.len(), 14, "{code:?}");
    assert!(
        serial_log.contains(&format!("claim code: {code}")),
        "the console does not show the code:\n{}",
        vm.serial_tail()
    );

    // Until claimed, only the setup page answers.
    let r = vm.get("/api/v1/videos").send().expect("videos");
    assert_eq!(r.status(), 503);
    let r = vm.get("/setup").send().expect("setup page");
    assert_eq!(r.status(), 200);
    assert!(r.text().expect("page").contains("claim code"));

    // A wrong code is refused without locking the owner out; then the right one claims.
    let wrong = vm.claim("AAAA-BBBB-CCCC");
    assert_eq!(wrong.status(), 403);
    assert!(wrong.text().expect("body").contains("Wrong claim code"));
    let ok = vm.claim(&code);
    assert_eq!(ok.status(), 200, "{}", ok.text().unwrap_or_default());
    let again = vm.claim(&code);
    assert_eq!(again.status(), 409, "a claimed box cannot be claimed again");

    // Log in through the API as a PeerTube client does, from the box's LAN name.
    let access = vm.login("peerbox.local");
    let me: Value = vm
        .get("/api/v1/users/me")
        .bearer_auth(&access)
        .send()
        .expect("me")
        .json()
        .expect("me json");
    assert_eq!(me["username"], "admin", "{me}");
    let config: Value = vm
        .get("/api/v1/config")
        .send()
        .expect("config")
        .json()
        .expect("config json");
    assert_eq!(config["instance"]["name"], "Video club", "{config}");
    println!(
        "TIMING qemu-virt: claimed and logged in at {:.1} s after start",
        vm.started.elapsed().as_secs_f64()
    );

    // First boot grew the data partition (and its file system) to the end of the card.
    let table = partition_table(&disk);
    let (data_at, data_size, _) = part(&table, &disk, DATA);
    assert_eq!(
        data_at + data_size,
        card_size,
        "data partition not grown: {table}"
    );
    // The guest grew the file system online; its superblock reaches the disk file when the
    // guest writes it back (ext4 commits every 5 s, writeback within 30 s).
    let grown = Instant::now();
    loop {
        let (fs_size, _) = ext4_superblock(&disk, data_at);
        if fs_size > data_size - 16 * layout::MIB {
            break;
        }
        assert!(
            grown.elapsed() < Duration::from_secs(120),
            "file system not grown: {fs_size} of {data_size} bytes\n--- serial ---\n{}",
            vm.serial_tail()
        );
        std::thread::sleep(Duration::from_secs(2));
    }
    // U-Boot took a try from slot A for this boot; once the node had stayed healthy for the
    // updater's hold time (60 s) the slot was marked good again (three tries), so a good
    // slot never runs out.
    assert!(
        serial_log.contains("peerbox: booting slot A (tries left: A 2, B 3)"),
        "{}",
        vm.serial_tail()
    );
    let (config_at, _, _) = part(&table, &disk, CONFIG);
    let marked = Instant::now();
    loop {
        let state = fat::read(&disk, config_at, "peerbox-boot.env").expect("peerbox-boot.env");
        let state = String::from_utf8_lossy(&state).replace('\0', "");
        if state.lines().any(|l| l == "BOOT_A_LEFT=3") {
            assert!(state.lines().any(|l| l == "BOOT_ORDER=A B"), "{state}");
            break;
        }
        assert!(
            marked.elapsed() < Duration::from_secs(180),
            "slot A not marked good: {state:?}\n{}",
            vm.serial_tail()
        );
        std::thread::sleep(Duration::from_secs(2));
    }
}

#[test]
fn a_gstreamer_crate_cross_links_against_the_arm64_sysroot() {
    use peerbox_image::board::Arch;
    let _m = machine();
    install_host_deps();
    let repo = repo();
    let cache = peerbox_image::cache::Cache::new(&repo).expect("cache");
    let lists = peerbox_image::packages::PackageLists::load(&repo).expect("packages.toml");
    let sources = peerbox_image::apt::Sources::new("bookworm");
    let sysroot =
        peerbox_image::cross::sysroot(&cache, Arch::Arm64, &sources, &lists).expect("sysroot");
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(&repo)
        .args([
            "test",
            "--release",
            "--locked",
            "--no-run",
            "--message-format=json",
        ])
        .args([
            "--target",
            "aarch64-unknown-linux-gnu",
            "-p",
            "peerbox-hwaccel",
        ])
        .env("CARGO_TARGET_DIR", cache.path("cargo-target"))
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .stderr(Stdio::inherit());
    for (k, v) in peerbox_image::cross::env(Arch::Arm64, &sysroot) {
        if v.is_empty() {
            cmd.env_remove(k);
        } else {
            cmd.env(k, v);
        }
    }
    let out = cmd.output().expect("run cargo");
    assert!(
        out.status.success(),
        "cross-compiling peerbox-hwaccel's tests failed"
    );
    let exe = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo named the test executable");
    let needed = peerbox_image::cross::needed_libraries(Arch::Arm64, &exe).expect("readelf");
    assert!(
        needed.iter().any(|l| l == "libgstreamer-1.0.so.0"),
        "{needed:?}"
    );
    // An arm64 executable: its ELF machine field is EM_AARCH64 (183).
    let header = read_at(&exe, 18, 2);
    assert_eq!(
        u16::from_le_bytes([header[0], header[1]]),
        183,
        "{} is not arm64",
        exe.display()
    );
}

// In a folder of its own so that cargo does not build it as a test binary by itself.
#[path = "images/updates.rs"]
mod updates;
