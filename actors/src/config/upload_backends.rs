//! Which cloud upload backends this build has: S3, GCS and Azure are each behind the crate
//! feature of its name (`s3`, `gcs`, `azure`). A recording URL whose backend is left out is
//! refused when the config is checked, naming the feature to enable.

/// Refuses a cloud URL scheme whose backend this build leaves out, naming the feature.
pub(crate) fn check_enabled(url: &str, scheme: &str) -> Result<(), String> {
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
