//! The proxy's refusals over a real loopback connection: Chromium's service hosts are refused
//! silently whatever the scope, a page's refused request is reported.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Armed, GuardProxy};
use crate::guard::{Block, Guard};
use crate::request::GuardrailSpec;
use crate::run::RunId;

/// A proxy with these guardrails and the refusals it reported.
async fn proxy(spec: GuardrailSpec) -> (GuardProxy, Arc<Mutex<Vec<String>>>) {
    let reported = Arc::new(Mutex::new(Vec::new()));
    let sink = reported.clone();
    let proxy = GuardProxy::start(Armed {
        run_id: RunId::new(),
        guard: Arc::new(Guard::new(&spec)),
        on_block: Arc::new(move |_: &Block, target: &str| {
            sink.lock().unwrap().push(target.to_owned())
        }),
    })
    .await
    .unwrap();
    (proxy, reported)
}

/// Sends one request line and returns the response's status line.
async fn ask(proxy: &GuardProxy, request: &str) -> String {
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 1024];
    let n = stream.read(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    text.lines().next().unwrap_or_default().to_owned()
}

fn connect(host: &str) -> String {
    format!("CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n\r\n")
}

#[tokio::test]
async fn service_hosts_are_refused_silently_even_when_any_host_is_allowed() {
    // Empty allowed_domains: any public host is in scope.
    let (proxy, reported) = proxy(GuardrailSpec::default()).await;
    for host in [
        "passwordsleakcheck-pa.googleapis.com",
        "safebrowsing.googleapis.com",
        "optimizationguide-pa.googleapis.com",
        "update.googleapis.com",
    ] {
        let status = ask(&proxy, &connect(host)).await;
        assert!(status.contains(" 403 "), "{host}: {status}");
    }
    let plain = "GET http://sb-ssl.google.com/safebrowsing/clientreport/download HTTP/1.1\r\n\
                 Host: sb-ssl.google.com\r\n\r\n";
    assert!(ask(&proxy, plain).await.contains(" 403 "));
    assert!(reported.lock().unwrap().is_empty(), "{reported:?}");
}

#[tokio::test]
async fn a_pages_refused_request_is_reported_but_a_shared_service_host_is_not() {
    let spec = GuardrailSpec {
        allowed_domains: vec!["127.0.0.1".into()],
        allow_private_networks: true,
        ..GuardrailSpec::default()
    };
    let (proxy, reported) = proxy(spec).await;
    assert!(
        ask(&proxy, &connect("outside.example"))
            .await
            .contains(" 403 ")
    );
    assert!(
        ask(&proxy, &connect("accounts.google.com"))
            .await
            .contains(" 403 ")
    );
    assert_eq!(
        *reported.lock().unwrap(),
        ["https://outside.example:443/"],
        "only the page's request is a run event"
    );
}

#[tokio::test]
async fn an_unarmed_proxy_refuses_everything_until_its_run_arms_it_once() {
    let proxy = GuardProxy::start_unarmed([127, 0, 0, 1].into(), None)
        .await
        .unwrap();
    let site = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = format!("127.0.0.1:{}", site.local_addr().unwrap().port());
    let request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n");
    assert!(ask(&proxy, &request).await.contains(" 403 "), "unarmed");
    let spec = GuardrailSpec {
        allowed_domains: vec!["127.0.0.1".into()],
        allow_private_networks: true,
        ..GuardrailSpec::default()
    };
    let reported = Arc::new(Mutex::new(Vec::new()));
    let sink = reported.clone();
    let armed = |spec: &GuardrailSpec| Armed {
        run_id: RunId::new(),
        guard: Arc::new(Guard::new(spec)),
        on_block: Arc::new({
            let sink = sink.clone();
            move |_: &Block, target: &str| sink.lock().unwrap().push(target.to_owned())
        }),
    };
    assert!(proxy.arm(armed(&spec)));
    assert!(ask(&proxy, &request).await.contains(" 200 "), "armed");
    // It never changes hands: a second run's wider or narrower guard is not taken.
    assert!(!proxy.arm(armed(&GuardrailSpec::default())));
    assert!(ask(&proxy, &request).await.contains(" 200 "));
    assert!(reported.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_proxy_with_peers_closes_connections_from_anyone_else() {
    let proxy = GuardProxy::start_unarmed(
        [127, 0, 0, 1].into(),
        Some(Arc::from(vec![std::net::IpAddr::from([127, 0, 0, 9])])),
    )
    .await
    .unwrap();
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    stream
        .write_all(connect("example.com").as_bytes())
        .await
        .unwrap();
    let mut buf = vec![0u8; 64];
    let n = stream.read(&mut buf).await.unwrap_or(0);
    assert_eq!(
        n,
        0,
        "closed unanswered: {:?}",
        String::from_utf8_lossy(&buf[..n])
    );
}
