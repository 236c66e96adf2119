//! What the model sees: the system prompt (task rules, credential *names*, a compact progress
//! memory), then the conversation — pruned so that only the latest exchanges are whole, older
//! page snapshots are replaced by a marker, older results are cut short, and only the latest
//! screenshots (`[agent] keep_images`) stay images.

use serde_json::{Value, json};

use crate::llm::ToolCall;

/// Marker that starts every page snapshot (from `observe`).
const SNAPSHOT_MARK: &str = "[web-content-start]";
/// What replaces an older screenshot.
pub(crate) const IMAGE_OMITTED: &str = "[older screenshot omitted]";
/// What replaces an older snapshot.
const SNAPSHOT_OMITTED: &str = "[older page snapshot omitted; call observe for the current page]";
/// Entries kept per memory list.
const MEMORY_ITEMS: usize = 8;
/// Characters kept per memory entry.
const MEMORY_CHARS: usize = 160;

#[derive(Clone, Debug)]
enum Entry {
    User(String),
    Assistant {
        content: Option<String>,
        calls: Vec<ToolCall>,
    },
    Tool {
        id: String,
        content: String,
    },
    /// A screenshot for a model that sees: a caption and a `data:image/jpeg;base64,` URL.
    Image {
        caption: String,
        data_url: String,
    },
}

/// A compact account of the run so far, rebuilt into the system prompt on every call.
#[derive(Debug, Default)]
pub(crate) struct Memory {
    pages: Vec<String>,
    actions: Vec<String>,
    findings: Vec<String>,
    failures: Vec<String>,
    action_count: u32,
}

impl Memory {
    /// The latest page seen.
    pub(crate) fn last_page(&self) -> Option<&str> {
        self.pages.last().map(String::as_str)
    }

    pub(crate) fn page(&mut self, url: &str) {
        if self.pages.last().map(String::as_str) != Some(url) {
            push_capped(&mut self.pages, url.to_owned());
        }
    }

    pub(crate) fn action(&mut self, summary: &str, outcome: Result<&str, &str>) {
        self.action_count += 1;
        let line = match outcome {
            Ok(_) => format!("{summary} → ok"),
            Err(e) => format!("{summary} → error: {}", clip(e)),
        };
        push_capped(&mut self.actions, line);
        if let Err(e) = outcome {
            push_capped(&mut self.failures, format!("{summary}: {}", clip(e)));
        }
    }

    pub(crate) fn finding(&mut self, summary: &str, text: &str) {
        push_capped(&mut self.findings, format!("{summary}: {}", clip(text)));
    }

    fn render(&self) -> String {
        let mut out = format!("Actions taken: {}.", self.action_count);
        for (title, items) in [
            ("Pages seen", &self.pages),
            ("Recent actions", &self.actions),
            ("Findings", &self.findings),
            ("Failures", &self.failures),
        ] {
            if !items.is_empty() {
                out.push_str(&format!("\n{title}:\n- {}", items.join("\n- ")));
            }
        }
        out
    }
}

fn push_capped(list: &mut Vec<String>, item: String) {
    list.push(item);
    if list.len() > MEMORY_ITEMS {
        list.remove(0);
    }
}

fn clip(text: &str) -> String {
    crate::request::clip(&text.replace('\n', " "), MEMORY_CHARS)
}

/// The conversation with one model.
#[derive(Debug)]
pub(crate) struct Conversation {
    system: String,
    entries: Vec<Entry>,
    pub(crate) memory: Memory,
    keep_recent: usize,
    older_chars: usize,
    /// Screenshots kept as images; older ones become [`IMAGE_OMITTED`].
    pub(crate) keep_images: usize,
}

impl Conversation {
    pub(crate) fn new(system: String, keep_recent: usize, older_chars: usize) -> Self {
        Self {
            system,
            entries: Vec::new(),
            memory: Memory::default(),
            keep_recent: keep_recent.max(1),
            older_chars,
            keep_images: 2,
        }
    }

    /// A screenshot the model will see (as a user message: tool results carry text only).
    pub(crate) fn image(&mut self, caption: String, jpeg: &[u8]) {
        use base64::Engine as _;
        let data = base64::engine::general_purpose::STANDARD.encode(jpeg);
        self.entries.push(Entry::Image {
            caption,
            data_url: format!("data:image/jpeg;base64,{data}"),
        });
    }

    pub(crate) fn user(&mut self, text: String) {
        self.entries.push(Entry::User(text));
    }

    pub(crate) fn assistant(&mut self, content: Option<String>, calls: Vec<ToolCall>) {
        self.entries.push(Entry::Assistant { content, calls });
    }

    pub(crate) fn tool(&mut self, id: &str, content: String) {
        self.entries.push(Entry::Tool {
            id: id.to_owned(),
            content,
        });
    }

