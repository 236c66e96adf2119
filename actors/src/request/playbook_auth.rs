//! A playbook's `auth` and `capture` blocks, as the reference writes them: sign in once (or
//! restore the saved session) before the steps, then read cookies and storage values into
//! secret parameters. Data only: running them is `playbook/auth.rs` and `playbook/capture.rs`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `auth.success.timeout_ms`'s default, as in the reference.
fn success_timeout() -> u64 {
    15_000
}

impl AuthSuccess {
    /// True when no check is given (the reference's heuristic applies: no visible password
    /// field).
    pub fn is_empty(&self) -> bool {
        self.url_contains.is_none()
            && self.element_visible.is_none()
            && self.text_on_page.is_none()
            && self.cookie_present.is_none()
    }
}

/// `auth:`: how the playbook's site is signed in to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthBlock {
    /// `form_login` (default), `manual` or `none`.
    #[serde(default)]
    pub mode: AuthMode,
    /// The sign-in page (parameters are bound in it); `""`: the page the run is on.
    #[serde(default)]
    pub login_url: String,
    /// The saved session's id; unset: the playbook's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// How a signed-in page is recognised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success: Option<AuthSuccess>,
}

/// How a playbook signs in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// Restore the saved session; else fill the sign-in form with the request's `username`
    /// (or `email`) and `password` credentials, and save the session on success.
    #[default]
    FormLogin,
    /// Restore the saved session; a person signs in otherwise, so a missing or expired session
    /// fails the run.
    Manual,
    /// No sign-in.
    None,
}

/// The signs of a signed-in page; every one given must hold within `timeout_ms`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSuccess {
    /// The page's URL contains this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_contains: Option<String>,
    /// This element is visible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub element_visible: Option<String>,
    /// The page's visible text contains this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_on_page: Option<String>,
    /// The run's browser holds a cookie of this name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie_present: Option<String>,
    /// Bound on the checks (default 15000).
    #[serde(default = "success_timeout")]
    pub timeout_ms: u64,
}

/// `capture:`: values read after `auth`, kept as secret parameters (`{store_as}`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureBlock {
    /// Cookies of the run's browser.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cookies: Vec<CookieCapture>,
    /// Keys of the current page's localStorage or sessionStorage.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub storage: Vec<StorageCapture>,
    /// Fixed values kept as parameters under their names (not secret).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub static_headers: BTreeMap<String, String>,
}

/// A cookie to capture; missing, it fails the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CookieCapture {
    /// The cookie's name.
    pub name: String,
    /// The parameter it becomes.
    pub store_as: String,
    /// Only a cookie of this domain or a subdomain of it; `""`: any.
    #[serde(default)]
    pub domain: String,
}

/// A storage key to capture from the current page; missing, it fails the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageCapture {
    /// The key.
    pub key: String,
    /// The parameter it becomes.
    pub store_as: String,
    /// `local` (default) or `session`.
    #[serde(default)]
    pub scope: StorageScope,
}

/// Which storage a key is read from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StorageScope {
    /// `localStorage`.
    #[default]
    Local,
    /// `sessionStorage`.
    Session,
}
