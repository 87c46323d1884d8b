//! Upload to the archive destination (S3, S3-compatible, or a local directory) and verification
//! by read-back: size from `HEAD`, then the whole object's CRC-32C from `GET`, compared with the
//! local file. Only a verified file counts as archived; only archived rows may be pruned.
//!
//! Requests are retried with exponential back-off by `object_store` (`upload_retries`,
//! `retry_*_ms`); a failed upload leaves the interval unarchived and the rows local, and the
//! next run tries again. Credentials come from the environment and are never logged: the
//! destination is described by bucket, endpoint and prefix only.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig,
};

use super::config::ArchiveConfig;
use super::error::ArchiveError;
use super::writer::WrittenFile;

/// Seed 002's credential variables, used when the standard `AWS_ACCESS_KEY_ID` /
/// `AWS_SECRET_ACCESS_KEY` are not set.
const SEED_ACCESS_KEY: &str = "AWS_ACCESS_KEY";
const SEED_SECRET_KEY: &str = "AWS_SECRET_KEY";

/// Where archive files go.
#[derive(Clone)]
pub struct Destination {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    describe: String,
}

/// Only the description: the store's own `Debug` would show its whole configuration.
impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Destination").field(&self.describe).finish()
    }
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Destination {
    /// Builds the destination of `cfg` (no request is made yet).
    ///
    /// # Errors
    /// [`ArchiveError::Config`] for an unusable destination, [`ArchiveError::Io`] when a local
    /// directory cannot be created.
    pub fn from_config(cfg: &ArchiveConfig) -> Result<Destination, ArchiveError> {
        let d = &cfg.destination;
        let prefix = d.prefix.trim_matches('/').to_string();
        if let Some(dir) = &d.local_dir {
            std::fs::create_dir_all(dir).map_err(ArchiveError::io(dir))?;
            let store = LocalFileSystem::new_with_prefix(dir)
                .map_err(|e| ArchiveError::Config(format!("archive.destination.local_dir: {e}")))?;
            return Ok(Destination {
                store: Arc::new(store),
                describe: format!("file://{}/{prefix}", dir.display()),
                prefix,
            });
        }
        let Some(bucket) = &d.bucket else {
            return Err(ArchiveError::Config(
                "archive.destination: set bucket (S3) or local_dir".into(),
            ));
        };
        // Standard AWS_* variables (keys, session token, region, endpoint, …) first.
        let mut b = AmazonS3Builder::from_env().with_bucket_name(bucket);
        if env_nonempty("AWS_ACCESS_KEY_ID").is_none() {
            if let Some(k) = env_nonempty(SEED_ACCESS_KEY) {
                b = b.with_access_key_id(k);
            }
        }
        if env_nonempty("AWS_SECRET_ACCESS_KEY").is_none() {
            if let Some(k) = env_nonempty(SEED_SECRET_KEY) {
                b = b.with_secret_access_key(k);
            }
        }
        let region = d
            .region
            .clone()
            .or_else(|| env_nonempty("AWS_REGION"))
            .or_else(|| env_nonempty("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| "us-east-1".to_string());
        b = b.with_region(&region);
        if let Some(ep) = &d.endpoint {
            b = b
                .with_endpoint(ep)
                .with_virtual_hosted_style_request(!d.path_style.unwrap_or(true));
        } else if let Some(path_style) = d.path_style {
            b = b.with_virtual_hosted_style_request(!path_style);
        }
        let timeout = Duration::from_secs(cfg.request_timeout_s.max(1));
        b = b
            .with_allow_http(d.allow_http)
            .with_client_options(
                ClientOptions::new()
                    .with_allow_http(d.allow_http)
                    .with_connect_timeout(Duration::from_secs(10).min(timeout))
                    .with_timeout(timeout),
            )
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(cfg.retry_initial_ms),
                    max_backoff: Duration::from_millis(cfg.retry_max_ms.max(cfg.retry_initial_ms)),
                    base: 2.0,
                },
                max_retries: cfg.upload_retries,
                retry_timeout: timeout,
            });
        // The builder's error names the missing setting, never a credential value.
        let store = b
            .build()
            .map_err(|e| ArchiveError::Config(format!("archive.destination (S3): {e}")))?;
        let describe = format!(
            "s3://{bucket}/{prefix} (region {region}{})",
            d.endpoint
                .as_deref()
                .map(|e| format!(", endpoint {e}"))
                .unwrap_or_default()
        );
        Ok(Destination {
            store: Arc::new(store),
            prefix,
            describe,
        })
    }

    /// A destination over any store (tests, other backends).
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str, describe: &str) -> Destination {
        Destination {
            store,
            prefix: prefix.trim_matches('/').to_string(),
            describe: describe.to_string(),
        }
    }

    /// Bucket/directory and prefix, for logs (no credentials).
    pub fn describe(&self) -> &str {
        &self.describe
    }

    /// The underlying store.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The full object key of `relative` (prefix prepended).
    ///
    /// # Errors
    /// [`ArchiveError::Config`] for a key the store cannot represent.
    pub fn key(&self, relative: &str) -> Result<ObjectPath, ArchiveError> {
        let full = if self.prefix.is_empty() {
            relative.to_string()
        } else {
            format!("{}/{relative}", self.prefix)
        };
        ObjectPath::parse(&full)
            .map_err(|e| ArchiveError::Config(format!("object key {full}: {e}")))
    }

    /// Uploads `file` to `relative`, then verifies it by read-back (size and CRC-32C).
    ///
    /// # Errors
    /// [`ArchiveError::Upload`] after the store's retries, [`ArchiveError::Verify`] when what
    /// the store holds differs from the local file, [`ArchiveError::Io`] reading the file.
    pub async fn upload_verified(
        &self,
        file: &WrittenFile,
        relative: &str,
    ) -> Result<(), ArchiveError> {
        let key = self.key(relative)?;
        let up = |source| ArchiveError::Upload {
            key: key.to_string(),
            source,
        };
        let data = Bytes::from(std::fs::read(&file.path).map_err(ArchiveError::io(&file.path))?);
        if data.len() as u64 != file.bytes || crc32c::crc32c(&data) != file.crc32c {
            return Err(ArchiveError::Verify {
                key: key.to_string(),
                detail: "the local file changed after it was written".into(),
            });
        }
        self.store
            .put(&key, PutPayload::from_bytes(data))
            .await
            .map_err(up)?;
        let meta = self.store.head(&key).await.map_err(up)?;
        if meta.size != file.bytes {
            return Err(ArchiveError::Verify {
                key: key.to_string(),
                detail: format!("size {} in the store, {} locally", meta.size, file.bytes),
            });
        }
        let back = self
            .store
            .get(&key)
            .await
            .map_err(up)?
            .bytes()
            .await
            .map_err(up)?;
        let crc = crc32c::crc32c(&back);
        if back.len() as u64 != file.bytes || crc != file.crc32c {
            return Err(ArchiveError::Verify {
                key: key.to_string(),
                detail: format!(
                    "read back {} bytes with crc32c {crc:08x}, expected {} bytes with {:08x}",
                    back.len(),
                    file.bytes,
                    file.crc32c
                ),
            });
        }
        Ok(())
    }
}
