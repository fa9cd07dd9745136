//! Landlock restricts the thread that asks and the threads it starts afterwards, not the process. A Node
//! process has a dozen threads before any JS runs (V8's workers, libuv's pool), and the proxy's accept
//! threads start each client's thread: each thread that exists must restrict itself. Until the kernel can
//! do it for all (TSYNC, Linux 7.0), the way is the one libpsx and Go's AllThreadsSyscall take: a signal
//! to each thread, whose handler makes the two system calls with the ruleset's descriptor.

use std::collections::HashSet;
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering::SeqCst};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The ruleset the handler applies; -1 when no broadcast is under way (a late signal then does nothing).
static RULESET: AtomicI32 = AtomicI32::new(-1);
const MAX_ACKS: usize = 4096;
/// Each handled signal's thread id, negated when its system calls failed.
static ACKS: [AtomicI32; MAX_ACKS] = [const { AtomicI32::new(0) }; MAX_ACKS];
static ACKED: AtomicUsize = AtomicUsize::new(0);
/// How long a thread may take to run its handler before it counts as missed.
const ANSWER: Duration = Duration::from_secs(2);
/// How long a thread may block the signal: a thread just started blocks every signal until its start-up
/// code restores its mask, which takes microseconds; one that still blocks it after this keeps it blocked.
const BLOCKED: Duration = Duration::from_millis(100);

/// Threads restricted besides the caller, and those missed with why.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub restricted: usize,
    pub missed: Vec<(i32, &'static str)>,
}

impl Report {
    /// The reasons threads were missed, with how many of each.
    pub fn why(&self) -> String {
        let mut reasons: Vec<&str> = self.missed.iter().map(|m| m.1).collect();
        reasons.sort_unstable();
        reasons.dedup();
        let count = |r: &str| self.missed.iter().filter(|m| m.1 == r).count();
        let parts: Vec<String> = reasons
            .iter()
            .map(|r| format!("{} {r}", count(r)))
            .collect();
        parts.join(", ")
    }
}

extern "C" fn on_signal(_: libc::c_int) {
    // Only async-signal-safe work here: system calls and atomics.
    // SAFETY: errno is this thread's; it is put back for the code the signal interrupted.
    let errno = unsafe { *libc::__errno_location() };
    let fd = RULESET.load(SeqCst);
    if fd >= 0 {
        // SAFETY: plain system calls on integers; no_new_privs is per thread, and Landlock needs it
        // without CAP_SYS_ADMIN.
        let (tid, ok) = unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as i32;
            let ok = libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
                && libc::syscall(libc::SYS_landlock_restrict_self, fd, 0u32) == 0;
            (tid, ok)
        };
        let i = ACKED.fetch_add(1, SeqCst);
        if i < MAX_ACKS {
            ACKS[i].store(if ok { tid } else { -tid }, SeqCst);
        }
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// A real-time signal nobody handles, with [`on_signal`] installed on it (for good: a signal still on its
/// way after the broadcast must find a handler, not the default action that ends the process).
fn signal() -> io::Result<libc::c_int> {
    static CHOSEN: OnceLock<libc::c_int> = OnceLock::new();
    if let Some(&s) = CHOSEN.get() {
        return Ok(s);
    }
    // From the top: glibc and most libraries take the low ones.
    for sig in (libc::SIGRTMIN() + 3..=libc::SIGRTMAX()).rev() {
        // SAFETY: sigaction with a zeroed struct; the old one is only read.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut old) != 0
                || old.sa_sigaction != libc::SIG_DFL
            {
                continue;
            }
            let mut new: libc::sigaction = std::mem::zeroed();
            new.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            // SA_RESTART: interrupted system calls without a timeout resume by themselves.
            new.sa_flags = libc::SA_RESTART;
            libc::sigfillset(&mut new.sa_mask);
            if libc::sigaction(sig, &new, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        return Ok(*CHOSEN.get_or_init(|| sig));
    }
    Err(io::Error::other("no free real-time signal"))
}

fn tids() -> io::Result<Vec<i32>> {
    Ok(std::fs::read_dir("/proc/self/task")?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect())
}

/// Whether the thread blocks `sig` (then it never runs the handler).
fn blocks(tid: i32, sig: libc::c_int) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/self/task/{tid}/status")) else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigBlk:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .is_some_and(|mask| mask & (1u64 << (sig - 1)) != 0)
}

/// Has every thread of the process but the caller apply `ruleset` to itself. Threads started meanwhile by
/// threads not yet restricted are found in the next round.
pub(crate) fn restrict_others(ruleset: RawFd) -> io::Result<Report> {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let sig = signal()?;
    // SAFETY: getpid and gettid have no preconditions.
    let (pid, me) = unsafe { (libc::getpid(), libc::syscall(libc::SYS_gettid) as i32) };
    ACKED.store(0, SeqCst);
    RULESET.store(ruleset, SeqCst);
    let mut seen = HashSet::from([me]);
    let mut report = Report::default();
    let result = (|| {
        for _round in 0..32 {
            let fresh: Vec<i32> = tids()?.into_iter().filter(|t| seen.insert(*t)).collect();
            if fresh.is_empty() {
                return Ok(());
            }
            // Sent even to a thread that blocks it: one just started blocks every signal for a moment, and
            // gets it once it unblocks. One that keeps it blocked is missed.
            let waiting: Vec<i32> = fresh
                .into_iter()
                // SAFETY: a signal with a handler to a thread of this process.
                .filter(|&tid| unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, sig) } == 0)
                .collect(); // (a failure is a thread that has ended)
            collect(waiting, sig, &mut report);
        }
        Err(io::Error::other("threads kept appearing"))
    })();
    RULESET.store(-1, SeqCst);
    result.map(|()| report)
}

/// Waits for the handlers of `waiting` to report, and sorts the threads into the report.
fn collect(mut waiting: Vec<i32>, sig: libc::c_int, report: &mut Report) {
    let started = Instant::now();
    while !waiting.is_empty() {
        let acks: Vec<i32> = (0..ACKED.load(SeqCst).min(MAX_ACKS))
            .map(|i| ACKS[i].load(SeqCst))
            .collect();
        let late = started.elapsed();
        waiting.retain(|&tid| {
            if acks.contains(&tid) {
                report.restricted += 1;
            } else if acks.contains(&-tid) {
                report.missed.push((tid, "failing to apply it"));
            } else if !std::path::Path::new(&format!("/proc/self/task/{tid}")).exists() {
                // It ended before its turn: nothing to restrict.
            } else if late >= BLOCKED && blocks(tid, sig) {
                report.missed.push((tid, "blocking the signal"));
            } else if late >= ANSWER {
                report.missed.push((tid, "not answering"));
            } else {
                return true;
            }
            false
        });
        std::thread::sleep(Duration::from_millis(1));
    }
}
