//! Windows: UAPI is served on a Unix socket, which this port does not have yet (wireguard-go uses a named
//! pipe there). The stand-in has the server's interface and refuses to start, so the binding builds.

use super::UapiDevice;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct Server {
    path: PathBuf,
}

impl Server {
    pub fn start(_path: impl AsRef<Path>, _device: Arc<dyn UapiDevice>) -> Result<Server> {
        Err(Error::unsupported(
            "the UAPI socket is served on Linux and macOS only",
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn run_on_thread<R: Send + 'static>(
        &self,
        _f: impl FnOnce() -> R + Send + 'static,
    ) -> Option<R> {
        None
    }

    pub fn close(&mut self) -> Result<()> {
        Ok(())
    }
}
