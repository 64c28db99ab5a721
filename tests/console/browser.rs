//! Headless Chromium for the console's browser tests, driven over WebDriver: each test starts
//! its own chromedriver on a free loopback port (in a process group of its own, so that the
//! browser it starts goes with it) and a Chromium with a fresh profile in a temporary
//! directory.
//!
//! The binaries come from `TXHOOK_CHROMIUM` and `TXHOOK_CHROMEDRIVER`, or from PATH
//! (`chromium`, `chromedriver`: Debian's `chromium` and `chromium-driver` packages, which
//! `scripts/test.sh` installs when they are missing). Without them the tests fail, unless
//! `TXHOOK_SKIP_BROWSER=1` says to skip them.

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::time::{Instant, sleep};

use crate::common::process::free_port;

/// How long anything the tests wait for may take.
pub const WAIT: Duration = Duration::from_secs(20);
/// How often a condition is looked at again while waiting.
const POLL: Duration = Duration::from_millis(50);

/// Whether the browser tests run: `TXHOOK_SKIP_BROWSER=1` skips them, on purpose.
pub fn wanted() -> bool {
    if std::env::var("TXHOOK_SKIP_BROWSER").is_ok_and(|v| v == "1") {
        eprintln!("TXHOOK_SKIP_BROWSER=1: browser test skipped");
        return false;
    }
    true
}

/// `$var` if set, else the first of `names` on PATH.
fn binary(var: &str, names: &[&str]) -> PathBuf {
    if let Some(p) = std::env::var_os(var).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "{var}={} is not a file", p.display());
        return p;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    names
        .iter()
        .flat_map(|n| std::env::split_paths(&path).map(move |d| d.join(n)))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{} not found on PATH: the console's browser tests need Debian's `chromium` and \
                 `chromium-driver` (scripts/test.sh installs them with apt-get), or {var} set to \
                 the binary; TXHOOK_SKIP_BROWSER=1 skips these tests",
                names[0]
            )
        })
}

/// A Chromium session on the console at `base`.
pub struct Browser {
    pub client: Client,
    pub base: String,
    driver: Child,
    dir: PathBuf,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium for the server at `base`.
    pub async fn launch(base: String) -> Self {
        let chromium = binary("TXHOOK_CHROMIUM", &["chromium", "chromium-browser"]);
        let chromedriver = binary("TXHOOK_CHROMEDRIVER", &["chromedriver"]);
        let dir = std::env::temp_dir().join(format!("txhook-browser-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let port = free_port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .arg(format!(
                "--log-path={}",
                dir.join("chromedriver.log").display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
        let mut args = vec![
            "--headless=new".to_owned(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--window-size=1280,800".into(),
            "--no-first-run".into(),
            "--no-default-browser-check".into(),
            "--disable-extensions".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--password-store=basic".into(),
            format!("--user-data-dir={}", dir.join("profile").display()),
        ];
        // Chromium's sandbox refuses to run as root.
        if std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
            args.push("--no-sandbox".into());
        }
        let mut caps = Capabilities::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": chromium, "args": args }),
        );
        caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
        let mut browser = Self {
            client: connect(port, caps).await,
            base,
            driver,
            dir,
        };
        browser.driver_alive();
        browser
    }

    fn driver_alive(&mut self) {
        if let Ok(Some(status)) = self.driver.try_wait() {
            panic!("chromedriver exited: {status}");
        }
    }

    /// Ends the browser session (Chromium quits); chromedriver goes on drop.
    pub async fn finish(self) {
        self.assert_clean().await;
        let _ = self.client.clone().close().await;
    }

    /// Opens `path` of the server and waits for the page to load.
    pub async fn visit(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
        self.assert_same_origin().await;
    }

    /// The element `css`, once it exists.
    pub async fn find(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(e) => e,
            Err(e) => panic!("no {css} on {}: {e}", self.url().await),
        }
    }

