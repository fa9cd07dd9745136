//! The Landlock sandbox on this test process (its own process: cargo runs each tests/ file as one, and the
//! restriction cannot be undone). Threads that existed before, threads they start afterwards, a thread
//! blocked in a socket read and the calling thread all lose every file but the allowed ones; the socket
//! keeps working. A thread that blocks every signal is left out and reported, unless the kernel restricts
//! all threads itself.
#![cfg(target_os = "linux")]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use wiretun_proxy::sandbox::{restrict, Allow, Outcome};

/// A thread that opens the paths it is sent and answers with the error kind, if any.
fn opener(
    block_signals: bool,
) -> (
    mpsc::Sender<PathBuf>,
    mpsc::Receiver<Option<std::io::ErrorKind>>,
) {
    let (ask, asked) = mpsc::channel::<PathBuf>();
    let (answer, answers) = mpsc::channel();
    std::thread::spawn(move || {
        if block_signals {
            // SAFETY: blocks every signal in this thread only.
            unsafe {
                let mut all: libc::sigset_t = std::mem::zeroed();
                libc::sigfillset(&mut all);
                libc::pthread_sigmask(libc::SIG_SETMASK, &all, std::ptr::null_mut());
            }
        }
        answer.send(None).unwrap(); // running, its mask set
        for path in asked {
            let r = std::fs::read(&path).err().map(|e| e.kind());
            answer.send(r).unwrap();
        }
    });
    assert_eq!(answers.recv().unwrap(), None);
    (ask, answers)
}

fn open_from(
    t: &(
        mpsc::Sender<PathBuf>,
        mpsc::Receiver<Option<std::io::ErrorKind>>,
    ),
    p: &std::path::Path,
) -> Option<std::io::ErrorKind> {
    t.0.send(p.to_path_buf()).unwrap();
    t.1.recv_timeout(Duration::from_secs(10)).unwrap()
}

#[test]
fn every_thread_loses_every_file_but_the_allowed_ones() {
    // Files of this crate: nothing to clean up afterwards, which the sandbox would not allow.
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let (allowed, secret) = (dir.join("Cargo.toml"), dir.join("src/lib.rs"));
    let content = std::fs::read(&allowed).unwrap();
    let before = opener(false);
    let deaf = opener(true);
    // A thread in a blocking read with a timeout: the signal interrupts it, and it carries on.
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(server.local_addr().unwrap()).unwrap();
    let (mut accepted, _) = server.accept().unwrap();
    let reader = std::thread::spawn(move || {
        accepted
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut buf = [0u8; 5];
        loop {
            match accepted.read_exact(&mut buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                r => return r.map(|()| buf),
            }
        }
    });
    // Threads still starting up when the sandbox comes (they block every signal for that moment).
    let go = std::sync::Arc::new(std::sync::Barrier::new(17));
    let starting: Vec<_> = (0..16)
        .map(|_| {
            let (go, secret) = (go.clone(), secret.clone());
            std::thread::spawn(move || {
                go.wait();
                std::fs::read(&secret).err().map(|e| e.kind())
            })
        })
        .collect();
    let allow = Allow {
        read_files: vec![allowed.clone(), dir.join("missing")],
        ..Allow::default()
    };
    let outcome = restrict(&allow).unwrap();
    if outcome == Outcome::NoKernelSupport {
        eprintln!("SKIPPED: this kernel has no Landlock");
        return;
    }
    let denied = Some(std::io::ErrorKind::PermissionDenied);
    assert_eq!(std::fs::read(&allowed).unwrap(), content);
    assert_eq!(
        std::fs::read(&secret).err().map(|e| e.kind()),
        denied,
        "the caller"
    );
    assert_eq!(open_from(&before, &allowed), None);
    assert_eq!(
        open_from(&before, &secret),
        denied,
        "a thread started before"
    );
    go.wait();
    for t in starting {
        assert_eq!(t.join().unwrap(), denied, "a thread starting up");
    }
    let after = opener(false);
    assert_eq!(open_from(&after, &secret), denied, "a thread started after");
    let new = std::env::temp_dir().join(format!("wiretun-sandbox-{}", std::process::id()));
    assert_eq!(
        std::fs::write(&new, "x").err().map(|e| e.kind()),
        denied,
        "creating a file"
    );
    client.write_all(b"hello").unwrap();
    assert_eq!(&reader.join().unwrap().unwrap(), b"hello");
    match outcome {
        // The kernel restricted every thread itself (TSYNC).
        Outcome::Full => assert_eq!(open_from(&deaf, &secret), denied),
        Outcome::Partial(why) => {
            assert!(why.contains("1 blocking the signal"), "{why}");
            assert_eq!(open_from(&deaf, &secret), None, "the reported gap is real");
        }
        other => panic!("{other:?}"),
    }
}
