//! The pool's warm Chromium processes and the contexts they serve.
//!
//! A [`Host`] is a Chromium started before any run needs it. Its own traffic goes to a proxy
//! that is never armed, so it refuses everything (Chromium's background services included). A
//! [`Spare`] is a fresh browser context in a host — its own cookies, storage, cache,
//! permissions and download behaviour — created with **its own proxy**
//! (`Target.createBrowserContext` with `proxyServer`), downloads denied, and a blank page
//! already open. Arming it hands the proxy the run's guardrails (once: a proxy never changes
//! runs) and makes it the run's [`PageDriver`]. Disposing the context closes its pages.

mod context;
mod memory;
mod remote;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chromiumoxide::Browser;
use chromiumoxide::cdp::browser_protocol::browser::{
    BrowserContextId, SetDownloadBehaviorBehavior, SetDownloadBehaviorParams,
};
use chromiumoxide::cdp::browser_protocol::target::{
    CreateBrowserContextParams, CreateTargetParams,
};
use tokio_util::sync::CancellationToken;

use super::process::{Process, ProcessSpec};
use crate::page_driver::{CloseMode, CloseReport};
use crate::proxy::GuardProxy;
use crate::request::Viewport;

pub(crate) use context::{ArmError, Release};
pub(crate) use memory::group_pss_bytes;

/// What the pool's processes are started with.
#[derive(Clone, Debug)]
pub(crate) struct HostSpec {
    pub(crate) chromium: PathBuf,
    pub(crate) profile_dir: PathBuf,
    pub(crate) extra_args: Vec<String>,
    pub(crate) launch_timeout: Duration,
    /// The viewport every page starts with; a run that asks for another gets it on arming.
    pub(crate) viewport: Viewport,
    /// Where the contexts' proxies listen.
    pub(crate) proxy_bind: IpAddr,
    /// A remote browser's DevTools endpoint: connect to it instead of launching one.
    pub(crate) connect: Option<String>,
}

/// A warm Chromium of the pool: one we launched, or a remote one we connected to.
pub(crate) struct Host {
    kind: Kind,
    spec: HostSpec,
}

enum Kind {
    Local {
        process: Box<Process>,
        /// The default context's proxy: never armed, so it refuses everything.
        _proxy: GuardProxy,
    },
    Remote(remote::Remote),
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("connect", &self.spec.connect)
            .field("pid", &self.pid())
            .finish_non_exhaustive()
    }
}

impl Host {
    /// Starts a Chromium whose own traffic goes nowhere, or connects to the remote one.
    pub(crate) async fn start(spec: HostSpec) -> Result<Self, String> {
        if let Some(endpoint) = &spec.connect {
            let remote =
                remote::Remote::connect(endpoint, spec.viewport, spec.launch_timeout).await?;
            return Ok(Self {
                kind: Kind::Remote(remote),
                spec,
            });
        }
        let proxy = GuardProxy::start_unarmed(spec.proxy_bind, None)
            .await
            .map_err(|e| format!("cannot start the pool browser's proxy: {e}"))?;
        let process = Process::start(ProcessSpec {
            chromium: &spec.chromium,
            profile_dir: &spec.profile_dir,
            viewport: spec.viewport,
            extra_args: &spec.extra_args,
            proxy: Some(proxy.addr()),
            launch_timeout: spec.launch_timeout,
        })
        .await
        .map_err(|e| e.to_string())?;
        Ok(Self {
            kind: Kind::Local {
                process: Box::new(process),
                _proxy: proxy,
            },
            spec,
        })
    }

    /// What makes contexts in this host, for a task outside the pool's mailbox.
    pub(crate) fn maker(&self) -> SpareMaker {
        let (browser, peers) = match &self.kind {
            Kind::Local { process, .. } => (process.browser.clone(), None),
            Kind::Remote(remote) => (remote.browser.clone(), Some(remote.peers.clone())),
        };
        SpareMaker {
            browser,
            dead: self.dead(),
            profile_dir: self.spec.profile_dir.clone(),
            proxy_bind: self.spec.proxy_bind,
            peers,
            viewport: self.spec.viewport,
        }
    }

