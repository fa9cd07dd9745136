//! `--stdio HOST:PORT` / wireproxy's `[STDIOTunnel]`: the process's stdin and stdout joined to one tunnel
//! connection (an ssh ProxyCommand), copied by Rust threads, never through JS.
//!
//! Half-close both ways: the end of stdin shuts down the connection's write side (the far end sees a FIN
//! and may go on answering), and the far end's FIN ends the copy to stdout, which is when [`pump`] returns.

use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};

use wiretun_netstack::{OsStream, SpliceEnd, TcpConn};

use crate::relay::Duplex;

/// Copies `input` to `conn` and `conn` to `output` until the far end closes; returns the bytes written to
/// `output`. An error when the connection was reset or timed out, or `output` failed. `input` is read on a
/// thread of its own, which may outlive the call (a blocked read of stdin ends with the process).
pub fn pump(
    conn: TcpConn,
    input: impl Read + Send + 'static,
    output: impl Write,
) -> io::Result<u64> {
    let outcome: Arc<Mutex<Option<io::Result<()>>>> = Arc::default();
    let slot = outcome.clone();
    // The splice reports before it closes its end, so a reset is known by the time the copy sees the end.
    let pair = conn.splice_pair(move |end: SpliceEnd| {
        *slot.lock().unwrap() = Some(end.result);
    })?;
    let down = match pair {
        OsStream::Tcp(s) => join(s, input, output),
        #[cfg(unix)]
        OsStream::Unix(s) => join(s, input, output),
    }?;
    let result = outcome.lock().unwrap().take();
    match result {
        Some(Err(e)) => Err(e),
        _ => Ok(down),
    }
}

fn join<S: Duplex>(
    pair: S,
    mut input: impl Read + Send + 'static,
    mut output: impl Write,
) -> io::Result<u64> {
    let mut up = pair.dup()?;
    std::thread::Builder::new()
        .name("proxy stdin".into())
        .spawn(move || {
            if let Err(e) = io::copy(&mut input, &mut up) {
                log::info!("stdio: stdin: {e}");
            }
            up.close_write();
        })?;
    let mut down = pair;
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = match down.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        // Flushed per chunk: an interactive peer (ssh) waits for each reply.
        output.write_all(&buf[..n])?;
        output.flush()?;
        total += n as u64;
    }
}
