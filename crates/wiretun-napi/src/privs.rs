//! Dropping root once the TUN and the UAPI socket exist (`wiretund --user NAME`).
//!
//! Linux keeps credentials per thread. set*id() through libc is the exception: glibc and musl replay it on
//! every thread, so all of them become NAME. A thread that changes its uid from 0 loses every capability
//! unless it set "keep caps" first, which is itself a per-thread flag. So only the calling thread sets it and
//! keeps CAP_NET_ADMIN: the UAPI thread (wt-uapi, see BindingDevice::drop_privileges), since after set-up the
//! only privileged call left is SO_MARK (also when a listen-port change binds marked sockets) and every
//! configuration change arrives through UAPI. The JS thread and the data-plane threads (send, receive,
//! timers) only read and write descriptors they already hold and end up with nothing.
//!
//! The bounding set and no_new_privs are per thread and inherited at thread creation, so they are set on
//! the calling thread before the device starts its threads ([`restrict_new_threads`]): those threads then
//! can never regain anything through execve either. Threads Node started before any of our code ran keep
//! their bounding set but hold no capability and run as NAME. A thread the UAPI thread started would inherit
//! CAP_NET_ADMIN; it starts none (one thread polls every connection).
//! After the switch every thread is checked in /proc/self/task; anything unexpected fails the drop instead of
//! running half-privileged.
//!
//! Ports below 1024 need CAP_NET_BIND_SERVICE, which is not kept on purpose: after the drop a listen-port
//! change to such a port fails with EACCES (unless net.ipv4.ip_unprivileged_port_start allows it).

// Under `cargo test` napi-derive registers nothing, so items only its exports use look dead.
#![cfg_attr(test, allow(dead_code))]

use napi::bindgen_prelude::*;
use napi_derive::napi;

/// A user's ids from the passwd database (files, LDAP... whatever NSS is configured with).
#[napi(object, js_name = "NativeUserIds")]
pub struct UserIds {
    pub uid: u32,
    pub gid: u32,
}

/// What the drop left, as checked in /proc/self/task afterwards.
#[napi(object, js_name = "NativeDropReport")]
pub struct DropReport {
    /// Threads checked (every thread of the process).
    pub threads: u32,
    /// The thread that kept CAP_NET_ADMIN (the UAPI thread).
    pub kept_by: u32,
}

fn coded(code: &str, msg: impl std::fmt::Display) -> napi::Error {
    napi::Error::from_reason(format!("{code}: {msg}"))
}

/// Looks `name` up without changing anything; ENOENT for an unknown user.
#[napi]
pub fn lookup_user(name: String) -> Result<UserIds> {
    imp::lookup_user(&name)
}

/// Sets no_new_privs and reduces the bounding set to CAP_NET_ADMIN on the calling thread, so threads it
/// starts afterwards inherit both. Needs root (CAP_SETPCAP). The caller's own capabilities are untouched.
#[napi]
pub fn restrict_new_threads() -> Result<()> {
    imp::restrict_new_threads()
}

