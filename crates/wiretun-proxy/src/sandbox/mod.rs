//! `wiretun proxy`'s sandbox, as wireproxy has one: once every listener is up, the process may open only
//! the files it still needs, through Landlock (Linux 5.13+). Best effort: on a kernel without Landlock, or
//! another OS, nothing is restricted and [`restrict`] says so. Only the file system is restricted; Landlock's
//! network rules (ABI 4+) and scopes (ABI 6+) are left alone, so every socket keeps working.

use std::io;
use std::path::PathBuf;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
mod threads;

/// The paths still open to the process: files and directories (with all beneath them) to read, and files
/// that may also be written.
#[derive(Clone, Debug, Default)]
pub struct Allow {
    pub read_files: Vec<PathBuf>,
    pub read_dirs: Vec<PathBuf>,
    pub write_files: Vec<PathBuf>,
}

/// What [`restrict`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every file-system restriction, on every thread of the process.
    Full,
    /// Restricted, with a gap: what it is.
    Partial(String),
    /// This kernel has no Landlock (older than 5.13, or not enabled at boot): nothing restricted.
    NoKernelSupport,
    /// Not Linux: nothing restricted.
    NotThisOs,
}

/// Restricts the whole process (every thread, and every thread or child started later) to `allow`. Paths
/// that do not exist are left out. Irreversible.
pub fn restrict(allow: &Allow) -> io::Result<Outcome> {
    #[cfg(target_os = "linux")]
    return linux::restrict(allow);
    #[cfg(not(target_os = "linux"))]
    {
        let _ = allow;
        Ok(Outcome::NotThisOs)
    }
}
