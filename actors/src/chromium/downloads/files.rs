//! Files of allowed downloads: a finished one moves from the staging folder into the run's
//! recording under a safe name, with its size and hash; a stopped one is removed.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::{Downloads, lock};
use crate::download::{AllowedDownloads, Download, DownloadOutcome};

/// Longest file name kept from a site's suggestion.
const FILE_NAME_MAX_CHARS: usize = 100;

impl Downloads {
    /// Moves a finished download into the run's recording and hashes it.
    pub(super) async fn save(
        &self,
        allowed: &AllowedDownloads,
        index: usize,
        file: &Path,
    ) -> Download {
        let entry = lock(&self.shared.entries)[index].clone();
        let name = format!("{:03}-{}", index + 1, safe_file_name(&entry.file_name));
        let target = allowed.dir.join(&name);
        let moved = async {
            tokio::fs::create_dir_all(&allowed.dir).await?;
            if tokio::fs::rename(file, &target).await.is_err() {
                // Another filesystem (the profile lives under the temp dir): copy, then remove.
                tokio::fs::copy(file, &target).await?;
                tokio::fs::remove_file(file).await?;
            }
            let hashed = target.clone();
            tokio::task::spawn_blocking(move || hash_file(&hashed))
                .await
                .map_err(std::io::Error::other)?
        }
        .await;
        let failure = |reason: String| {
            let _ = std::fs::remove_file(&target);
            entry.report(DownloadOutcome::Failed, Some(reason))
        };
        match moved {
            Ok((bytes, _)) if bytes > allowed.max_bytes => {
                let mut report = failure(format!(
                    "it passed downloads.max_bytes = {}; the file was removed",
                    allowed.max_bytes
                ));
                report.outcome = DownloadOutcome::Cancelled;
                report
            }
            Ok((bytes, sha256)) => Download {
                outcome: DownloadOutcome::Saved,
                bytes,
                path: Some(format!("{}/{name}", allowed.dir_in_run)),
                sha256: Some(sha256),
                ..entry.report(DownloadOutcome::Saved, None)
            },
            Err(e) => failure(format!("cannot save it into the recording: {e}")),
        }
    }

    /// Removes what Chromium left of a stopped download in the staging folder.
    pub(super) async fn discard(&self, guid: &str, file: Option<&str>) {
        let staged = [guid.to_owned(), format!("{guid}.crdownload")];
        let paths = staged.map(|name| self.shared.staging.join(name));
        for path in paths
            .iter()
            .chain(file.map(Path::new).map(Path::to_path_buf).iter())
        {
            let _ = tokio::fs::remove_file(path).await;
        }
    }
}

/// A site's suggested name made safe as one path segment: no separators, no leading dot, only
/// plain characters, bounded.
fn safe_file_name(suggested: &str) -> String {
    let cleaned: String = suggested
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(FILE_NAME_MAX_CHARS)
        .collect();
    let cleaned = cleaned.trim_start_matches('.');
    if cleaned.is_empty() {
        "download".to_owned()
    } else {
        cleaned.to_owned()
    }
}

/// Size and lower-case hex SHA-256 of a file, read in chunks.
fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        hasher.update(&buf[..n]);
    }
    let hex = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((bytes, hex))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggested_names_become_one_plain_segment() {
        assert_eq!(safe_file_name("report 2024.pdf"), "report_2024.pdf");
        assert_eq!(safe_file_name("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(safe_file_name(".bashrc"), "bashrc");
        assert_eq!(safe_file_name(""), "download");
        assert_eq!(safe_file_name("..."), "download");
        assert_eq!(safe_file_name(&"x".repeat(300)).len(), FILE_NAME_MAX_CHARS);
    }

    #[test]
    fn files_are_hashed_in_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let content = vec![7u8; 200_000];
        std::fs::write(&path, &content).unwrap();
        let (bytes, hex) = hash_file(&path).unwrap();
        assert_eq!(bytes, 200_000);
        assert_eq!(hex, crate::recording::sha256_hex(&content));
    }
}