    /// The messages for the next call, pruned.
    pub(crate) fn messages(&self) -> Vec<Value> {
        let assistant_turns: Vec<usize> = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| matches!(e, Entry::Assistant { .. }))
            .map(|(i, _)| i)
            .collect();
        // Entries before the start of the `keep_recent`-th latest exchange are pruned.
        let recent_from = assistant_turns
            .len()
            .checked_sub(self.keep_recent)
            .map_or(0, |i| assistant_turns[i]);
        let system = format!(
            "{}\n\n## Progress so far\n{}",
            self.system,
            self.memory.render()
        );
        let images = self
            .entries
            .iter()
            .filter(|e| matches!(e, Entry::Image { .. }))
            .count();
        let mut image_no = 0;
        let mut messages = vec![json!({"role": "system", "content": system})];
        for (i, entry) in self.entries.iter().enumerate() {
            if matches!(entry, Entry::Image { .. }) {
                image_no += 1;
            }
            // Images: the latest `keep_images` stay.
            let old_image = image_no + self.keep_images <= images;
            messages.push(self.message(entry, i < recent_from, old_image));
        }
        messages
    }

    /// One entry as a message; `old`: before the latest exchanges (pruned).
    fn message(&self, entry: &Entry, old: bool, old_image: bool) -> Value {
        match entry {
            Entry::User(text) => json!({"role": "user", "content": self.prune(text, old)}),
            Entry::Assistant { content, calls } => {
                let calls: Vec<Value> = calls
                    .iter()
                    .map(|c| {
                        json!({"id": c.id, "type": "function",
                               "function": {"name": c.name, "arguments": c.arguments}})
                    })
                    .collect();
                let mut m = json!({"role": "assistant", "content": content});
                if !calls.is_empty() {
                    m["tool_calls"] = Value::Array(calls);
                }
                m
            }
            Entry::Tool { id, content } => {
                json!({"role": "tool", "tool_call_id": id, "content": self.prune(content, old)})
            }
            Entry::Image { caption, data_url } => image_message(caption, data_url, !old_image),
        }
    }

    fn prune(&self, text: &str, old: bool) -> String {
        if !old {
            return text.to_owned();
        }
        match text.find(SNAPSHOT_MARK) {
            Some(at) => format!("{}{SNAPSHOT_OMITTED}", &text[..at]),
            None => crate::request::clip(text, self.older_chars),
        }
    }
}

/// A screenshot as a user message: the image itself while `keep`, else a marker.
fn image_message(caption: &str, data_url: &str, keep: bool) -> Value {
    if !keep {
        return json!({"role": "user", "content": format!("{caption} {IMAGE_OMITTED}")});
    }
    json!({"role": "user", "content": [
        {"type": "text", "text": caption},
        {"type": "image_url", "image_url": {"url": data_url}},
    ]})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(id: &str) -> ToolCall {
        ToolCall {
            id: id.into(),
            name: "browser".into(),
            arguments: "{}".into(),
        }
    }

    #[test]
    fn older_snapshots_are_dropped_and_older_results_cut() {
        let mut c = Conversation::new("rules".into(), 1, 10);
        c.user("Task: x\n[web-content-start]\nbig page\n[web-content-end]".into());
        c.assistant(None, vec![call("1")]);
        c.tool("1", "a long result that goes on and on".into());
        c.assistant(None, vec![call("2")]);
        c.tool("2", "[web-content-start] the latest page".into());
        c.memory.page("https://a.test/");
        c.memory.action("goto https://a.test/", Ok("fine"));
        let m = c.messages();
        assert!(
            m[0]["content"]
                .as_str()
                .unwrap()
                .contains("Pages seen:\n- https://a.test/")
        );
        assert_eq!(m[1]["content"], format!("Task: x\n{SNAPSHOT_OMITTED}"));
        assert_eq!(m[3]["content"], "a long res…");
        assert_eq!(m[5]["content"], "[web-content-start] the latest page");
        assert_eq!(m[4]["tool_calls"][0]["id"], "2");
    }

    #[test]
    fn only_the_latest_screenshots_stay_images() {
        let mut c = Conversation::new("rules".into(), 3, 10);
        for n in 1..=3u8 {
            c.assistant(None, vec![call(&n.to_string())]);
            c.tool(&n.to_string(), "Captured 1 KiB JPEG".into());
            c.image(format!("Screenshot {n}:"), &[0xff, 0xd8, n]);
        }
        let m = c.messages();
        let images: Vec<&Value> = m
            .iter()
            .filter(|m| m["role"] == "user")
            .map(|m| &m["content"])
            .collect();
        assert_eq!(images.len(), 3);
        assert_eq!(images[0], &json!(format!("Screenshot 1: {IMAGE_OMITTED}")));
        for (image, n) in images[1..].iter().zip(2u8..) {
            assert_eq!(image[0]["text"], format!("Screenshot {n}:"));
            let url = image[1]["image_url"]["url"].as_str().unwrap();
            use base64::Engine as _;
            let b64 = base64::engine::general_purpose::STANDARD.encode([0xff, 0xd8, n]);
            assert_eq!(url, format!("data:image/jpeg;base64,{b64}"));
        }
    }
}
