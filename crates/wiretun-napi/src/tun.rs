//! TUN/TAP toolkit for learning and debugging: JS sees packets one by one. Not the WireGuard data plane, which
//! never hands packets to JS. Errors cross as `CODE: message`, like the rest of the binding. Linux only: it
//! relies on /dev/net/tun ioctls and /sys/class/net.

// Under `cargo test` napi-derive registers nothing, so items only its exports use look dead.
#![cfg_attr(test, allow(dead_code))]
#![cfg(target_os = "linux")]

use napi::bindgen_prelude::*;
use napi::{Env, Task};
use napi_derive::napi;
use parking_lot::Mutex;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tun_rs::{DeviceBuilder, InterruptEvent, Layer, SyncDevice};

/// Room for the largest frame the kernel can hand us: a 64 KiB packet plus the Ethernet header (TAP) and the
/// 4-byte packet-information prefix.
const READ_BUFFER: usize = 65536 + 14 + 4;

const SYSFS_NET: &str = "/sys/class/net";

fn io_err(context: impl std::fmt::Display, err: &io::Error) -> napi::Error {
    napi::Error::from_reason(format!(
        "{}: {context}: {err}",
        wiretun_core::errno_name(err)
    ))
}

fn closed_err(name: &str) -> napi::Error {
    napi::Error::from_reason(format!("EBADF: TUN device {name} is closed"))
}

#[napi(object, js_name = "NativeTunOptions")]
pub struct JsTunOptions {
    /// Interface name; the kernel picks tunN/tapN when absent. An existing persistent device is attached.
    pub name: Option<String>,
    /// Layer 2 (Ethernet frames) instead of layer 3 (IP packets).
    pub tap: Option<bool>,
    pub mtu: Option<u32>,
    /// Keep the interface after the last descriptor closes (TUNSETPERSIST), like `ip tuntap add`.
    pub persist: Option<bool>,
    /// Uid allowed to attach without CAP_NET_ADMIN (TUNSETOWNER).
    pub owner: Option<u32>,
    /// Gid allowed to attach without CAP_NET_ADMIN (TUNSETGROUP).
    pub group: Option<u32>,
    /// Keep the kernel's 4-byte flags/protocol prefix on every packet (no IFF_NO_PI).
    pub packet_info: Option<bool>,
}

#[napi(object, js_name = "NativeTunInfo")]
pub struct JsTunInfo {
    pub name: String,
    /// "tun" or "tap".
    pub mode: String,
    pub persist: bool,
    pub multi_queue: bool,
    /// Absent when any user with CAP_NET_ADMIN only may attach.
    pub owner: Option<u32>,
    pub group: Option<u32>,
}

struct Inner {
    dev: SyncDevice,
    /// Wakes reads blocked in poll when close() is called; the descriptor itself closes only after the last
    /// pending read lets go of it, so a read can never land on a reused fd number.
    wake: InterruptEvent,
    closed: AtomicBool,
}

fn to_u16(value: u32, what: &str) -> Result<u16> {
    u16::try_from(value)
        .map_err(|_| napi::Error::from_reason(format!("EINVAL: {what} {value} out of range")))
}

fn to_id(value: u32, what: &str) -> Result<libc::c_ulong> {
    // uid_t/gid_t -1 means "unset"; refuse it rather than silently clearing the owner.
    if value == u32::MAX {
        return Err(napi::Error::from_reason(format!(
            "EINVAL: {what} {value} out of range"
        )));
    }
    Ok(value as libc::c_ulong)
}

