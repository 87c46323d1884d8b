//! A throwaway S3-compatible server for tests: `moto_server` (PyPI `moto[server]`, installed by
//! `.ci/run`) on a free loopback port, in memory, killed on drop. `$TICKREC_MOTO_SERVER` may name
//! the binary. Also: the independent Parquet reader check (`python3` with `pyarrow`).

#![allow(missing_docs)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Test credentials (moto accepts any).
pub const ACCESS_KEY: &str = "tickrec-test-access";
pub const SECRET_KEY: &str = "tickrec-test-secret-do-not-log";

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|f| f.is_file())
    })
}

/// `moto_server`, if installed.
pub fn find_moto() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TICKREC_MOTO_SERVER") {
        return Some(PathBuf::from(p));
    }
    on_path("moto_server")
}

/// Skips (returns `None` with a message) when a test tool is missing — or panics when `CI` is
/// set, since CI must not skip.
pub fn require<T>(what: Option<T>, why: &str) -> Option<T> {
    if what.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{why} (CI is set: failing)"
        );
        eprintln!("skipping: {why}");
    }
    what
}

/// `moto_server` or a skip.
pub fn moto_or_skip() -> Option<PathBuf> {
    require(
        find_moto(),
        "moto_server not found ($TICKREC_MOTO_SERVER or PATH); install it with `pip install 'moto[server]'`",
    )
}

/// `python3` with `pyarrow`, or a skip.
pub fn pyarrow_or_skip() -> Option<PathBuf> {
    let py = on_path("python3").filter(|py| {
        Command::new(py)
            .args(["-c", "import pyarrow.parquet"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    require(
        py,
        "python3 with pyarrow not found; install it with `pip install pyarrow`",
    )
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A running `moto_server`.
pub struct MotoServer {
    bin: PathBuf,
    child: Option<Child>,
    pub port: u16,
}

impl MotoServer {
    /// Starts the server on a free loopback port and waits until it answers.
    pub fn start(bin: PathBuf) -> MotoServer {
        let mut s = MotoServer {
            bin,
            child: None,
            port: free_port(),
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let child = Command::new(&self.bin)
            .args(["-H", "127.0.0.1", "-p", &self.port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn moto_server");
        self.child = Some(child);
        let t0 = Instant::now();
        while http(self.port, "GET", "/").is_none() {
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "moto_server did not answer on port {} within 30 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates a bucket (moto takes unsigned requests).
    pub fn create_bucket(&self, bucket: &str) {
        let status = http(self.port, "PUT", &format!("/{bucket}")).expect("create bucket");
        assert!(status == 200, "create bucket: HTTP {status}");
    }

    /// Kills the server (its in-memory buckets are gone).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port (empty).
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A bodiless HTTP/1.1 request; the status code, or `None` when nothing answers.
fn http(port: u16, method: &str, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    let head = std::str::from_utf8(&buf[..n]).ok()?;
    head.split_whitespace().nth(1)?.parse().ok()
}
