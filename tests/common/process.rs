//! The built `txhook` binary as the tests run it, and loopback addresses to give it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The `txhook` binary cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_txhook");

/// `txhook --config <empty file> <args>` with a cleared environment but for `PATH`: neither
/// the repository's `config.toml` nor the developer's variables leak in, and the test sets
/// the ones it means. `.into()` makes it a `tokio::process::Command`.
pub fn txhook(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .arg("--config")
        .arg(empty_config())
        .args(args);
    cmd
}

/// An empty configuration file, for `--config`.
pub fn empty_config() -> PathBuf {
    let path = std::env::temp_dir().join("txhook-test-empty-config.toml");
    std::fs::write(&path, "").expect("write an empty config file");
    path
}

/// A child process, killed when dropped, so that a failing test leaves none running.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether the test was asked to show the logs of what it runs (`TEST_LOG=1`).
pub fn show_logs() -> bool {
    std::env::var("TEST_LOG").is_ok()
}

/// Where a child process's logs go: the test's own stderr with `TEST_LOG`, else nowhere.
pub fn logs() -> Stdio {
    if show_logs() {
        Stdio::inherit()
    } else {
        Stdio::null()
    }
}

/// A loopback address nothing listens on (bound, then released).
pub fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
}

/// The port of a [`free_addr`].
pub fn free_port() -> u16 {
    free_addr().port()
}
