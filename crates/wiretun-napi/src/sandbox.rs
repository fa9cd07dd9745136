//! `wiretun proxy`'s sandbox (crates/wiretun-proxy/src/sandbox): once every listener is up, the process
//! keeps only the files it still needs. JS chooses the paths; this applies them and says what it could do.

#![cfg_attr(test, allow(dead_code))]

use napi::bindgen_prelude::*;
use napi_derive::napi;
use wiretun_proxy::sandbox::{restrict, Allow, Outcome};

#[napi(object, js_name = "NativeSandboxPaths")]
pub struct JsSandboxPaths {
    /// Files that may still be read.
    pub read_files: Vec<String>,
    /// Directories whose contents may still be read.
    pub read_dirs: Vec<String>,
    /// Files that may still be read and written (/dev/null).
    pub write_files: Vec<String>,
}

#[napi(object, js_name = "NativeSandboxOutcome")]
pub struct JsSandboxOutcome {
    /// "full", "partial", "no-kernel-support" (Linux without Landlock) or "not-this-os".
    pub status: String,
    /// With "partial": what is not restricted.
    pub detail: Option<String>,
}

/// Restricts every thread of this process, irreversibly, to `paths` (Landlock, file system only).
#[napi]
pub fn restrict_files(paths: JsSandboxPaths) -> Result<JsSandboxOutcome> {
    let allow = Allow {
        read_files: paths.read_files.into_iter().map(Into::into).collect(),
        read_dirs: paths.read_dirs.into_iter().map(Into::into).collect(),
        write_files: paths.write_files.into_iter().map(Into::into).collect(),
    };
    let outcome = restrict(&allow).map_err(|e| Error::from_reason(format!("EIO: {e}")))?;
    let (status, detail) = match outcome {
        Outcome::Full => ("full", None),
        Outcome::Partial(why) => ("partial", Some(why)),
        Outcome::NoKernelSupport => ("no-kernel-support", None),
        Outcome::NotThisOs => ("not-this-os", None),
    };
    Ok(JsSandboxOutcome {
        status: status.into(),
        detail,
    })
}