    /// Clicks the element `css`, once it exists.
    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap();
    }

    /// Every element `css`, now.
    pub async fn all(&self, css: &str) -> Vec<Element> {
        self.client.find_all(Locator::Css(css)).await.unwrap()
    }

    /// The text of every element `css`, now.
    pub async fn texts(&self, css: &str) -> Vec<String> {
        let mut out = Vec::new();
        for e in self.all(css).await {
            out.push(e.text().await.unwrap());
        }
        out
    }

    /// Waits until the text of `css` satisfies `ok`; returns it.
    pub async fn wait_text(&self, css: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        let mut last = String::new();
        loop {
            if let Ok(e) = self.client.find(Locator::Css(css)).await {
                last = e.text().await.unwrap_or_default();
                if ok(&last) {
                    return last;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{css} never showed what was expected on {}; last text: {last:?}",
                self.url().await
            );
            sleep(POLL).await;
        }
    }

    /// Waits until there are `n` elements `css`.
    pub async fn wait_count(&self, css: &str, n: usize) {
        let deadline = Instant::now() + WAIT;
        loop {
            let found = self.all(css).await.len();
            if found == n {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{found} {css} on {}, not {n}",
                self.url().await
            );
            sleep(POLL).await;
        }
    }

    /// Runs `script` in the page and returns its value.
    pub async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    pub async fn url(&self) -> String {
        self.client
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default()
    }

    /// Signs in with `token` through the form.
    pub async fn sign_in(&self, token: &str) {
        self.visit("/console/login").await;
        self.find("form#login input#token")
            .await
            .send_keys(token)
            .await
            .unwrap();
        self.find("form#login button[type=submit]")
            .await
            .click()
            .await
            .unwrap();
    }

    /// The page and everything it loaded came from the server and nowhere else.
    pub async fn assert_same_origin(&self) {
        let got = self
            .js("return [location.origin].concat(
                    performance.getEntriesByType('navigation').map(e => e.name),
                    performance.getEntriesByType('resource').map(e => e.name));")
            .await;
        let urls: Vec<&str> = got
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(urls.len() > 1, "no navigation entry: {urls:?}");
        for u in &urls {
            assert!(
                u.starts_with(&self.base),
                "{u} is not on the server {}: {urls:?}",
                self.base
            );
        }
    }

    /// What the browser logged since the last call (console messages, script errors, CSP
    /// violations, failed loads).
    pub async fn log(&self) -> Vec<Value> {
        match self.client.issue_cmd(BrowserLog).await.unwrap() {
            Value::Array(entries) => entries,
            other => panic!("the browser log is not a list: {other}"),
        }
    }

    /// No error and no warning in the browser's log.
    pub async fn assert_clean(&self) {
        let bad: Vec<Value> = self
            .log()
            .await
            .into_iter()
            .filter(|e| matches!(e["level"].as_str(), Some("SEVERE" | "WARNING")))
            .collect();
        assert!(bad.is_empty(), "the browser logged errors: {bad:#?}");
    }

    /// Saves a screenshot of the window as `console-<name>.png` in `TXHOOK_SCREENSHOTS`
    /// (default `target/console-screenshots`; `docs` refreshes the README's).
    pub async fn screenshot(&self, name: &str) {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let dir = std::env::var_os("TXHOOK_SCREENSHOTS")
            .map(|d| root.join(d))
            .unwrap_or_else(|| root.join("target/console-screenshots"));
        std::fs::create_dir_all(&dir).unwrap();
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a screenshot is a PNG");
        std::fs::write(dir.join(format!("console-{name}.png")), png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The whole process group: chromedriver and the Chromium it started, also when the
        // test failed before `finish`.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Opens a session once chromedriver listens.
async fn connect(port: u16, caps: Capabilities) -> Client {
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + WAIT;
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => return client,
            Err(e) if Instant::now() >= deadline => {
                panic!("no WebDriver session from chromedriver at {url}: {e}")
            }
            Err(_) => sleep(POLL).await,
        }
    }
}

/// Chromedriver's log endpoint (not in the W3C protocol): the browser's console.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.into()))
    }
}
