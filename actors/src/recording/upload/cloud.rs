//! The cloud backends of `object_store` — S3, GCS and Azure — each behind the crate feature of
//! its name (`s3`, `gcs`, `azure`), so an embedder that keeps recordings on disk compiles none
//! of their clients. A URL whose backend is not compiled in is refused when the config is
//! checked, with the feature to enable.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use object_store::ObjectStore;

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

/// Refuses a cloud URL scheme whose backend this build leaves out, naming the feature.
pub(super) fn check_enabled(url: &str, scheme: &str) -> Result<(), String> {
    match feature_for(scheme) {
        Some(feature) if !enabled(feature) => Err(missing(url, feature)),
        _ => Ok(()),
    }
}

/// The crate feature that compiles in the backend for `scheme`.
fn feature_for(scheme: &str) -> Option<&'static str> {
    match scheme {
        "s3" | "s3a" => Some("s3"),
        "gs" => Some("gcs"),
        "az" | "azure" | "abfs" | "abfss" => Some("azure"),
        _ => None,
    }
}

/// Each backend's feature, and whether this build has it.
const FEATURES: [(&str, bool); 3] = [
    ("s3", cfg!(feature = "s3")),
    ("gcs", cfg!(feature = "gcs")),
    ("azure", cfg!(feature = "azure")),
];

fn enabled(feature: &str) -> bool {
    FEATURES.iter().any(|&(name, on)| on && name == feature)
}

fn missing(url: &str, feature: &str) -> String {
    format!(
        "`{url}` needs the `{feature}` feature, which this build of pilothouse leaves out; \
         enable it (`features = [\"{feature}\"]` on the pilothouse dependency) or upload to a \
         file:/// URL"
    )
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cloud_scheme_names_its_feature() {
        assert_eq!(feature_for("s3"), Some("s3"));
        assert_eq!(feature_for("s3a"), Some("s3"));
        assert_eq!(feature_for("gs"), Some("gcs"));
        for scheme in ["az", "azure", "abfs", "abfss"] {
            assert_eq!(feature_for(scheme), Some("azure"), "{scheme}");
        }
        assert_eq!(feature_for("file"), None);
        let message = missing("gs://bucket/p", "gcs");
        assert!(
            message.contains("needs the `gcs` feature") && message.contains("features = [\"gcs\"]"),
            "{message}"
        );
    }

    #[test]
    fn a_compiled_in_backend_is_accepted() {
        for (scheme, on) in [
            ("s3", cfg!(feature = "s3")),
            ("gs", cfg!(feature = "gcs")),
            ("az", cfg!(feature = "azure")),
        ] {
            let url = format!("{scheme}://bucket/prefix");
            assert_eq!(check_enabled(&url, scheme).is_ok(), on, "{scheme}");
        }
        assert!(check_enabled("file:///tmp/x", "file").is_ok());
    }
}
