//! A Chromium Pilothouse did not launch (`[browser] connect`): a DevTools connection, and the
//! addresses its requests come from, so the contexts' proxies serve nobody else.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use chromiumoxide::Browser;
use chromiumoxide::handler::HandlerConfig;
use chromiumoxide::handler::viewport::Viewport as CdpViewport;
use futures::StreamExt;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::request::Viewport;

/// A connection to a remote Chromium.
pub(super) struct Remote {
    pub(super) browser: Arc<Browser>,
    pub(super) dead: CancellationToken,
    /// The remote's own addresses: the only peers its contexts' proxies accept.
    pub(super) peers: Arc<[IpAddr]>,
    handler: JoinHandle<()>,
}

impl Drop for Remote {
    fn drop(&mut self) {
        self.handler.abort();
    }
}

impl Remote {
    /// Connects to `endpoint` (`ws://HOST:PORT/devtools/browser/…`) within `timeout`.
    pub(super) async fn connect(
        endpoint: &str,
        viewport: Viewport,
        timeout: Duration,
    ) -> Result<Self, String> {
        let url = url::Url::parse(endpoint).map_err(|e| format!("{endpoint}: {e}"))?;
        let host = url
            .host_str()
            .ok_or_else(|| format!("{endpoint}: no host"))?
            .trim_matches(['[', ']']);
        let port = url.port_or_known_default().unwrap_or(80);
        let peers: Vec<IpAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| format!("cannot resolve {host}: {e}"))?
            .map(|a| a.ip())
            .collect();
        let config = HandlerConfig {
            viewport: Some(CdpViewport {
                width: viewport.width,
                height: viewport.height,
                ..CdpViewport::default()
            }),
            request_timeout: timeout,
            ..HandlerConfig::default()
        };
        let connect = Browser::connect_with_config(endpoint, config);
        let (browser, mut handler) = tokio::time::timeout(timeout, connect)
            .await
            .map_err(|_| {
                format!(
                    "{endpoint} did not answer within {} ms",
                    timeout.as_millis()
                )
            })?
            .map_err(|e| format!("cannot connect to {endpoint}: {e}"))?;
        let dead = CancellationToken::new();
        let gone = dead.clone();
        let handler = tokio::spawn(async move {
            while let Some(event) = handler.next().await {
                if event.is_err() {
                    break;
                }
            }
            gone.cancel();
        });
        Ok(Self {
            browser: Arc::new(browser),
            dead,
            peers: peers.into(),
            handler,
        })
    }
}
