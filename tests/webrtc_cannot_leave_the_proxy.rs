//! WebRTC cannot carry a packet past the run's proxy: STUN and TURN over UDP and TCP, and ICE
//! checks towards a remote candidate, started from the page, a same-site and a cross-site
//! iframe, an `about:blank` frame and two kinds of popup. An "outside" UDP socket and TCP
//! listener on 127.0.0.2 (one pair per case, so a leak names its case) must hear nothing, and
//! the step after the probe must still complete. (Measured before the fix, with only the
//! `force-` spelling of the policy switch: 53–85 datagrams reached the UDP listener per case.)

mod common;

use std::io::ErrorKind;
use std::net::{TcpListener, UdpSocket};

use common::{Harness, Page};
use futures::StreamExt;
use pilothouse::{EventKind, RunEvent, RunId, RunState};

/// Starts WebRTC in `win` towards the listeners: a STUN server and a TURN server over UDP, a
/// TURN server over TCP, and (after an offer/answer with a local peer) remote host candidates
/// on both, so ICE connectivity checks are sent there too. Resolves when candidate gathering
/// completes or after 2.5 s, whichever comes first.
const PROBE: &str = r#"
async function probe(win, udp, tcp) {
  const servers = [
    { urls: 'stun:127.0.0.2:' + udp },
    { urls: ['turn:127.0.0.2:' + udp + '?transport=udp', 'turn:127.0.0.2:' + tcp + '?transport=tcp'],
      username: 'u', credential: 'p' },
  ];
  const pc = new win.RTCPeerConnection({ iceServers: servers });
  const peer = new win.RTCPeerConnection();
  const candidates = [];
  pc.onicecandidate = e => { if (e.candidate) candidates.push(e.candidate.candidate); };
  pc.createDataChannel('x');
  await pc.setLocalDescription(await pc.createOffer());
  await peer.setRemoteDescription(pc.localDescription);
  await peer.setLocalDescription(await peer.createAnswer());
  await pc.setRemoteDescription(peer.localDescription);
  for (const c of [
    'candidate:1 1 udp 2122260223 127.0.0.2 ' + udp + ' typ host generation 0',
    'candidate:2 1 tcp 1518280447 127.0.0.2 ' + tcp + ' typ host tcptype passive generation 0',
  ]) {
    try { await pc.addIceCandidate({ candidate: c, sdpMid: '0', sdpMLineIndex: 0 }); } catch (e) {}
  }
  await new Promise(done => {
    const timer = setTimeout(done, 2500);
    const check = () => { if (pc.iceGatheringState === 'complete') { clearTimeout(timer); done(); } };
    pc.onicegatheringstatechange = check;
    check();
  });
  return 'gathered ' + candidates.length;
}
"#;

fn pages() -> Vec<(&'static str, Page)> {
    vec![
        (
            "/rtc",
            Page::Html(format!(
                "<title>rtc</title><p id='after'>still here</p><script>{PROBE}</script>"
            )),
        ),
        (
            // Runs the probe on load with the ports from its query, and posts the result to
            // whoever opened or embeds it.
            "/rtc-auto",
            Page::Html(format!(
                "<title>auto</title><script>{PROBE}
const q = new URLSearchParams(location.search);
probe(window, q.get('udp'), q.get('tcp')).then(
  r => (window.opener || window.parent).postMessage(r, '*'),
  e => (window.opener || window.parent).postMessage('error ' + e, '*'));
</script>"
            )),
        ),
    ]
}

/// Waits for the first message posted to the page after `start` ran.
fn await_message(start: &str) -> String {
    format!(
        "new Promise(done => {{ addEventListener('message', e => done(String(e.data))); {start}; }})"
    )
}

struct Case {
    name: &'static str,
    /// The probe step's script; UDP, TCP and CROSS (a cross-site base URL) are filled in.
    script: String,
}

fn cases() -> Vec<Case> {
    let auto = "'/rtc-auto?udp=UDP&tcp=TCP'";
    vec![
        Case {
            name: "page",
            script: "probe(window, UDP, TCP)".into(),
        },
        Case {
            name: "same-site iframe",
            script: await_message(&format!(
                "const f = document.createElement('iframe'); f.src = {auto}; document.body.append(f)"
            )),
        },
        Case {
            name: "cross-site iframe",
            script: await_message(&format!(
                "const f = document.createElement('iframe'); f.src = 'CROSS' + {auto}; document.body.append(f)"
            )),
        },
        Case {
            name: "about:blank frame",
            script:
                "(() => { const f = document.createElement('iframe'); document.body.append(f); \
                     return probe(f.contentWindow, UDP, TCP); })()"
                    .into(),
        },
        Case {
            name: "popup",
            script: await_message(&format!("window.open({auto})")),
        },
        Case {
            name: "about:blank popup",
            script: "probe(window.open(''), UDP, TCP)".into(),
        },
    ]
}

