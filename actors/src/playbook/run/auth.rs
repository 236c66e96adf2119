//! A playbook's `auth` block, run after its start URL and before its steps, as the reference's
//! `DashboardAuth.ensure_authenticated` does: restore the saved session (id: `session_id`, else
//! the playbook's id) and check the success signs; otherwise (`form_login`) fill the first
//! visible username/email and password fields with the request's credentials, submit, check,
//! and save the session. `manual` never fills a form: a person signs in, so a missing or
//! expired session fails the run. Credentials are typed by `credential_ref`, and every session
//! value is added to the run's scrubber before the browser holds it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::verify::verify;
use super::{StepResult, Stopped, failed, first_match};
use crate::driver::{DriverContext, DriverOutcome};
use crate::playbook::bind_str;
use crate::request::{Action, AuthBlock, AuthMode, AuthSuccess, Playbook, Verify, WaitState};
use crate::run::ErrorCode;
use crate::sessions::{self, SessionError, SessionStore};

/// Username fields, in the reference's order.
const USERNAME_FIELDS: &[&str] = &[
    "input[type='email']",
    "input[name='email']",
    "input[name='username']",
    "input[id='email']",
    "input[id='username']",
    "input[placeholder*='email' i]",
    "input[placeholder*='username' i]",
];
/// Password fields, in the reference's order.
const PASSWORD_FIELDS: &[&str] = &[
    "input[type='password']",
    "input[name='password']",
    "input[id='password']",
];
/// Submit controls, in the reference's order; none visible: Enter is pressed.
const SUBMIT_CONTROLS: &[&str] = &[
    "button[type='submit']",
    "input[type='submit']",
    "text=Log in",
    "text=Sign in",
    "text=Login",
    "text=Submit",
];
/// How often `cookie_present` is checked.
const COOKIE_POLL: Duration = Duration::from_millis(100);

/// Signs the run in; `Some` when the run ends here (stopped, or signing in failed).
pub(super) async fn sign_in(
    ctx: &DriverContext,
    playbook: &Playbook,
    params: &BTreeMap<String, Value>,
) -> Option<DriverOutcome> {
    let auth = playbook
        .auth
        .as_ref()
        .filter(|a| a.mode != AuthMode::None)?;
    let id = match &auth.session_id {
        Some(id) => bind_str(id, params),
        None => playbook.id.clone(),
    };
    if let Err(message) = sessions::check_id(&id) {
        return Some(failed(
            ErrorCode::InvalidRequest,
            format!("auth.session_id: {message}"),
        ));
    }
    let login_url = Some(bind_str(&auth.login_url, params)).filter(|u| !u.is_empty());
    let store = SessionStore::new(&ctx.config.sessions);
    match restored(ctx, auth, &store, &id, login_url.as_deref()).await {
        Err(outcome) => return Some(outcome),
        Ok(true) => return None,
        Ok(false) => {}
    }
    if auth.mode == AuthMode::Manual {
        return Some(failed(
            ErrorCode::ActionFailed,
            format!(
                "auth: mode manual and session `{id}` is missing or expired; a person must sign \
                 in and save it (\"session\": {{\"save\": \"{id}\"}})"
            ),
        ));
    }
    form_login(ctx, auth, &store, &id, login_url.as_deref()).await
}

/// Restores session `id` and checks it still signs in: `Ok(true)` signed in, `Ok(false)` no
/// session or an expired one, `Err` the run ends (stopped, or a corrupt or tampered session).
async fn restored(
    ctx: &DriverContext,
    auth: &AuthBlock,
    store: &SessionStore,
    id: &str,
    login_url: Option<&str>,
) -> Result<bool, DriverOutcome> {
    let state = match store.load(id).await {
        Ok(state) => state,
        Err(SessionError::Missing { .. }) => {
            ctx.record.log(
                "info",
                &format!("auth: no saved session `{id}`; signing in"),
            );
            return Ok(false);
        }
        Err(e) => return Err(failed(ErrorCode::SetupFailed, format!("auth: {e}"))),
    };
    let applied = sessions::browser::apply(id, &state, &ctx.browser, &ctx.record.scrubber).await;
    if let Err(message) = applied {
        return Err(failed(ErrorCode::SetupFailed, format!("auth: {message}")));
    }
    let url = login_url
        .map(str::to_owned)
        .or_else(|| ctx.record.status().last_url.clone());
    // Nowhere to look (no login_url, no page yet): the signs cannot be checked.
    let Some(url) = url else {
        return Ok(false);
    };
    open(ctx, url).await?;
    let signed_in = signed_in(ctx, auth.success.as_ref()).await?;
    let message = match signed_in {
        true => format!("auth: signed in with saved session `{id}`"),
        false => format!("auth: saved session `{id}` no longer signs in; signing in again"),
    };
    ctx.record.log("info", &message);
    Ok(signed_in)
}

