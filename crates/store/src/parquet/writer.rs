//! Parquet files written atomically: temp name → write → fsync → rename → fsync directory.
//!
//! A crash leaves at most a `*.tmp` file (removed by [`remove_stale_temp_files`]); a file under
//! its final name is always complete, because Parquet's footer is written last and the rename
//! happens only after the data is on disk.

use std::fs::File;
use std::io::{BufWriter, Read};
use std::path::{Path, PathBuf};

use ::parquet::arrow::ArrowWriter;
use ::parquet::basic::{Compression, ZstdLevel};
use ::parquet::file::metadata::KeyValue;
use ::parquet::file::properties::{EnabledStatistics, WriterProperties};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

use super::error::ArchiveError;

/// Suffix of files being written.
pub const TEMP_SUFFIX: &str = ".tmp";

/// Encoding settings of archive and export files.
#[derive(Debug, Clone)]
pub struct FileOptions {
    /// zstd level (1–22).
    pub zstd_level: i32,
    /// Rows per row group.
    pub row_group_rows: usize,
}

impl Default for FileOptions {
    fn default() -> Self {
        FileOptions {
            zstd_level: 3,
            row_group_rows: 131_072,
        }
    }
}

/// A file written by [`write_file`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenFile {
    /// Final path.
    pub path: PathBuf,
    /// Rows.
    pub rows: u64,
    /// Size in bytes.
    pub bytes: u64,
    /// CRC-32C of the whole file (compared with the uploaded object).
    pub crc32c: u32,
}

fn properties(opts: &FileOptions, metadata: Vec<KeyValue>) -> Result<WriterProperties, String> {
    let level = ZstdLevel::try_new(opts.zstd_level).map_err(|e| e.to_string())?;
    Ok(WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_max_row_group_row_count(Some(opts.row_group_rows))
        // Page-level min/max too, so readers can skip pages inside a row group by time.
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_key_value_metadata(Some(metadata))
        .set_created_by(format!("tickrec {}", env!("CARGO_PKG_VERSION")))
        .build())
}

/// A Parquet file being written under a temp name; [`AtomicParquet::finish`] makes it visible.
/// Dropped without `finish`, it removes its temp file.
pub struct AtomicParquet {
    path: PathBuf,
    tmp: PathBuf,
    writer: Option<ArrowWriter<BufWriter<File>>>,
    rows: u64,
}

impl AtomicParquet {
    /// Creates `path`'s temp file (and parent directory) for batches of `schema`.
    ///
    /// # Errors
    /// [`ArchiveError::Io`] / [`ArchiveError::Parquet`] / [`ArchiveError::Config`] (zstd level).
    pub fn create(
        path: &Path,
        schema: SchemaRef,
        metadata: Vec<(String, String)>,
        opts: &FileOptions,
    ) -> Result<AtomicParquet, ArchiveError> {
        let dir = parent_dir(path);
        std::fs::create_dir_all(dir).map_err(ArchiveError::io(dir))?;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(TEMP_SUFFIX);
        let tmp = PathBuf::from(tmp);
        let kv = metadata
            .into_iter()
            .map(|(k, v)| KeyValue::new(k, v))
            .collect();
        let props = properties(opts, kv).map_err(ArchiveError::Config)?;
        let file = File::create(&tmp).map_err(ArchiveError::io(&tmp))?;
        let mut me = AtomicParquet {
            path: path.to_path_buf(),
            tmp,
            writer: None,
            rows: 0,
        };
        let w = ArrowWriter::try_new(BufWriter::with_capacity(1 << 20, file), schema, Some(props))
            .map_err(|e| me.pq(e))?;
        me.writer = Some(w);
        Ok(me)
    }

    fn pq(&self, source: ::parquet::errors::ParquetError) -> ArchiveError {
        ArchiveError::Parquet {
            path: self.tmp.clone(),
            source,
        }
    }

