//! `tickrec archive [--once] [--dry-run]` and the archive task inside `tickrec record`: Parquet
//! files of completed intervals → upload → verify → retention (`[archive]`, `[retention]`).

use crate::config::Config;

/// `tickrec archive` arguments.
#[derive(Debug, clap::Args)]
pub struct ArchiveArgs {
    /// Run one archive + retention cycle, then exit (default: repeat every
    /// `archive.check_every_s` until SIGINT/SIGTERM).
    #[arg(long)]
    pub once: bool,
    /// Show what would be archived and pruned; write, upload and delete nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[cfg(not(feature = "parquet"))]
mod imp {
    use super::*;

    pub fn run(_cfg: &Config, _args: &ArchiveArgs) -> anyhow::Result<()> {
        anyhow::bail!("this build has no archive support: rebuild with `cargo build --release --features parquet`")
    }

    /// The archive task of `record` (none without the feature; config validation refuses
    /// `[archive]` in such builds).
    pub struct ArchiveTask;

    impl ArchiveTask {
        pub fn join(self) {}
    }

    pub fn spawn_in_recorder(
        _cfg: &Config,
        _stop: tokio::sync::watch::Receiver<bool>,
    ) -> anyhow::Result<Option<ArchiveTask>> {
        Ok(None)
    }
}

#[cfg(feature = "parquet")]
mod imp {
    use super::*;

    use std::time::Duration;

    use anyhow::Context;
    use tickrec_store::parquet::{prune, Archiver, Destination, RetentionConfig};
    use tokio::sync::watch;

    /// Interval length used by retention when no archive is configured.
    const RETENTION_GRAIN_S: u64 = 3600;

    struct Cycle {
        archiver: Option<Archiver>,
        retention: RetentionConfig,
        sqlite: tickrec_store::SqliteConfig,
    }

    impl Cycle {
        fn open(cfg: &Config) -> anyhow::Result<Cycle> {
            let archiver = match &cfg.archive {
                Some(a) => {
                    let dest = Destination::from_config(a).context("archive destination")?;
                    tracing::info!(
                        destination = dest.describe(),
                        interval_s = a.interval_s,
                        "archive configured"
                    );
                    Some(
                        Archiver::open(&cfg.sqlite, a.clone(), dest).with_context(|| {
                            format!("opening {} for archiving", cfg.sqlite.path.display())
                        })?,
                    )
                }
                None => None,
            };
            Ok(Cycle {
                archiver,
                retention: cfg.retention.clone().unwrap_or_default(),
                sqlite: cfg.sqlite.clone(),
            })
        }

        /// One archive run, then retention (only over archived intervals when archiving).
        async fn run(&mut self, dry_run: bool, print: bool) -> anyhow::Result<()> {
            let now = tickrec_model::now_us();
            let archived = if let Some(a) = self.archiver.as_mut() {
                let r = a.run_once(now, dry_run).await?;
                if print {
                    if dry_run {
                        for (table, start, rows) in &r.planned {
                            println!(
                                "would archive {table} {} ({rows} rows)",
                                tickrec_model::time::format_rfc3339_us(*start)
                            );
                        }
                    } else {
                        println!(
                            "archived {} intervals: {} files, {} rows, {} bytes ({} already archived) to {}",
                            r.intervals,
                            r.files,
                            r.rows,
                            r.bytes,
                            r.up_to_date,
                            a.destination().describe()
                        );
                    }
                }
                true
            } else {
                false
            };
            if !self.retention.is_active() {
                return Ok(());
            }
            let interval_s = self
                .archiver
                .as_ref()
                .map_or(RETENTION_GRAIN_S, |a| a.config().interval_s);
            let report = match self.archiver.as_mut() {
                Some(a) => prune(
                    a.connection_mut(),
                    &self.retention,
                    archived,
                    interval_s,
                    now,
                    dry_run,
                )?,
                None => {
                    let mut conn =
                        tickrec_store::SqliteWriter::open(&self.sqlite)?.into_connection();
                    prune(&mut conn, &self.retention, false, interval_s, now, dry_run)?
                }
            };
            if print {
                let verb = if dry_run { "would prune" } else { "pruned" };
                for p in &report.pruned {
                    println!(
                        "{verb} {} {} ({} rows, {}{})",
                        p.table,
                        tickrec_model::time::format_rfc3339_us(p.start_us),
                        p.rows,
                        p.reason.as_str(),
                        if p.archived { ", archived" } else { "" }
                    );
                }
                println!(
                    "store: {} bytes used before, {} after{}",
                    report.used_bytes_before,
                    report.used_bytes_after,
                    if dry_run { " (estimated)" } else { "" }
                );
            }
            Ok(())
        }
    }

    pub fn run(cfg: &Config, args: &ArchiveArgs) -> anyhow::Result<()> {
        if cfg.archive.is_none() && !cfg.retention.as_ref().is_some_and(|r| r.is_active()) {
            anyhow::bail!(
                "nothing to do: configure [archive] and/or [retention] (max_age_hours, max_bytes)"
            );
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let mut cycle = Cycle::open(cfg)?;
        let every = Duration::from_secs(cfg.archive.as_ref().map_or(300, |a| a.check_every_s));
        rt.block_on(async {
            let stop = crate::app::shutdown_signal();
            tokio::pin!(stop);
            loop {
                cycle.run(args.dry_run, true).await?;
                if args.once || args.dry_run {
                    return Ok(());
                }
                tokio::select! {
                    _ = &mut stop => return Ok(()),
                    _ = tokio::time::sleep(every) => {}
                }
            }
        })
    }

    /// The archive task running beside the recorder.
    pub struct ArchiveTask(std::thread::JoinHandle<()>);

    impl ArchiveTask {
        /// Waits for the task to finish its current cycle and stop.
        pub fn join(self) {
            if self.0.join().is_err() {
                tracing::error!("archive task panicked");
            }
        }
    }

    /// Starts the archive/retention cycle on its own thread (SQLite reads and Parquet encoding
    /// never run on the recorder's runtime) when `[archive]` or `[retention]` is configured.
    /// Failures are logged and retried next cycle; the recorder keeps recording.
    pub fn spawn_in_recorder(
        cfg: &Config,
        mut stop: watch::Receiver<bool>,
    ) -> anyhow::Result<Option<ArchiveTask>> {
        if cfg.archive.is_none() && !cfg.retention.as_ref().is_some_and(|r| r.is_active()) {
            return Ok(None);
        }
        let mut cycle = Cycle::open(cfg)?;
        let every = Duration::from_secs(cfg.archive.as_ref().map_or(300, |a| a.check_every_s));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let h = std::thread::Builder::new()
            .name("archive".into())
            .spawn(move || {
                rt.block_on(async move {
                    loop {
                        if let Err(e) = cycle.run(false, false).await {
                            tracing::error!(
                                error = format!("{e:#}"),
                                "archive cycle failed; retrying next cycle"
                            );
                        }
                        tokio::select! {
                            _ = stop.wait_for(|s| *s) => return,
                            _ = tokio::time::sleep(every) => {}
                        }
                    }
                })
            })?;
        Ok(Some(ArchiveTask(h)))
    }
}

pub use imp::{run, spawn_in_recorder, ArchiveTask};