    /// Asks the browser for its version within `bound`: false when it does not answer (hung,
    /// frozen, or its connection is gone).
    pub(crate) fn probe(&self, bound: Duration) -> impl Future<Output = bool> + Send + 'static {
        let browser = match &self.kind {
            Kind::Local { process, .. } => process.browser.clone(),
            Kind::Remote(remote) => remote.browser.clone(),
        };
        async move {
            matches!(
                tokio::time::timeout(bound, browser.version()).await,
                Ok(Ok(_))
            )
        }
    }

    /// Cancelled when the browser is gone.
    pub(crate) fn dead(&self) -> CancellationToken {
        match &self.kind {
            Kind::Local { process, .. } => process.dead().clone(),
            Kind::Remote(remote) => remote.dead.clone(),
        }
    }

    /// The process group, for measuring memory (none for a remote browser).
    pub(crate) fn pgid(&self) -> Option<i32> {
        match &self.kind {
            Kind::Local { process, .. } => Some(process.pgid()),
            Kind::Remote(_) => None,
        }
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        match &self.kind {
            Kind::Local { process, .. } => process.pid(),
            Kind::Remote(_) => None,
        }
    }

    /// Ends a browser we launched; from a remote one, only disconnects (its contexts were
    /// disposed by their runs).
    pub(crate) async fn close(self, mode: CloseMode) -> CloseReport {
        match self.kind {
            Kind::Local { process, .. } => process.close(mode).await,
            Kind::Remote(remote) => {
                drop(remote);
                CloseReport {
                    graceful: true,
                    problem: None,
                }
            }
        }
    }
}

/// Makes spare contexts in one host.
#[derive(Clone)]
pub(crate) struct SpareMaker {
    browser: Arc<Browser>,
    dead: CancellationToken,
    profile_dir: PathBuf,
    proxy_bind: IpAddr,
    /// A remote browser's addresses: its contexts' proxies serve only these.
    peers: Option<Arc<[IpAddr]>>,
    viewport: Viewport,
}

impl SpareMaker {
    /// A fresh context with its own (unarmed) proxy, downloads denied, and a blank page.
    pub(crate) async fn make(&self) -> Result<Spare, String> {
        let proxy = GuardProxy::start_unarmed(self.proxy_bind, self.peers.clone())
            .await
            .map_err(|e| format!("cannot start a context's proxy: {e}"))?;
        let params = CreateBrowserContextParams::builder()
            .proxy_server(format!("http://{}", proxy.addr()))
            // Loopback is filtered like any other host (Chromium would bypass it otherwise).
            .proxy_bypass_list("<-loopback>")
            .build();
        let context = self
            .browser
            .create_browser_context(params)
            .await
            .map_err(|e| format!("cannot create a browser context: {e}"))?;
        let mut spare = Spare {
            browser: self.browser.clone(),
            context: Some(context.clone()),
            page: None,
            proxy: Some(proxy),
            dead: self.dead.clone(),
            staging: self
                .profile_dir
                .join(format!("ctx-{}", uuid::Uuid::now_v7())),
            viewport: self.viewport,
            remote: self.peers.is_some(),
        };
        let mut deny = SetDownloadBehaviorParams::new(SetDownloadBehaviorBehavior::Deny);
        deny.browser_context_id = Some(context.clone());
        self.browser
            .execute(deny)
            .await
            .map_err(|e| format!("cannot deny downloads in a context: {e}"))?;
        let target = CreateTargetParams::builder()
            .url("about:blank")
            .browser_context_id(context)
            .build()
            .map_err(|e| format!("cannot describe a page: {e}"))?;
        let page = self
            .browser
            .new_page(target)
            .await
            .map_err(|e| format!("cannot open a page in a context: {e}"))?;
        spare.page = Some(page);
        Ok(spare)
    }
}

/// A context waiting for a run. Dropped unused, it disposes its context.
pub(crate) struct Spare {
    browser: Arc<Browser>,
    context: Option<BrowserContextId>,
    page: Option<chromiumoxide::Page>,
    /// The context's own proxy, unarmed until a run takes the context.
    proxy: Option<GuardProxy>,
    dead: CancellationToken,
    /// Where the run's allowed downloads are staged; removed with the context.
    staging: PathBuf,
    viewport: Viewport,
    /// In a remote browser: downloads would land on its machine, so none may be kept.
    remote: bool,
}

impl Drop for Spare {
    fn drop(&mut self) {
        if let Some(context) = self.context.take() {
            dispose_later(self.browser.clone(), context, &self.staging);
        }
    }
}

/// Disposes a context from a drop path (no await there); its pages close with it.
fn dispose_later(browser: Arc<Browser>, context: BrowserContextId, staging: &Path) {
    let staging = staging.to_path_buf();
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            let dispose = browser.dispose_browser_context(context);
            let _ = tokio::time::timeout(Duration::from_secs(5), dispose).await;
            let _ = tokio::fs::remove_dir_all(&staging).await;
        });
    }
}