/// Fills the sign-in form, submits it, checks the result and saves the session.
async fn form_login(
    ctx: &DriverContext,
    auth: &AuthBlock,
    store: &SessionStore,
    id: &str,
    login_url: Option<&str>,
) -> Option<DriverOutcome> {
    let on_page = ctx.record.status().last_url.clone().unwrap_or_default();
    if let Some(url) = login_url.filter(|u| !on_page.starts_with(u))
        && let Err(outcome) = open(ctx, url.to_owned()).await
    {
        return Some(outcome);
    }
    let credentials = &ctx.record.request.credentials;
    let Some(user) = ["username", "email"]
        .into_iter()
        .find(|n| credentials.contains_key(*n))
    else {
        let message = "auth: form_login needs a `username` (or `email`) credential";
        return Some(failed(ErrorCode::InvalidRequest, message.into()));
    };
    for (fields, credential) in [(USERNAME_FIELDS, user), (PASSWORD_FIELDS, "password")] {
        if let Err(outcome) = fill(ctx, fields, credential).await {
            return Some(outcome);
        }
    }
    if let Err(outcome) = submit(ctx).await {
        return Some(outcome);
    }
    match signed_in(ctx, auth.success.as_ref()).await {
        Err(outcome) => return Some(outcome),
        Ok(false) => {
            return Some(failed(
                ErrorCode::ActionFailed,
                format!(
                    "auth: signing in did not succeed ({})",
                    describe(auth.success.as_ref())
                ),
            ));
        }
        Ok(true) => {}
    }
    let saved = sessions::browser::save(store, id, &ctx.browser, &ctx.record.scrubber).await;
    match saved {
        Ok(()) => {
            ctx.record
                .log("info", &format!("auth: signed in; saved session `{id}`"));
            None
        }
        Err(message) => Some(failed(ErrorCode::ActionFailed, format!("auth: {message}"))),
    }
}

/// Types credential `credential` into the first visible field of `fields`.
async fn fill(ctx: &DriverContext, fields: &[&str], credential: &str) -> Result<(), DriverOutcome> {
    let Some(selector) = first_visible(ctx, fields).await? else {
        return Err(failed(
            ErrorCode::ActionFailed,
            format!(
                "auth: no visible field for the `{credential}` credential (looked for {})",
                fields.join(", ")
            ),
        ));
    };
    let action = Action::Type {
        selector: Some(selector),
        text: None,
        credential_ref: Some(credential.to_owned()),
    };
    dispatch(ctx, action, "auth").await
}

/// Clicks the first visible submit control, or presses Enter in the focused field.
async fn submit(ctx: &DriverContext) -> Result<(), DriverOutcome> {
    let action = match first_visible(ctx, SUBMIT_CONTROLS).await? {
        Some(selector) => Action::Click { selector },
        None => Action::PressKey {
            key: "Enter".into(),
        },
    };
    dispatch(ctx, action, "auth").await
}

/// The first of `selectors` that shows an element within the playbooks' probe bound.
async fn first_visible(
    ctx: &DriverContext,
    selectors: &[&str],
) -> Result<Option<String>, DriverOutcome> {
    match first_match(ctx, selectors, WaitState::Visible).await {
        Ok(found) => Ok(found.map(|k| selectors[k].to_owned())),
        Err(Stopped) => Err(DriverOutcome::Interrupted),
    }
}

/// Whether the page shows the success signs (all given must hold within `timeout_ms`); with
/// none given, the reference's heuristic: no password field stays visible.
async fn signed_in(
    ctx: &DriverContext,
    success: Option<&AuthSuccess>,
) -> Result<bool, DriverOutcome> {
    let default = AuthSuccess {
        url_contains: None,
        element_visible: None,
        text_on_page: None,
        cookie_present: None,
        timeout_ms: 15_000,
    };
    let success = success.unwrap_or(&default);
    let deadline = Instant::now() + Duration::from_millis(success.timeout_ms);
    let check = Verify {
        url_contains: success.url_contains.clone(),
        element_visible: success.element_visible.clone(),
        element_gone: success.is_empty().then(|| PASSWORD_FIELDS[0].to_owned()),
        text_on_page: success.text_on_page.clone(),
        timeout_ms: success.timeout_ms,
    };
    match verify(ctx, &check).await {
        StepResult::Stopped => return Err(DriverOutcome::Interrupted),
        StepResult::Failed(_) => return Ok(false),
        StepResult::Done(_) => {}
    }
    let Some(name) = &success.cookie_present else {
        return Ok(true);
    };
    loop {
        let state = sessions::browser::export(&ctx.browser, &ctx.record.scrubber).await;
        if state.is_ok_and(|s| s.cookies.iter().any(|c| &c.name == name)) {
            return Ok(true);
        }
        if Instant::now() >= deadline || ctx.record.control.token().is_cancelled() {
            return Ok(false);
        }
        tokio::time::sleep(COOKIE_POLL).await;
    }
}

/// The success signs, for the failure message.
fn describe(success: Option<&AuthSuccess>) -> String {
    let Some(s) = success.filter(|s| !s.is_empty()) else {
        return "the password field is still visible".into();
    };
    let mut signs = Vec::new();
    let checks = [
        ("url_contains", &s.url_contains),
        ("element_visible", &s.element_visible),
        ("text_on_page", &s.text_on_page),
        ("cookie_present", &s.cookie_present),
    ];
    for (name, value) in checks {
        if let Some(value) = value {
            signs.push(format!("{name} `{value}`"));
        }
    }
    format!("not seen within {} ms: {}", s.timeout_ms, signs.join(", "))
}

async fn open(ctx: &DriverContext, url: String) -> Result<(), DriverOutcome> {
    dispatch(ctx, Action::Goto { url }, "auth.login_url").await
}

/// Runs one action as a step of the run; a failure ends it naming `what`.
async fn dispatch(ctx: &DriverContext, action: Action, what: &str) -> Result<(), DriverOutcome> {
    match ctx.router.dispatch(action).await {
        None => Err(DriverOutcome::Interrupted),
        Some(result) => match result.output {
            Ok(_) => Ok(()),
            Err(f) if f.code == ErrorCode::Cancelled => Err(DriverOutcome::Interrupted),
            Err(f) => Err(failed(f.code, format!("{what}: {}", f.message))),
        },
    }
}