/// TUNSETOWNER/TUNSETGROUP/TUNSETPERSIST take their argument by value. (tun-rs 2.8 passes a pointer to it,
/// which sets the owner to a stack address, so these go through libc directly.)
fn tun_ioctl(fd: RawFd, request: libc::Ioctl, arg: libc::c_ulong) -> io::Result<()> {
    // SAFETY: fd is a live TUN descriptor for the duration of the call and arg is a plain integer.
    if unsafe { libc::ioctl(fd, request, arg) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn build(opts: &JsTunOptions) -> Result<SyncDevice> {
    let layer = if opts.tap.unwrap_or(false) {
        Layer::L2
    } else {
        Layer::L3
    };
    // Leave the link state alone: bringing it up needs CAP_NET_ADMIN, which the owner of a persistent device
    // usually lacks, and `ip link set up` is the user's call.
    let mut builder = DeviceBuilder::new()
        .layer(layer)
        .packet_information(opts.packet_info.unwrap_or(false))
        .inherit_enable_state();
    if let Some(name) = &opts.name {
        builder = builder.name(name.clone());
    }
    if let Some(mtu) = opts.mtu {
        builder = builder.mtu(to_u16(mtu, "MTU")?);
    }
    let what = opts.name.as_deref().unwrap_or(if opts.tap == Some(true) {
        "a TAP device"
    } else {
        "a TUN device"
    });
    builder
        .build_sync()
        .map_err(|e| io_err(format_args!("cannot open {what}"), &e))
}

/// Ownership before persistence: a failure then leaves no persistent device behind.
fn configure(dev: &SyncDevice, opts: &JsTunOptions, name: &str) -> Result<()> {
    let fd = dev.as_raw_fd();
    if let Some(uid) = opts.owner {
        tun_ioctl(fd, libc::TUNSETOWNER, to_id(uid, "owner")?)
            .map_err(|e| io_err(format_args!("set owner of {name}"), &e))?;
    }
    if let Some(gid) = opts.group {
        tun_ioctl(fd, libc::TUNSETGROUP, to_id(gid, "group")?)
            .map_err(|e| io_err(format_args!("set group of {name}"), &e))?;
    }
    if opts.persist.unwrap_or(false) {
        tun_ioctl(fd, libc::TUNSETPERSIST, 1)
            .map_err(|e| io_err(format_args!("make {name} persistent"), &e))?;
    }
    Ok(())
}

#[napi]
pub struct BindingTun {
    name: String,
    inner: Mutex<Option<Arc<Inner>>>,
}

#[napi]
impl BindingTun {
    /// Creates (or attaches to an existing persistent) TUN/TAP interface.
    #[napi(factory)]
    pub fn open(opts: JsTunOptions) -> Result<Self> {
        let dev = build(&opts)?;
        let name = dev
            .name()
            .map_err(|e| io_err("read the interface name", &e))?;
        configure(&dev, &opts, &name)?;
        let wake = InterruptEvent::new().map_err(|e| io_err("create the wake-up pipe", &e))?;
        let inner = Inner {
            dev,
            wake,
            closed: AtomicBool::new(false),
        };
        Ok(BindingTun {
            name,
            inner: Mutex::new(Some(Arc::new(inner))),
        })
    }

    #[napi(getter)]
    pub fn name(&self) -> String {
        self.name.clone()
    }

    fn inner(&self) -> Result<Arc<Inner>> {
        self.inner
            .lock()
            .clone()
            .ok_or_else(|| closed_err(&self.name))
    }

    /// Waits for the next packet on the libuv pool; rejects with `EBADF: ... closed` once close() is called.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn read(&self) -> Result<AsyncTask<ReadTask>> {
        Ok(AsyncTask::new(ReadTask {
            inner: self.inner()?,
            name: self.name.clone(),
        }))
    }

    /// Hands one packet (or frame, for TAP) to the kernel; returns the bytes written.
    #[napi]
    pub fn write(&self, packet: Buffer) -> Result<u32> {
        let inner = self.inner()?;
        let n = inner
            .dev
            .send(&packet)
            .map_err(|e| io_err(format_args!("write to {}", self.name), &e))?;
        Ok(n as u32)
    }

    /// Wakes pending reads and releases the device; a non-persistent interface disappears. Idempotent.
    #[napi]
    pub fn close(&self) -> Result<()> {
        let Some(inner) = self.inner.lock().take() else {
            return Ok(());
        };
        inner.closed.store(true, Ordering::SeqCst);
        inner
            .wake
            .trigger()
            .map_err(|e| io_err(format_args!("wake readers of {}", self.name), &e))
    }
}

pub struct ReadTask {
    inner: Arc<Inner>,
    name: String,
}

impl ReadTask {
    /// A deleted interface shows up as a bare poll error; TUNGETIFF tells it apart (EBADFD: the descriptor is
    /// no longer attached to any interface).
    fn read_error(&self, err: &io::Error) -> napi::Error {
        // SAFETY: ifreq is plain old data and TUNGETIFF only writes into it; the fd is alive while we hold inner.
        let detached = unsafe {
            let mut req: libc::ifreq = std::mem::zeroed();
            libc::ioctl(
                self.inner.dev.as_raw_fd(),
                libc::TUNGETIFF,
                &mut req as *mut libc::ifreq,
            ) < 0
                && io::Error::last_os_error().raw_os_error() == Some(libc::EBADFD)
        };
        if detached {
            return napi::Error::from_reason(format!(
                "ENODEV: interface {} was deleted while being read",
                self.name
            ));
        }
        io_err(format_args!("read from {}", self.name), err)
    }
}

impl Task for ReadTask {
    type Output = Vec<u8>;
    type JsValue = Buffer;

    fn compute(&mut self) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; READ_BUFFER];
        let result = self.inner.dev.recv_intr(&mut buf, &self.inner.wake);
        if self.inner.closed.load(Ordering::SeqCst) {
            return Err(closed_err(&self.name));
        }
        let n = result.map_err(|e| self.read_error(&e))?;
        Ok(buf[..n].to_vec())
    }

    fn resolve(&mut self, _env: Env, packet: Vec<u8>) -> Result<Buffer> {
        Ok(packet.into())
    }
}

