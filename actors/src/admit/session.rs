//! A request's `session`: ids that are file names, and a session to `load` that exists and
//! opens. Checked at admission so a missing, corrupt, tampered or wrongly-keyed session refuses
//! the request with a field error naming it before any browser starts; the run loads it again
//! when it starts (`session/start.rs`) and fails with `SETUP_FAILED` if it changed since.

use super::Validator;
use crate::config::Config;
use crate::request::SessionSpec;
use crate::sessions::{SessionStore, check_id};

impl Validator<'_> {
    /// `session.load` and `session.save`.
    pub(super) fn session(&mut self, spec: &SessionSpec, config: &Config) {
        if let Some(id) = &spec.save
            && let Err(message) = check_id(id)
        {
            self.push("session.save", message);
        }
        let Some(id) = &spec.load else { return };
        if let Err(message) = check_id(id) {
            self.push("session.load", message);
            return;
        }
        // Blocking file I/O, as the playbook's load here: admission runs off the supervisor.
        if let Err(e) = SessionStore::new(&config.sessions).load_blocking(id) {
            self.push("session.load", e.to_string());
        }
    }
}
