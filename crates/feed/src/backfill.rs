//! REST backfill: drives a venue's [`BackfillCursor`] over HTTP, honouring rate limits (429/418
//! with `Retry-After`) and retrying transient failures, and reports exactly how much of the gap
//! was repaired. What cannot be repaired is reported, never papered over.

use std::time::Duration;

use tickrec_model::{now_us, Trade};
use tickrec_venues::{BackfillCursor, TradeGap};

/// Backfill limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackfillConfig {
    /// Attempts per page before giving up on the rest of the gap.
    pub max_attempts: u32,
    /// Pages per gap before giving up (bounds a runaway cursor).
    pub max_pages: u32,
    /// Timeout of one request.
    pub request_timeout: Duration,
    /// Longest wait honoured from a `Retry-After` header.
    pub max_retry_after: Duration,
}

impl Default for BackfillConfig {
    fn default() -> Self {
        BackfillConfig {
            max_attempts: 6,
            max_pages: 10_000,
            request_timeout: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(120),
        }
    }
}

/// What a backfill achieved.
#[derive(Debug, Clone, PartialEq)]
pub struct BackfillOutcome {
    /// The gap.
    pub gap: TradeGap,
    /// Trades of the gap found, in venue order.
    pub trades: Vec<Trade>,
    /// Ids still missing after the backfill.
    pub missing: u64,
    /// Pages fetched.
    pub pages: u32,
    /// Why the backfill stopped early, if it did.
    pub error: Option<String>,
}

/// A shared HTTP client (rustls with the process's ring provider; see [`crate::tls`]).
///
/// # Errors
/// When the TLS stack cannot be initialised.
pub fn http_client(cfg: &BackfillConfig) -> Result<reqwest::Client, String> {
    crate::tls::install_crypto_provider();
    reqwest::Client::builder()
        .timeout(cfg.request_timeout)
        .user_agent(concat!("tickrec/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())
}

fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    resp.headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// Fetches the trades of `gap` page by page.
pub async fn run_backfill(
    client: &reqwest::Client,
    cfg: &BackfillConfig,
    mut cursor: Box<dyn BackfillCursor>,
    gap: TradeGap,
) -> BackfillOutcome {
    let mut trades = Vec::new();
    let mut pages = 0u32;
    let mut error = None;
    'pages: while let Some(url) = cursor.next_url() {
        if pages >= cfg.max_pages {
            error = Some(format!("stopped after {pages} pages"));
            break;
        }
        pages += 1;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let backoff = Duration::from_millis(250u64 << attempt.min(8));
            let wait = match client.get(&url).send().await {
                Ok(resp) => {
                    let status = resp.status();
                    if status.is_success() {
                        match resp.text().await {
                            Ok(body) => match cursor.on_page(&body, now_us()) {
                                Ok(found) => {
                                    trades.extend(found);
                                    continue 'pages;
                                }
                                Err(inv) => {
                                    error = Some(format!("unusable page: {}", inv.detail));
                                    break 'pages;
                                }
                            },
                            Err(e) => {
                                tracing::debug!(error = %e, "backfill body read failed");
                                backoff
                            }
                        }
                    } else if status.as_u16() == 429 || status.as_u16() == 418 {
                        // Rate limited (418: banned for a while): wait as told, never hammer.
                        let w = retry_after(&resp)
                            .unwrap_or(backoff)
                            .min(cfg.max_retry_after);
                        tracing::warn!(
                            status = status.as_u16(),
                            wait_ms = w.as_millis() as u64,
                            "backfill rate-limited"
                        );
                        w
                    } else if status.is_server_error() {
                        backoff
                    } else {
                        error = Some(format!("HTTP {status} from the venue"));
                        break 'pages;
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "backfill request failed");
                    backoff
                }
            };
            if attempt >= cfg.max_attempts {
                error = Some(format!("gave up after {attempt} attempts"));
                break 'pages;
            }
            tokio::time::sleep(wait.min(Duration::from_secs(60))).await;
        }
    }
    BackfillOutcome {
        missing: cursor.missing(),
        gap,
        trades,
        pages,
        error,
    }
}