/// Switches every thread to `uid`/`gid` with no supplementary groups; the calling thread keeps only
/// CAP_NET_ADMIN (permitted and effective). Irreversible. Fails with EPERM when not root, and when the check
/// afterwards finds a thread with more than that.
pub(crate) fn drop_privileges(uid: u32, gid: u32) -> Result<DropReport> {
    if uid == 0 {
        return Err(coded("EINVAL", "refusing to drop privileges to uid 0"));
    }
    imp::drop_privileges(uid, gid)
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use super::*;

    fn unsupported() -> napi::Error {
        coded("ENOSYS", "dropping privileges is only implemented on Linux")
    }

    pub fn lookup_user(_name: &str) -> Result<UserIds> {
        Err(unsupported())
    }

    pub fn restrict_new_threads() -> Result<()> {
        Err(unsupported())
    }

    pub fn drop_privileges(_uid: u32, _gid: u32) -> Result<DropReport> {
        Err(unsupported())
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use super::*;
    use caps::{CapSet, Capability, CapsHashSet};
    use std::ffi::CString;
    use std::io;

    const KEPT: Capability = Capability::CAP_NET_ADMIN;

    fn os_err(context: &str, err: io::Error) -> napi::Error {
        coded(wiretun_core::errno_name(&err), format!("{context}: {err}"))
    }

    fn caps_err(context: &str, err: caps::errors::CapsError) -> napi::Error {
        coded("EPERM", format!("{context}: {err}"))
    }

    fn check(rc: libc::c_int, context: &str) -> Result<()> {
        if rc == 0 {
            Ok(())
        } else {
            Err(os_err(context, io::Error::last_os_error()))
        }
    }

    fn require_root() -> Result<()> {
        if unsafe { libc::geteuid() } != 0 {
            return Err(coded(
                "EPERM",
                "dropping privileges to another user needs root",
            ));
        }
        Ok(())
    }

    pub fn lookup_user(name: &str) -> Result<UserIds> {
        let cname =
            CString::new(name).map_err(|_| coded("EINVAL", format!("bad user name {name:?}")))?;
        let mut buf = vec![0u8; 4096];
        loop {
            let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
            let mut found: *mut libc::passwd = std::ptr::null_mut();
            let rc = unsafe {
                libc::getpwnam_r(
                    cname.as_ptr(),
                    &mut pw,
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    &mut found,
                )
            };
            if rc == libc::ERANGE && buf.len() < 1 << 20 {
                buf.resize(buf.len() * 4, 0);
                continue;
            }
            if rc != 0 {
                return Err(os_err(
                    &format!("looking up user {name:?}"),
                    io::Error::from_raw_os_error(rc),
                ));
            }
            if found.is_null() {
                return Err(coded("ENOENT", format!("unknown user {name:?}")));
            }
            return Ok(UserIds {
                uid: pw.pw_uid,
                gid: pw.pw_gid,
            });
        }
    }

    pub fn restrict_new_threads() -> Result<()> {
        require_root()?;
        check(
            unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) },
            "setting no_new_privs",
        )?;
        // By number up to the kernel's last capability, so one newer than the caps crate knows goes too.
        for cap in 0..64u32 {
            if cap == u32::from(KEPT.index()) {
                continue;
            }
            if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) } != 0 {
                let err = io::Error::last_os_error();
                if err.raw_os_error() == Some(libc::EINVAL) {
                    break; // past the last capability this kernel has
                }
                return Err(os_err("reducing the bounding set", err));
            }
        }
        Ok(())
    }

    pub fn drop_privileges(uid: u32, gid: u32) -> Result<DropReport> {
        restrict_new_threads()?;
        switch_ids(uid, gid)?;
        keep_only_net_admin()?;
        let report = verify::all_threads(uid, gid, KEPT.bitmask())
            .map_err(|why| coded("EPERM", format!("privilege drop incomplete: {why}")))?;
        Ok(report)
    }

    /// Groups first, then gid, then uid: each step needs the privileges the next one takes away.
    fn switch_ids(uid: u32, gid: u32) -> Result<()> {
        caps::securebits::set_keepcaps(true).map_err(|e| caps_err("keeping capabilities", e))?;
        check(
            unsafe { libc::setgroups(0, std::ptr::null()) },
            "clearing supplementary groups",
        )?;
        check(unsafe { libc::setresgid(gid, gid, gid) }, "setting the gid")?;
        check(unsafe { libc::setresuid(uid, uid, uid) }, "setting the uid")?;
        caps::securebits::set_keepcaps(false).map_err(|e| caps_err("clearing keep-caps", e))
    }

    fn keep_only_net_admin() -> Result<()> {
        let kept: CapsHashSet = [KEPT].into_iter().collect();
        caps::clear(None, CapSet::Inheritable).map_err(|e| caps_err("inheritable set", e))?;
        caps::set(None, CapSet::Permitted, &kept).map_err(|e| caps_err("permitted set", e))?;
        caps::set(None, CapSet::Effective, &kept).map_err(|e| caps_err("effective set", e))?;
        caps::clear(None, CapSet::Ambient).map_err(|e| caps_err("ambient set", e))
    }

    mod verify {
        use super::DropReport;
        use std::collections::HashMap;
        use std::fs;

        fn parse(status: &str) -> HashMap<&str, &str> {
            status
                .lines()
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k, v.trim()))
                .collect()
        }

        fn hex(fields: &HashMap<&str, &str>, key: &str) -> Result<u64, String> {
            let v = fields.get(key).ok_or_else(|| format!("no {key} line"))?;
            u64::from_str_radix(v, 16).map_err(|_| format!("bad {key} {v:?}"))
        }

        fn ids_are(fields: &HashMap<&str, &str>, key: &str, want: u32) -> bool {
            fields.get(key).is_some_and(|v| {
                let ids: Vec<&str> = v.split_whitespace().collect();
                ids.len() == 4 && ids.iter().all(|i| i.parse() == Ok(want))
            })
        }

        fn check_thread(
            status: &str,
            me: bool,
            uid: u32,
            gid: u32,
            kept: u64,
        ) -> Result<(), String> {
            let f = parse(status);
            if !ids_are(&f, "Uid", uid) || !ids_are(&f, "Gid", gid) {
                return Err("uid/gid not switched".into());
            }
            if f.get("Groups").is_some_and(|g| !g.is_empty()) {
                return Err("supplementary groups remain".into());
            }
            let want = if me { kept } else { 0 };
            for key in ["CapPrm", "CapEff"] {
                if hex(&f, key)? != want {
                    return Err(format!("{key} is {:#x}, expected {want:#x}", hex(&f, key)?));
                }
            }
            for key in ["CapInh", "CapAmb"] {
                if hex(&f, key)? != 0 {
                    return Err(format!("{key} is not empty"));
                }
            }
            if me && (hex(&f, "CapBnd")? != kept || f.get("NoNewPrivs") != Some(&"1")) {
                return Err("bounding set or no_new_privs not restricted".into());
            }
            Ok(())
        }

        pub fn all_threads(uid: u32, gid: u32, kept: u64) -> Result<DropReport, String> {
            let me = unsafe { libc::syscall(libc::SYS_gettid) } as u32;
            let mut threads = 0;
            let tasks =
                fs::read_dir("/proc/self/task").map_err(|e| format!("/proc/self/task: {e}"))?;
            for entry in tasks.flatten() {
                let Ok(tid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                    continue;
                };
                // A thread that exited meanwhile has nothing left to check.
                let Ok(status) = fs::read_to_string(entry.path().join("status")) else {
                    continue;
                };
                check_thread(&status, tid == me, uid, gid, kept)
                    .map_err(|why| format!("thread {tid}: {why}"))?;
                threads += 1;
            }
            Ok(DropReport {
                threads,
                kept_by: me,
            })
        }

        #[cfg(test)]
        mod tests {
            use super::check_thread;

            const DROPPED: &str = "Name:\twt-send\nUid:\t65534\t65534\t65534\t65534\n\
                Gid:\t65534\t65534\t65534\t65534\nGroups:\t\nCapInh:\t0000000000000000\n\
                CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t000001ffffffffff\n\
                CapAmb:\t0000000000000000\nNoNewPrivs:\t0\n";

            #[test]
            fn other_threads_must_hold_nothing() {
                assert!(check_thread(DROPPED, false, 65534, 65534, 0x1000).is_ok());
                let with_cap =
                    DROPPED.replace("CapEff:\t0000000000000000", "CapEff:\t0000000000001000");
                assert!(check_thread(&with_cap, false, 65534, 65534, 0x1000).is_err());
                let root_saved = DROPPED.replace(
                    "Uid:\t65534\t65534\t65534\t65534",
                    "Uid:\t65534\t65534\t0\t65534",
                );
                assert!(check_thread(&root_saved, false, 65534, 65534, 0x1000).is_err());
                let grouped = DROPPED.replace("Groups:\t", "Groups:\t0");
                assert!(check_thread(&grouped, false, 65534, 65534, 0x1000).is_err());
            }

            #[test]
            fn the_caller_keeps_exactly_net_admin_with_a_reduced_bounding_set() {
                let me = DROPPED
                    .replace("CapPrm:\t0000000000000000", "CapPrm:\t0000000000001000")
                    .replace("CapEff:\t0000000000000000", "CapEff:\t0000000000001000");
                assert!(check_thread(&me, true, 65534, 65534, 0x1000).is_err()); // full bounding set
                let restricted = me
                    .replace("CapBnd:\t000001ffffffffff", "CapBnd:\t0000000000001000")
                    .replace("NoNewPrivs:\t0", "NoNewPrivs:\t1");
                assert!(check_thread(&restricted, true, 65534, 65534, 0x1000).is_ok());
                assert!(check_thread(&restricted, false, 65534, 65534, 0x1000).is_err());
            }
        }
    }
}
