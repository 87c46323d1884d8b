//! A throwaway PostgreSQL server for tests, started from the system binaries (`initdb`, `pg_ctl`
//! from `$TICKREC_PG_BIN`, `/usr/lib/postgresql/<newest>/bin` or `PATH`) on a free loopback port
//! in a temporary directory — as the `postgres` user via `runuser` when running as root (initdb
//! refuses root). Compiled for this crate's tests and, with the `test-harness` feature, for other
//! crates' tests (the recorder's multi-sink end-to-end test).

#![allow(missing_docs)]

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::config::PostgresConfig;

/// Directory holding `initdb`, `pg_ctl` and `postgres`, if any.
pub fn find_bin() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("TICKREC_PG_BIN") {
        let dir = PathBuf::from(dir);
        return dir.join("initdb").exists().then_some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p).find(|d| d.join("initdb").exists() && d.join("pg_ctl").exists())
    })
}

pub fn id(args: &[&str]) -> Option<u32> {
    let out = Command::new("id").args(args).output().ok()?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A throwaway PostgreSQL server.
pub struct PgServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// Loopback port the server listens on.
    pub port: u16,
    /// Run the binaries as `postgres` (we are root).
    as_postgres: bool,
    /// Superuser password (host connections then need it), or trust.
    pub password: Option<String>,
}

impl PgServer {
    pub fn start(bin: &Path, password: Option<&str>) -> PgServer {
        let as_postgres = id(&["-u"]) == Some(0);
        let dir = tempfile::tempdir().expect("tempdir");
        if as_postgres {
            let uid = id(&["-u", "postgres"]).expect("root needs a `postgres` user to run initdb");
            let gid = id(&["-g", "postgres"]).expect("gid of postgres");
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown tempdir");
        }
        let mut srv = PgServer {
            dir,
            bin: bin.to_path_buf(),
            port: 0,
            as_postgres,
            password: password.map(str::to_string),
        };
        let data = srv.data();
        let mut args = vec![
            "-D".to_string(),
            data.display().to_string(),
            "-A".into(),
            "trust".into(),
            "-U".into(),
            "postgres".into(),
            "--no-sync".into(),
            "-E".into(),
            "UTF8".into(),
            "--locale=C".into(),
        ];
        if let Some(pw) = password {
            let pwfile = srv.dir.path().join("pwfile");
            std::fs::File::create(&pwfile)
                .and_then(|mut f| writeln!(f, "{pw}"))
                .expect("pwfile");
            if as_postgres {
                let uid = id(&["-u", "postgres"]).expect("uid");
                std::os::unix::fs::chown(&pwfile, Some(uid), None).expect("chown pwfile");
            }
            args.push(format!("--pwfile={}", pwfile.display()));
            args.push("--auth-host=scram-sha-256".into());
        }
        let out = srv.tool("initdb", &args);
        assert!(out.status.success(), "initdb failed: {}", text(&out));
        // A port taken between probing and binding makes pg_ctl fail: try a few.
        for attempt in 0.. {
            srv.port = free_port();
            let opts = format!(
                "-k {} -p {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60",
                srv.dir.path().display(),
                srv.port
            );
            let out = srv.pg_ctl(&["start", "-w", "-t", "60", "-o", &opts]);
            if out.status.success() {
                break;
            }
            assert!(
                attempt < 3,
                "pg_ctl start failed: {}\n{}",
                text(&out),
                srv.log()
            );
        }
        srv
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    pub fn tool(&self, name: &str, args: &[String]) -> Output {
        let exe = self.bin.join(name);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        cmd.args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {name}: {e}"))
    }

    pub fn pg_ctl(&self, args: &[&str]) -> Output {
        let mut all = vec![
            "-D".to_string(),
            self.data().display().to_string(),
            "-l".into(),
            self.dir.path().join("log").display().to_string(),
        ];
        all.extend(args.iter().map(|s| s.to_string()));
        self.tool("pg_ctl", &all)
    }

    /// `pg_ctl restart -m <mode>` (`fast`: sessions get 57P01; `immediate`: crash + recovery).
    pub fn restart(&self, mode: &str) {
        let out = self.pg_ctl(&["restart", "-w", "-t", "60", "-m", mode]);
        assert!(out.status.success(), "pg_ctl restart: {}", text(&out));
    }

    pub fn uri(&self, db: &str, password: Option<&str>) -> String {
        match password {
            Some(pw) => format!("postgresql://postgres:{pw}@127.0.0.1:{}/{db}", self.port),
            None => format!("postgresql://postgres@127.0.0.1:{}/{db}", self.port),
        }
    }

    pub fn config(&self, db: &str) -> PostgresConfig {
        PostgresConfig {
            uri: self.uri(db, self.password.as_deref()),
            connect_timeout_ms: 2000,
            ..PostgresConfig::default()
        }
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = self.pg_ctl(&["stop", "-m", "immediate", "-w"]);
    }
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The binaries, or `None` with a message (a panic when `CI` is set: CI must not skip).
pub fn bin_or_skip() -> Option<PathBuf> {
    let bin = find_bin();
    if bin.is_none() {
        let why = "PostgreSQL server binaries (initdb, pg_ctl) not found in $TICKREC_PG_BIN, \
                   /usr/lib/postgresql/*/bin or PATH; install them with \
                   `apt-get install -y postgresql`";
        assert!(
            std::env::var_os("CI").is_none(),
            "{why} (CI is set: failing)"
        );
        eprintln!("skipping PostgreSQL test: {why}");
    }
    bin
}
