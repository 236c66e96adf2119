//! Uploading a sealed recording through `object_store`: the local filesystem by default, S3,
//! GCS or Azure by URL (each behind its crate feature, see [`cloud`]). Each object is retried
//! with exponential backoff, the whole upload is bounded in time, and a failure leaves the local
//! copy in place for a later retry.
//!
//! Objects are written as `<prefix>/<run_id>/<path>` with the manifest last, so a reader that
//! finds `manifest.json` finds every artifact it lists.

use std::sync::Arc;
use std::time::Duration;

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::{MANIFEST_FILE, Manifest};
use crate::config::{RecordingConfig, check_upload_url};
use crate::run::RunId;

mod cloud;

/// Where recordings go.
#[derive(Clone, Debug)]
pub(crate) struct Uploader {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    /// The destination as people read it (`s3://bucket/prefix`).
    base: String,
    attempts: u32,
    backoff: Duration,
    timeout: Duration,
}

impl Uploader {
    /// Builds the destination from `[recording]`; credentials for cloud stores come from the
    /// usual environment variables (`AWS_*`, `GOOGLE_*`, `AZURE_*`) and `upload_options`.
    pub(crate) fn from_config(config: &RecordingConfig) -> Result<Self, String> {
        let (store, prefix, base): (Arc<dyn ObjectStore>, String, String) = match &config.upload_url
        {
            None => local(&config.recordings_dir)?,
            Some(url) => remote(url, config)?,
        };
        Ok(Self {
            store,
            prefix,
            base,
            attempts: config.upload_attempts.max(1),
            backoff: Duration::from_millis(config.upload_backoff_ms),
            timeout: Duration::from_millis(config.upload_timeout_ms),
        })
    }

    /// The location of one run's recording (`s3://bucket/prefix/<run_id>/`).
    pub(crate) fn location(&self, run_id: RunId) -> String {
        format!("{}/{run_id}/", self.base.trim_end_matches('/'))
    }

    /// Uploads every artifact of `manifest` from `dir`, then the manifest. Returns the
    /// recording's location, or why it failed.
    pub(crate) async fn upload(
        &self,
        run_id: RunId,
        dir: &std::path::Path,
        manifest: &Manifest,
    ) -> Result<String, String> {
        let work = async {
            let files = manifest
                .artifacts
                .iter()
                .map(|a| a.path.as_str())
                .chain([MANIFEST_FILE]);
            for rel in files {
                let bytes = tokio::fs::read(dir.join(rel))
                    .await
                    .map_err(|e| format!("cannot read {rel}: {e}"))?;
                self.put_with_retries(&self.object_path(run_id, rel), bytes)
                    .await
                    .map_err(|e| format!("{rel}: {e}"))?;
            }
            Ok(self.location(run_id))
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "gave up after {} ms (recording.upload_timeout_ms)",
                    self.timeout.as_millis()
                ))
            })
    }

    fn object_path(&self, run_id: RunId, rel: &str) -> ObjectPath {
        let key = if self.prefix.is_empty() {
            format!("{run_id}/{rel}")
        } else {
            format!("{}/{run_id}/{rel}", self.prefix)
        };
        ObjectPath::from(key)
    }

    async fn put_with_retries(&self, path: &ObjectPath, bytes: Vec<u8>) -> Result<(), String> {
        let payload = PutPayload::from(bytes);
        let mut pause = self.backoff;
        let mut attempt = 1;
        loop {
            match self.store.put(path, payload.clone()).await {
                Ok(_) => return Ok(()),
                Err(e) if attempt >= self.attempts => {
                    return Err(format!("failed after {attempt} attempt(s): {e}"));
                }
                Err(e) => {
                    tracing::warn!(%path, attempt, error = %e, "upload attempt failed; retrying");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    attempt += 1;
                }
            }
        }
    }
}

type Built = (Arc<dyn ObjectStore>, String, String);

fn local(dir: &std::path::Path) -> Result<Built, String> {
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::canonicalize(dir))
        .map_err(|e| {
            format!(
                "cannot prepare recording.recordings_dir {}: {e}",
                dir.display()
            )
        })
        .and_then(|abs| {
            let store = object_store::local::LocalFileSystem::new_with_prefix(&abs)
                .map_err(|e| format!("recordings dir {}: {e}", abs.display()))?;
            Ok((
                Arc::new(store) as Arc<dyn ObjectStore>,
                String::new(),
                format!("file://{}", abs.display()),
            ))
        })
}

fn remote(url: &str, config: &RecordingConfig) -> Result<Built, String> {
    check_upload_url(url)?;
    let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
    if parsed.scheme() == "file" {
        return local(std::path::Path::new(parsed.path()));
    }
    let prefix = parsed.path().trim_matches('/').to_owned();
    let store = cloud::store(url, parsed.scheme(), &config.upload_options)?;
    Ok((store, prefix, url.trim_end_matches('/').to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_uploads_copy_every_artifact_and_the_manifest() {
        let src = tempfile::tempdir().unwrap();
        let dest = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("a.txt"), b"hello").unwrap();
        std::fs::write(src.path().join(MANIFEST_FILE), b"{}").unwrap();
        let config = RecordingConfig {
            recordings_dir: dest.path().to_owned(),
            ..RecordingConfig::default()
        };
        let uploader = Uploader::from_config(&config).unwrap();
        let run_id = RunId::new();
        let manifest = Manifest {
            run_id,
            artifacts: vec![super::super::Artifact {
                path: "a.txt".into(),
                kind: "other".into(),
                bytes: 5,
                sha256: super::super::sha256_hex(b"hello"),
            }],
        };
        let location = uploader
            .upload(run_id, src.path(), &manifest)
            .await
            .unwrap();
        assert!(location.starts_with("file://") && location.ends_with(&format!("{run_id}/")));
        let copied = dest.path().join(run_id.to_string());
        assert_eq!(std::fs::read(copied.join("a.txt")).unwrap(), b"hello");
        assert!(copied.join(MANIFEST_FILE).exists());
    }
}