fn read_sysfs(name: &str, file: &str) -> io::Result<String> {
    std::fs::read_to_string(format!("{SYSFS_NET}/{name}/{file}")).map(|s| s.trim().to_string())
}

/// sysfs writes -1 for "nobody in particular".
fn parse_id(text: io::Result<String>) -> Option<u32> {
    text.ok()?
        .parse::<i64>()
        .ok()
        .and_then(|v| u32::try_from(v).ok())
}

fn tun_flags(name: &str) -> io::Result<i32> {
    let text = read_sysfs(name, "tun_flags")?;
    i32::from_str_radix(text.trim_start_matches("0x"), 16).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("bad tun_flags {text:?}"),
        )
    })
}

fn tun_info(name: String) -> Option<JsTunInfo> {
    let flags = tun_flags(&name).ok()?;
    Some(JsTunInfo {
        mode: if flags & libc::IFF_TAP != 0 {
            "tap"
        } else {
            "tun"
        }
        .into(),
        persist: flags & libc::IFF_PERSIST != 0,
        multi_queue: flags & libc::IFF_MULTI_QUEUE != 0,
        owner: parse_id(read_sysfs(&name, "owner")),
        group: parse_id(read_sysfs(&name, "group")),
        name,
    })
}

/// TUN/TAP interfaces in this network namespace, sorted by name.
#[napi]
pub fn list_tuns() -> Result<Vec<JsTunInfo>> {
    let dir = std::fs::read_dir(SYSFS_NET).map_err(|e| io_err(SYSFS_NET, &e))?;
    let mut list: Vec<JsTunInfo> = dir
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter_map(tun_info)
        .collect();
    list.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(list)
}

fn ifreq_for(name: &str, flags: i32) -> Result<libc::ifreq> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
        return Err(napi::Error::from_reason(format!(
            "EINVAL: bad interface name {name:?}"
        )));
    }
    // SAFETY: ifreq is plain old data; all zeros is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(bytes) {
        *dst = *src as libc::c_char;
    }
    req.ifr_ifru.ifru_flags = flags as libc::c_short;
    Ok(req)
}

/// Attaches to the persistent device and clears TUNSETPERSIST; closing our descriptor then removes it.
#[napi]
pub fn delete_persistent_tun(name: String) -> Result<()> {
    let flags = tun_flags(&name).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => {
            napi::Error::from_reason(format!("ENODEV: no TUN/TAP interface named {name}"))
        }
        _ => io_err(format_args!("read {SYSFS_NET}/{name}/tun_flags"), &e),
    })?;
    if flags & libc::IFF_PERSIST == 0 {
        return Err(napi::Error::from_reason(format!(
            "EINVAL: {name} is not persistent; it goes away when its owner closes it"
        )));
    }
    // TUNSETIFF insists on the device's own type and queue mode.
    let wanted =
        (flags & (libc::IFF_TUN | libc::IFF_TAP | libc::IFF_MULTI_QUEUE)) | libc::IFF_NO_PI;
    let mut req = ifreq_for(&name, wanted)?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .map_err(|e| io_err("open /dev/net/tun", &e))?;
    let fd = file.as_raw_fd();
    // SAFETY: fd stays open for the call and req is the ifreq TUNSETIFF reads and fills in.
    if unsafe { libc::ioctl(fd, libc::TUNSETIFF, &mut req as *mut libc::ifreq) } < 0 {
        let e = io::Error::last_os_error();
        let hint = if e.raw_os_error() == Some(libc::EBUSY) {
            " (another process has it open)"
        } else {
            ""
        };
        return Err(io_err(format_args!("attach to {name}{hint}"), &e));
    }
    tun_ioctl(fd, libc::TUNSETPERSIST, 0)
        .map_err(|e| io_err(format_args!("clear persistence of {name}"), &e))
}
