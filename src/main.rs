//! The `pilothouse` binary: runs one request (`pilothouse run`) or the bundled demo
//! (`pilothouse demo`) on an embedded orchestrator, serves the HTTP API (`pilothouse serve`),
//! and talks to a server (`status`, `events`, `runs`, `cancel`). The commands live in
//! `cli.rs` + `cli/`, the server in `server.rs` + `server/`, and what both need from the
//! process (config, exit codes, signals) in `host.rs`.

/// `println!` that never panics: a closed stdout (`pilothouse run x.json | head -1`) must not
/// abort the process before it has shut its browsers down, so write errors are ignored.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `eprintln!` that never panics, for the same reason as `say!`.
macro_rules! say_err {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod cli;
mod eval;
mod host;
mod server;

fn main() -> std::process::ExitCode {
    cli::main()
}
