//! The benchmark's header: the machine it ran on (cores, RAM, CPU, load), and the versions of
//! Chromium, Node and Playwright, so a table is never read without its context.

use std::path::Path;

use crate::CHROMIUM;

/// Load average (1, 5, 15 min) from `/proc/loadavg`: the noise other work on the machine adds.
pub(crate) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

impl Machine {
    /// Reads the machine's facts; a fact that cannot be read shows as `?`.
    pub(crate) async fn probe(root: &Path, playwright: Option<String>) -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
            .unwrap_or_else(|| "?".into());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let ram_gib = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|l| l.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kib| kib / 1024.0 / 1024.0);
        // The version query starts a Chromium; keep its profile under the leak-checked root.
        let chromium = command_output(
            CHROMIUM,
            &[
                "--version",
                &format!("--user-data-dir={}", root.join("version").display()),
            ],
        )
        .await;
        Self {
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu,
            ram_gib,
            load: load_average(),
            chromium,
            node: command_output("node", &["--version"]).await,
            playwright: playwright.unwrap_or_else(|| "not installed".into()),
        }
    }

    /// Prints the header lines.
    pub(crate) fn print(&self, base: &str) {
        println!("# Pilothouse benchmark: issue 11's ten-step workload");
        println!(
            "machine: {} cores ({}), {:.1} GiB RAM, load average before: {}",
            self.cores, self.cpu, self.ram_gib, self.load
        );
        println!(
            "{} ({CHROMIUM}); node {}; playwright-core {}; site {base}; recording off unless noted",
            self.chromium, self.node, self.playwright
        );
    }
}

/// The first line a command prints, or `?`.
async fn command_output(program: &str, args: &[&str]) -> String {
    tokio::process::Command::new(program)
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "?".into())
}

/// Facts about the machine the benchmark ran on.
pub(crate) struct Machine {
    cores: usize,
    cpu: String,
    ram_gib: f64,
    load: String,
    chromium: String,
    node: String,
    playwright: String,
}
