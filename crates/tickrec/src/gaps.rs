//! `tickrec gaps`: what the stored tape is missing, per market, computed from the rows.

use anyhow::Context;
use clap::{Args, ValueEnum};
use tickrec_model::time::format_rfc3339_us;

use crate::config::Config;

/// Arguments of `tickrec gaps`.
#[derive(Args, Debug)]
pub struct GapsArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Holes listed per market at most (all are counted).
    #[arg(long, default_value_t = 20)]
    pub max_holes: usize,
}

/// Output format.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// Aligned text for people.
    Table,
    /// One JSON document.
    Json,
}

/// Prints the coverage report of the configured SQLite store.
///
/// # Errors
/// When the store cannot be opened or queried.
pub fn run(cfg: &Config, args: &GapsArgs) -> anyhow::Result<()> {
    let conn = tickrec_store::open_read_only(&cfg.sqlite.path)
        .with_context(|| format!("opening {}", cfg.sqlite.path.display()))?;
    let report = tickrec_store::coverage(&conn, args.max_holes)?;
    let quality = tickrec_store::quality_summary(&conn)?;
    let books = tickrec_store::book_coverage(&conn)?;
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "markets": report,
                "data_quality": quality,
                "books": books,
            }))?
        ),
        Format::Table => {
            println!(
                "{:<8} {:<12} {:<10} {:>10} {:>14} {:>14} {:>9}  span (UTC)",
                "venue", "symbol", "table", "stored", "first id", "last id", "missing"
            );
            for m in &report {
                println!(
                    "{:<8} {:<12} {:<10} {:>10} {:>14} {:>14} {:>9}  {} → {}",
                    m.venue,
                    m.symbol,
                    m.table,
                    m.stored,
                    m.first_id,
                    m.last_id,
                    m.missing,
                    format_rfc3339_us(m.first_ts_us),
                    format_rfc3339_us(m.last_ts_us)
                );
                for h in &m.holes {
                    println!(
                        "    missing ids {}..={} ({}) between {} and {}",
                        h.from_id,
                        h.to_id,
                        h.to_id - h.from_id + 1,
                        format_rfc3339_us(h.after_ts_us),
                        format_rfc3339_us(h.before_ts_us)
                    );
                }
            }
            if report.is_empty() {
                println!("(no trades stored yet)");
            }
            if !books.is_empty() {
                println!();
                println!(
                    "order books (verified: applied in sequence to a checksum-verified book):"
                );
                println!(
                    "{:<8} {:<12} {:>10} {:>10} {:>8} {:>10}  span (UTC)",
                    "venue", "symbol", "messages", "verified", "%", "snapshots"
                );
                for b in &books {
                    println!(
                        "{:<8} {:<12} {:>10} {:>10} {:>8.2} {:>10}  {} → {}",
                        b.venue,
                        b.symbol,
                        b.messages,
                        b.verified,
                        100.0 * b.verified as f64 / b.messages.max(1) as f64,
                        b.snapshots,
                        format_rfc3339_us(b.first_us),
                        format_rfc3339_us(b.last_us)
                    );
                }
            }
            if !quality.is_empty() {
                println!();
                println!(
                    "data-quality events recorded while recording (detected → repaired / not):"
                );
                println!(
                    "{:<8} {:<12} {:<15} {:>7} {:>10} {:>12}  window (UTC)",
                    "venue", "symbol", "kind", "events", "count", "duration s"
                );
                for q in &quality {
                    println!(
                        "{:<8} {:<12} {:<15} {:>7} {:>10} {:>12.3}  {} → {}",
                        q.venue,
                        if q.symbol.is_empty() { "*" } else { &q.symbol },
                        q.kind,
                        q.events,
                        q.count,
                        q.duration_us as f64 / 1e6,
                        format_rfc3339_us(q.first_us),
                        format_rfc3339_us(q.last_us)
                    );
                }
            }
        }
    }
    Ok(())
}
