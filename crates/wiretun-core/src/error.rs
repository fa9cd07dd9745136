//! Errors carry an errno-style code so every caller (napi binding, UAPI, CLI) can map them the same way.

use std::fmt;
use std::io;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// errno name, e.g. "EADDRINUSE", "EPERM", "EINVAL".
    pub code: &'static str,
    pub message: String,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Error::new("EINVAL", message)
    }

    /// Something this platform cannot do (yet); callers see EOPNOTSUPP as for any other errno.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Error::new("EOPNOTSUPP", message)
    }

    /// Wraps an I/O error with what we were doing, keeping the errno name.
    pub fn io(context: impl fmt::Display, err: &io::Error) -> Self {
        Error::new(errno_name(err), format!("{context}: {err}"))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for Error {}

/// The errno name for an I/O error, so every layer reports the same code for the same failure.
pub fn errno_name(err: &io::Error) -> &'static str {
    match err.raw_os_error() {
        Some(libc::EPERM) => "EPERM",
        Some(libc::EACCES) => "EACCES",
        Some(libc::ENOENT) => "ENOENT",
        Some(libc::EBUSY) => "EBUSY",
        Some(libc::EEXIST) => "EEXIST",
        Some(libc::EINVAL) => "EINVAL",
        Some(libc::EADDRINUSE) => "EADDRINUSE",
        Some(libc::EADDRNOTAVAIL) => "EADDRNOTAVAIL",
        Some(libc::ENODEV) => "ENODEV",
        Some(libc::ENOMEM) => "ENOMEM",
        Some(libc::EBADF) => "EBADF",
        #[cfg(target_os = "linux")]
        Some(libc::EBADFD) => "EBADFD",
        Some(libc::EMSGSIZE) => "EMSGSIZE",
        Some(libc::ENAMETOOLONG) => "ENAMETOOLONG",
        Some(libc::ENOBUFS) => "ENOBUFS",
        Some(libc::EAGAIN) => "EAGAIN",
        Some(libc::EOPNOTSUPP) => "EOPNOTSUPP",
        Some(_) => "EIO",
        // tun-rs reports some argument problems (a name too long) without an errno.
        None if err.kind() == io::ErrorKind::InvalidInput => "EINVAL",
        // What this platform cannot do (fwmark off Linux, the data plane on Windows).
        None if err.kind() == io::ErrorKind::Unsupported => "EOPNOTSUPP",
        None => "EIO",
    }
}
