//! The UAPI socket: one thread ("wt-uapi") polls the listener and every connection, so it is the only thread
//! that ever configures the device through UAPI (the one `wiretund --user` leaves CAP_NET_ADMIN to, for
//! SO_MARK) and no thread is started per client. Several requests per connection, each answered with
//! `errno=N`, in order: a connection whose reply is still being written is not read from meanwhile.

use super::conn::Conn;
use super::UapiDevice;
use crate::error::{Error, Result};
use crate::wake::Waker;
use parking_lot::Mutex;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

type Task = Box<dyn FnOnce() + Send>;

struct Control {
    waker: Waker,
    stop: AtomicBool,
    /// Work to run on the server thread; None once that thread is gone.
    tasks: Mutex<Option<Vec<Task>>>,
}

/// A served UAPI socket. Closing (or dropping) it stops the thread and removes the socket file.
pub struct Server {
    path: PathBuf,
    /// Device and inode of the socket we bound: a file someone put there later is not ours to remove.
    file_id: Option<(u64, u64)>,
    control: Arc<Control>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Creates the socket (its directory 0755 if missing, the socket itself under umask 077 so only root
    /// connects, as wireguard-go does) and starts serving `device` on it. A stale socket (one that refuses
    /// connections) is replaced; one that answers is refused: its interface is in use.
    pub fn start(path: impl AsRef<Path>, device: Arc<dyn UapiDevice>) -> Result<Server> {
        let path = path.as_ref().to_path_buf();
        prepare_dir(&path)?;
        claim(&path)?;
        let listener = bind_private(&path)?;
        let file_id = std::fs::metadata(&path).ok().map(|m| (m.dev(), m.ino()));
        let mut server = Server {
            path,
            file_id,
            control: Arc::new(Control {
                waker: Waker::new().map_err(|e| Error::io("UAPI waker", &e))?,
                stop: AtomicBool::new(false),
                tasks: Mutex::new(Some(Vec::new())),
            }),
            thread: None,
        };
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io("UAPI listener", &e))?;
        let control = server.control.clone();
        let thread = std::thread::Builder::new()
            .name("wt-uapi".into())
            .spawn(move || serve(listener, device, control))
            .map_err(|e| Error::io("spawning the UAPI thread", &e))?;
        server.thread = Some(thread);
        Ok(server)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the server thread and returns its result; None when that thread is gone. For work that
    /// must happen on the thread that configures the device (dropping privileges while keeping them there).
    pub fn run_on_thread<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Option<R> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.control.tasks.lock().as_mut()?.push(Box::new(move || {
            let _ = tx.send(f());
        }));
        self.control.waker.wake();
        rx.recv().ok()
    }

    /// Stops serving (open connections are closed) and removes the socket file if it is still ours. The
    /// error, if any, is about the removal (EACCES after a privilege drop); the thread is stopped regardless.
    pub fn close(&mut self) -> Result<()> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        self.control.stop.store(true, Ordering::SeqCst);
        self.control.waker.wake();
        let _ = thread.join();
        let ours = std::fs::metadata(&self.path)
            .ok()
            .is_some_and(|m| Some((m.dev(), m.ino())) == self.file_id);
        match ours.then(|| std::fs::remove_file(&self.path)) {
            Some(Err(e)) if e.kind() != io::ErrorKind::NotFound => {
                Err(Error::io(format!("removing {}", self.path.display()), &e))
            }
            _ => Ok(()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// `wg` only needs to list the directory; mkdir's mode goes through the umask, so 0755 is set explicitly.
fn prepare_dir(path: &Path) -> Result<()> {
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    if dir.exists() {
        return Ok(());
    }
    let err = |e: io::Error| Error::io(format!("creating {}", dir.display()), &e);
    std::fs::create_dir_all(dir).map_err(err)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).map_err(err)
}

/// Refuses a socket someone is serving; removes a stale one, as `wg` does on ECONNREFUSED (connecting to a
/// regular file is refused the same way, so one in the way is replaced too).
fn claim(path: &Path) -> Result<()> {
    match UnixStream::connect(path) {
        Ok(_) => {
            let iface = path.file_stem().unwrap_or_default().to_string_lossy();
            Err(Error::new(
                "EADDRINUSE",
                format!(
                    "interface {iface} is in use: {} is served by another process",
                    path.display()
                ),
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            match std::fs::remove_file(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io(
                    format!("removing the stale {}", path.display()),
                    &e,
                )),
                _ => Ok(()),
            }
        }
        Err(e) => Err(Error::io(format!("cannot use {}", path.display()), &e)),
    }
}

/// umask is per process: it is restored right after bind, as wireguard-go does it.
fn bind_private(path: &Path) -> Result<UnixListener> {
    let old = unsafe { libc::umask(0o077) };
    let bound = UnixListener::bind(path);
    unsafe { libc::umask(old) };
    bound.map_err(|e| Error::io(format!("binding {}", path.display()), &e))
}

fn pollfd(fd: i32, events: i16) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

/// Marks the task list closed when the thread ends (also by panic), so a waiting run_on_thread returns.
struct Closing(Arc<Control>);

impl Drop for Closing {
    fn drop(&mut self) {
        self.0.tasks.lock().take();
    }
}

fn serve(listener: UnixListener, device: Arc<dyn UapiDevice>, control: Arc<Control>) {
    let _closing = Closing(control.clone());
    let mut conns: Vec<Conn> = Vec::new();
    let mut fds: Vec<libc::pollfd> = Vec::new();
    loop {
        fds.clear();
        fds.push(pollfd(control.waker.fd(), libc::POLLIN));
        fds.push(pollfd(listener.as_raw_fd(), libc::POLLIN));
        fds.extend(conns.iter().map(|c| pollfd(c.fd(), c.interest())));
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if rc < 0 {
            continue; // EINTR
        }
        if fds[0].revents != 0 {
            control.waker.drain();
            if control.stop.load(Ordering::SeqCst) {
                return;
            }
            let tasks = std::mem::take(control.tasks.lock().as_mut().expect("serving"));
            tasks.into_iter().for_each(|t| t());
        }
        for (conn, fd) in conns.iter_mut().zip(&fds[2..]) {
            if fd.revents != 0 {
                conn.ready(fd.revents, &*device);
            }
        }
        conns.retain(|c| !c.is_closed());
        if fds[1].revents != 0 {
            accept(&listener, &mut conns);
        }
    }
}

fn accept(listener: &UnixListener, conns: &mut Vec<Conn>) {
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                if let Ok(conn) = Conn::new(stream) {
                    conns.push(conn);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(_) => {
                // Out of descriptors, say: the listener stays readable, so do not spin on it.
                std::thread::sleep(Duration::from_millis(20));
                return;
            }
        }
    }
}