/// One case's "outside" listeners on 127.0.0.2, read without blocking once the run is over.
struct Outside {
    udp: UdpSocket,
    tcp: TcpListener,
}

impl Outside {
    fn bind() -> Self {
        let udp = UdpSocket::bind("127.0.0.2:0").unwrap();
        udp.set_nonblocking(true).unwrap();
        let tcp = TcpListener::bind("127.0.0.2:0").unwrap();
        tcp.set_nonblocking(true).unwrap();
        Self { udp, tcp }
    }

    fn ports(&self) -> (u16, u16) {
        (
            self.udp.local_addr().unwrap().port(),
            self.tcp.local_addr().unwrap().port(),
        )
    }

    /// Datagrams and connections that reached the listeners (all queued in the kernel).
    fn heard(&self) -> (usize, usize) {
        let mut buf = [0u8; 2048];
        let mut datagrams = 0;
        loop {
            match self.udp.recv_from(&mut buf) {
                Ok(_) => datagrams += 1,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("udp listener: {e}"),
            }
        }
        let mut connections = 0;
        loop {
            match self.tcp.accept() {
                Ok(_) => connections += 1,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("tcp listener: {e}"),
            }
        }
        (datagrams, connections)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webrtc_reaches_no_outside_listener_from_any_frame_or_popup() {
    let h = Harness::new(pages())
        .config(|c| c.max_concurrent_runs = 3)
        .start()
        .await;
    // The engine says which mechanism holds runs to their proxy.
    let stats = h.handle.stats().await.unwrap();
    assert_eq!(stats.egress, "proxy+webrtc-proxied-only");

    let mut leaks = Vec::new();
    for (case, outside, run_id) in submit_probes(&h).await {
        let events: Vec<_> = h.handle.events(run_id, 0).await.unwrap().collect().await;
        leaks.extend(check_probe(&case, &outside, &events));
    }
    assert!(leaks.is_empty(), "WebRTC escaped the proxy: {leaks:#?}");
    h.finish().await;
}

/// One run per case, each probing its own outside listener on 127.0.0.2.
async fn submit_probes(h: &Harness) -> Vec<(Case, Outside, RunId)> {
    let cross = format!("http://localhost:{}", h.site.addr.port());
    let mut runs = Vec::new();
    for case in cases() {
        let outside = Outside::bind();
        let (udp, tcp) = outside.ports();
        let script = case
            .script
            .replace("UDP", &udp.to_string())
            .replace("TCP", &tcp.to_string())
            .replace("CROSS", &cross);
        let steps = serde_json::json!([
            {"action": "goto", "url": "{base}/rtc"},
            {"action": "evaluate", "script": script, "store_as": "probe"},
            {"action": "extract", "selector": "#after", "store_as": "after"},
        ]);
        let json = format!(
            r#"{{"driver": {{"type": "script", "steps": {steps}}},
                "guardrails": {{"allowed_domains": ["127.0.0.1", "localhost"], "allow_private_networks": true}}}}"#
        );
        let run_id = h.submit_json(&json).await;
        runs.push((case, outside, run_id));
    }
    runs
}

/// Fails unless the case's run completed past its probe; the leak, if its outside listener
/// heard anything.
fn check_probe(case: &Case, outside: &Outside, events: &[RunEvent]) -> Option<String> {
    let EventKind::Finished { status } = &events.last().unwrap().kind else {
        panic!("{}: no terminal event", case.name);
    };
    assert_eq!(
        status.state,
        RunState::Completed,
        "{}: {status:?}",
        case.name
    );
    assert_eq!(
        status.data.get("after").and_then(|v| v.as_str()),
        Some("still here"),
        "{}: the step after the probe did not run: {status:?}",
        case.name
    );
    let probe = status.data.get("probe").cloned().unwrap_or_default();
    let refused: Vec<&str> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::GuardrailBlocked { target, .. } => Some(target.as_str()),
            _ => None,
        })
        .collect();
    let (datagrams, connections) = outside.heard();
    eprintln!(
        "{}: probe {probe}, {datagrams} datagrams, {connections} connections, refused {refused:?}",
        case.name
    );
    (datagrams + connections > 0).then(|| {
        format!(
            "{}: {datagrams} UDP datagrams and {connections} TCP connections reached 127.0.0.2",
            case.name
        )
    })
}