    /// Appends a batch (rows must already be in file order).
    ///
    /// # Errors
    /// [`ArchiveError::Parquet`] (I/O errors included).
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), ArchiveError> {
        let Some(w) = self.writer.as_mut() else {
            return Ok(());
        };
        if let Err(e) = w.write(batch) {
            return Err(self.pq(e));
        }
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes the footer, fsyncs, renames to the final name and fsyncs the directory.
    ///
    /// # Errors
    /// [`ArchiveError::Io`] / [`ArchiveError::Parquet`]; the temp file is removed.
    pub fn finish(mut self) -> Result<WrittenFile, ArchiveError> {
        let Some(w) = self.writer.take() else {
            return Err(ArchiveError::Config(
                "parquet writer already finished".into(),
            ));
        };
        if let Err(e) = self.close_and_sync(w) {
            let _ = std::fs::remove_file(&self.tmp);
            return Err(e);
        }
        std::fs::rename(&self.tmp, &self.path).map_err(|e| {
            let _ = std::fs::remove_file(&self.tmp);
            ArchiveError::Io {
                path: self.path.clone(),
                source: e,
            }
        })?;
        // The rename itself is durable only once the directory is synced.
        let dir = parent_dir(&self.path);
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(ArchiveError::io(dir))?;
        let (bytes, crc32c) = checksum_file(&self.path)?;
        Ok(WrittenFile {
            path: self.path.clone(),
            rows: self.rows,
            bytes,
            crc32c,
        })
    }

    /// Writes the footer and fsyncs the temp file.
    fn close_and_sync(&self, w: ArrowWriter<BufWriter<File>>) -> Result<(), ArchiveError> {
        let buf = w.into_inner().map_err(|e| self.pq(e))?;
        let file = buf.into_inner().map_err(|e| ArchiveError::Io {
            path: self.tmp.clone(),
            source: e.into_error(),
        })?;
        file.sync_all().map_err(ArchiveError::io(&self.tmp))
    }
}

impl Drop for AtomicParquet {
    fn drop(&mut self) {
        if self.writer.is_some() {
            // Not finished: never leave something that could be mistaken for a file.
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Writes `batches` (same schema, already sorted) to `path` atomically, with `metadata` as the
/// file's key/value metadata. Creates the parent directory.
///
/// # Errors
/// [`ArchiveError::Io`] / [`ArchiveError::Parquet`]; the temp file is removed on error.
pub fn write_file(
    path: &Path,
    batches: &[RecordBatch],
    metadata: Vec<(String, String)>,
    opts: &FileOptions,
) -> Result<WrittenFile, ArchiveError> {
    let Some(first) = batches.first() else {
        return Err(ArchiveError::Config(format!(
            "{}: refusing to write a file without rows",
            path.display()
        )));
    };
    let mut w = AtomicParquet::create(path, first.schema(), metadata, opts)?;
    for b in batches {
        w.write(b)?;
    }
    w.finish()
}

/// Size and CRC-32C of a file.
///
/// # Errors
/// [`ArchiveError::Io`].
pub fn checksum_file(path: &Path) -> Result<(u64, u32), ArchiveError> {
    let mut f = File::open(path).map_err(ArchiveError::io(path))?;
    let mut buf = vec![0u8; 1 << 20];
    let (mut crc, mut len) = (0u32, 0u64);
    loop {
        let n = f.read(&mut buf).map_err(ArchiveError::io(path))?;
        if n == 0 {
            return Ok((len, crc));
        }
        crc = crc32c::crc32c_append(crc, &buf[..n]);
        len += n as u64;
    }
}

/// Removes `*.tmp` files left under `dir` by a crash (they were never complete).
///
/// # Errors
/// [`ArchiveError::Io`] when `dir` cannot be listed (a missing directory is fine).
pub fn remove_stale_temp_files(dir: &Path) -> Result<usize, ArchiveError> {
    let mut removed = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(ArchiveError::Io { path: d, source: e }),
        };
        for entry in entries {
            let entry = entry.map_err(ArchiveError::io(&d))?;
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(TEMP_SUFFIX) {
                std::fs::remove_file(&path).map_err(ArchiveError::io(&path))?;
                tracing::warn!(path = %path.display(), "removed incomplete archive file left by a crash");
                removed += 1;
            }
        }
    }
    Ok(removed)
}
