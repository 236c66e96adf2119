//! A Chromium the test launches itself with `--remote-debugging-port` on 127.0.0.1, for
//! `[browser] connect`: the orchestrator drives it but did not start it. Killed (its whole
//! process group, by pid) when dropped.

use std::path::Path;
use std::process::Stdio;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub struct RemoteChromium {
    child: Child,
    /// `ws://127.0.0.1:PORT/devtools/browser/ID`.
    pub endpoint: String,
}

impl RemoteChromium {
    /// Starts headless Chromium with its profile in `profile`, WebRTC held to proxies (a remote
    /// browser's operator must launch it so: Pilothouse cannot set switches on it).
    pub async fn launch(profile: &Path) -> Self {
        let chromium = pilothouse::Config::default().resolve_chromium().unwrap();
        let mut command = Command::new(chromium);
        command
            .args([
                "--headless=new",
                "--remote-debugging-port=0",
                "--remote-debugging-address=127.0.0.1",
                "--no-first-run",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--webrtc-ip-handling-policy=disable_non_proxied_udp",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        if nix::unistd::geteuid().is_root() {
            command.arg("--no-sandbox");
        }
        let mut child = command.spawn().unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let endpoint = loop {
            let line = lines.next_line().await.unwrap().expect("Chromium exited");
            if let Some(url) = line.strip_prefix("DevTools listening on ") {
                break url.trim().to_owned();
            }
        };
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Self { child, endpoint }
    }
}

impl Drop for RemoteChromium {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }
}
