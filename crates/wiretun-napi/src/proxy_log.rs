//! `wiretun proxy`'s per-connection log lines: the listeners say with the `log` crate why a client failed (a
//! target name that did not resolve, a refused dial, a bad handshake); this writes those from
//! wiretun-proxy at info and above to stderr, in the CLI's `wiretun proxy: ` form. Everything else the
//! addon might log stays off. `quiet` (wireproxy's `-s`) silences them.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

struct ProxyLog {
    quiet: AtomicBool,
}

static LOGGER: ProxyLog = ProxyLog {
    quiet: AtomicBool::new(false),
};

impl log::Log for ProxyLog {
    fn enabled(&self, meta: &log::Metadata) -> bool {
        meta.level() <= log::Level::Info
            && meta.target().starts_with("wiretun_proxy")
            && !self.quiet.load(Ordering::Relaxed)
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            // One write per line, so lines from several threads do not interleave.
            let line = format!("wiretun proxy: {}\n", record.args());
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        }
    }

    fn flush(&self) {}
}

/// Installs the logger (once per process; a logger installed by someone else is left alone) and sets quiet.
pub fn install(quiet: bool) {
    LOGGER.quiet.store(quiet, Ordering::Relaxed);
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
}
