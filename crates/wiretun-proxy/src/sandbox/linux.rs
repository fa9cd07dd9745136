//! The Landlock ruleset: every file-system right of ABI 5 handled (so denied unless a rule grants it), and
//! rules for the paths of an [`Allow`].

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use landlock::{
    Access, AccessFs, BitFlags, PathBeneath, PathFd, RestrictSelfAttr, Ruleset, RulesetAttr,
    RulesetCreated, RulesetCreatedAttr, RulesetStatus, ABI,
};

use super::{threads, Allow, Outcome};

/// The rights handled: all of ABI 5's (execute, read, write, create and remove of every kind, rename
/// across directories, truncate, device ioctls). Later ABIs add no file right this process would miss
/// (ABI 9's restriction of connecting to named Unix sockets would restrict the network), and a fixed ABI
/// keeps the sandbox the same on every kernel new enough for it.
const RIGHTS_ABI: ABI = ABI::V5;
/// The ABI whose `LANDLOCK_RESTRICT_SELF_TSYNC` restricts every thread at once (Linux 7.0).
const TSYNC_ABI: i64 = 8;

fn err(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("landlock: {e}"))
}

/// The kernel's Landlock ABI version, or 0 without Landlock.
fn kernel_abi() -> i64 {
    const LANDLOCK_CREATE_RULESET_VERSION: u32 = 1;
    // SAFETY: the version query takes no attribute pointer and has no side effect.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    v.max(0)
}

fn rule(
    ruleset: RulesetCreated,
    path: &Path,
    rights: BitFlags<AccessFs>,
) -> io::Result<RulesetCreated> {
    let Ok(fd) = PathFd::new(path) else {
        return Ok(ruleset); // not there (an optional file such as /etc/gai.conf): nothing to allow
    };
    let is_dir = std::fs::metadata(path).is_ok_and(|m| m.is_dir());
    let rights = if is_dir {
        rights
    } else {
        rights & AccessFs::from_file(RIGHTS_ABI)
    };
    ruleset.add_rule(PathBeneath::new(fd, rights)).map_err(err)
}

pub(super) fn restrict(allow: &Allow) -> io::Result<Outcome> {
    let abi = kernel_abi();
    if abi == 0 {
        return Ok(Outcome::NoKernelSupport);
    }
    let mut ruleset = Ruleset::default()
        .handle_access(AccessFs::from_all(RIGHTS_ABI))
        .and_then(|r| r.create())
        .map_err(err)?;
    let read = BitFlags::from(AccessFs::ReadFile);
    for path in &allow.read_files {
        ruleset = rule(ruleset, path, read)?;
    }
    for path in &allow.read_dirs {
        ruleset = rule(ruleset, path, read | AccessFs::ReadDir)?;
    }
    for path in &allow.write_files {
        ruleset = rule(ruleset, path, read | AccessFs::WriteFile)?;
    }
    // Landlock restricts the calling thread (and the threads it starts later). With TSYNC the kernel does
    // the others; before it, each one is asked to restrict itself, before this thread's own turn (it still
    // needs /proc/self/task to find them).
    let mut others = threads::Report::default();
    if abi >= TSYNC_ABI {
        ruleset = ruleset.all_threads(true).map_err(err)?;
    } else {
        let fd: Option<OwnedFd> = ruleset.try_clone()?.into();
        if let Some(fd) = fd {
            others = threads::restrict_others(fd.as_raw_fd())?;
        }
    }
    let status = ruleset.restrict_self().map_err(err)?;
    Ok(match status.ruleset {
        RulesetStatus::NotEnforced => Outcome::NoKernelSupport,
        _ if abi < 5 => Outcome::Partial(format!(
            "this kernel's Landlock (ABI {abi}) cannot restrict {} (Linux 6.10+ can)",
            match abi {
                1 => "renaming across directories, truncating or device ioctls",
                2 => "truncating files or device ioctls",
                _ => "device ioctls",
            }
        )),
        _ if !others.missed.is_empty() => Outcome::Partial(format!(
            "{} of {} threads left unrestricted ({}); Linux 7.0 (Landlock ABI 8) restricts them all at once",
            others.missed.len(),
            others.missed.len() + others.restricted + 1,
            others.why()
        )),
        RulesetStatus::PartiallyEnforced => Outcome::Partial("partially enforced".into()),
        RulesetStatus::FullyEnforced => Outcome::Full,
    })
}
