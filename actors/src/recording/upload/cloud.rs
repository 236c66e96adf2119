//! The cloud backends of `object_store` — S3, GCS and Azure — each behind the crate feature of
//! its name (`s3`, `gcs`, `azure`), so an embedder that keeps recordings on disk compiles none
//! of their clients. A URL whose backend is not compiled in is refused when the config is
//! checked, with the feature to enable.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use object_store::ObjectStore;

use crate::config::upload_backends::check_enabled;

/// Bound on connecting to a remote store, per attempt.
#[cfg_attr(
    not(any(feature = "s3", feature = "gcs", feature = "azure")),
    allow(dead_code)
)]
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Bound on one request to a remote store, per attempt.
#[cfg_attr(
    not(any(feature = "s3", feature = "gcs", feature = "azure")),
    allow(dead_code)
)]
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Builds one cloud store: the three builders share this shape but no trait.
#[cfg(any(feature = "s3", feature = "gcs", feature = "azure"))]
macro_rules! build {
    ($builder:ty, $name:literal, $url:expr, $options:expr) => {{
        // We retry per object ourselves, with our own bound; the client only bounds each
        // attempt. (Client options go first: `upload_options` such as `aws_allow_http`
        // refine them.)
        let retry = object_store::RetryConfig {
            max_retries: 0,
            ..object_store::RetryConfig::default()
        };
        let client = object_store::ClientOptions::new()
            .with_connect_timeout(CONNECT_TIMEOUT)
            .with_timeout(REQUEST_TIMEOUT);
        let mut b = <$builder>::from_env()
            .with_url($url)
            .with_retry(retry)
            .with_client_options(client);
        for (k, v) in $options {
            let key = k.parse().map_err(|e| {
                format!(
                    "recording.upload_options: `{k}` is not an option of {}: {e}",
                    $name
                )
            })?;
            b = b.with_config(key, v);
        }
        let store = b
            .build()
            .map_err(|e| format!("{} store for {}: {e}", $name, $url))?;
        Ok(Arc::new(store) as Arc<dyn ObjectStore>)
    }};
}

/// The store for a cloud URL; credentials come from the usual environment variables
/// (`AWS_*`, `GOOGLE_*`, `AZURE_*`) and `options` (`recording.upload_options`).
pub(super) fn store(
    url: &str,
    scheme: &str,
    options: &BTreeMap<String, String>,
) -> Result<Arc<dyn ObjectStore>, String> {
    check_enabled(url, scheme)?;
    // Only reached for an enabled backend; with none compiled in, nothing below is used.
    let _ = options;
    match scheme {
        #[cfg(feature = "s3")]
        "s3" | "s3a" => build!(object_store::aws::AmazonS3Builder, "S3", url, options),
        #[cfg(feature = "gcs")]
        "gs" => build!(
            object_store::gcp::GoogleCloudStorageBuilder,
            "GCS",
            url,
            options
        ),
        #[cfg(feature = "azure")]
        "az" | "azure" | "abfs" | "abfss" => build!(
            object_store::azure::MicrosoftAzureBuilder,
            "Azure",
            url,
            options
        ),
        other => Err(format!("unsupported scheme `{other}`")),
    }
}
