//! The `pilothouse` binary: runs one request (`pilothouse run`) or the bundled demo
//! (`pilothouse demo`) on an embedded orchestrator. The commands live in `cli.rs` + `cli/`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
