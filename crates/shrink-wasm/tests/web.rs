//! The page in `web/` driven by headless Chromium, as a visitor's browser runs it: build
//! the wasm module from this source, serve `web/` (with that module) from a small
//! `std::net` server, let the page's self-test (`?selftest=1`) classify its MNIST test
//! digits, and read the verdict from the DOM Chromium dumps. Then a malformed and a
//! missing model, which the page must report in its error element.
//!
//! Needs `chromium` on the PATH (or `$CHROMIUM`) and the `wasm32-unknown-unknown`
//! target; `.ci/run` installs both. Without them this test fails, it does not skip.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long one Chromium run may take (it normally takes a few seconds).
const CHROMIUM_DEADLINE: Duration = Duration::from_secs(120);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `.wasm` module built from the current source, once per test process, with
/// the command of `web/build.sh`, into a target directory of its own (so it never
/// waits on the lock of the build that runs this test).
fn fresh_wasm() -> &'static [u8] {
    static WASM: OnceLock<Vec<u8>> = OnceLock::new();
    WASM.get_or_init(|| {
        let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("shrink-wasm-build");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(repo_root())
            .args(["build", "--profile", "wasm", "-p", "shrink-wasm"])
            .args(["--target", "wasm32-unknown-unknown", "--target-dir"])
            .arg(&target_dir)
            .status()
            .expect("run cargo");
        assert!(
            status.success(),
            "building shrink-wasm for wasm32-unknown-unknown failed ({status}); \
             is the target installed? `rustup target add wasm32-unknown-unknown`"
        );
        let wasm = target_dir.join("wasm32-unknown-unknown/wasm/shrink_wasm.wasm");
        std::fs::read(&wasm).unwrap_or_else(|e| panic!("{}: {e}", wasm.display()))
    })
}

// ---------------------------------------------------------------------------------
// A static file server for the page, on 127.0.0.1 and an ephemeral port, that stops
// when dropped.

struct Server {
    addr: SocketAddr,
    /// Paths requested so far, in order.
    requested: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Serve `files` (URL path → bytes); anything else is a 404.
    fn start(files: HashMap<String, Vec<u8>>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let files = Arc::new(files);
        let requested = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (requested, stop) = (requested.clone(), stop.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let (files, requested) = (files.clone(), requested.clone());
                            // A connection per thread: Chromium may open one it never uses.
                            thread::spawn(move || {
                                let _ = respond(stream, &files, &requested);
                            });
                        }
                        Err(_) => thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        Server {
            addr,
            requested,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self, path_and_query: &str) -> String {
        format!("http://{}/{path_and_query}", self.addr)
    }

    fn requested(&self) -> Vec<String> {
        self.requested.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Answer one HTTP/1.1 request on `stream`, then close it.
fn respond(
    mut stream: TcpStream,
    files: &HashMap<String, Vec<u8>>,
    requested: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let mut words = head.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = target.split(['?', '#']).next().unwrap_or("");
    let path = if path == "/" { "/index.html" } else { path };
    requested.lock().unwrap().push(path.to_string());
    let (status, body, mime): (&str, &[u8], &str) = match files.get(path) {
        Some(body) if method == "GET" => ("200 OK", body, mime_type(path)),
        Some(_) => ("405 Method Not Allowed", b"", "text/plain"),
        None => ("404 Not Found", b"not found", "text/plain"),
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {mime}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    stream.flush()
}

fn mime_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        _ => "application/octet-stream",
    }
}

/// `web/` as the page is committed, its `.wasm` replaced by the fresh build, plus a
/// malformed model `bad.shrk` (the first half of `model.shrk`).
fn site() -> HashMap<String, Vec<u8>> {
    let mut files = HashMap::new();
    for entry in std::fs::read_dir(repo_root().join("web")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let name = path.file_name().unwrap().to_str().unwrap();
            files.insert(format!("/{name}"), std::fs::read(&path).unwrap());
        }
    }
    files.insert("/shrink_wasm.wasm".into(), fresh_wasm().to_vec());
    let model = &files["/model.shrk"];
    files.insert("/bad.shrk".into(), model[..model.len() / 2].to_vec());
    files
}

// ---------------------------------------------------------------------------------
// Chromium

/// The DOM of `url` after the page has run, as headless Chromium dumps it. Virtual
/// time lets the page's fetches and wasm work finish before the dump.
fn dump_dom(url: &str) -> String {
    let chromium = std::env::var_os("CHROMIUM").unwrap_or_else(|| "chromium".into());
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let profile = std::env::temp_dir().join(format!(
        "shrink-web-test-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let mut child = Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
        ])
        .args(["--no-first-run", "--disable-background-networking"])
        .args(["--disable-component-update", "--disable-sync"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--virtual-time-budget=10000", "--dump-dom", url])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {chromium:?}: {e}; install it (Debian: apt-get install -y \
                 chromium) or set $CHROMIUM"
            )
        });
    let drain = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > CHROMIUM_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(50));
    };
    let (dom, log) = (stdout.join().unwrap(), stderr.join().unwrap());
    let _ = std::fs::remove_dir_all(&profile);
    let tail: String = log.lines().rev().take(20).collect::<Vec<_>>().join("\n");
    match status {
        None => panic!("chromium ran over {CHROMIUM_DEADLINE:?} on {url}\n{tail}"),
        Some(s) if !s.success() || dom.is_empty() => {
            panic!("chromium failed on {url} ({s}), no DOM\n{tail}")
        }
        Some(_) => dom,
    }
}

/// Text content of the first element with `id`, or None when it is absent or hidden.
fn visible_text(dom: &str, id: &str) -> Option<String> {
    let at = dom.find(&format!(" id=\"{id}\""))?;
    let open_end = at + dom[at..].find('>')?;
    if dom[at..open_end].contains(" hidden") {
        return None;
    }
    let close = open_end + dom[open_end..].find("</")?;
    let text = &dom[open_end + 1..close];
    Some(
        text.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&nbsp;", "\u{a0}")
            .replace("&amp;", "&"),
    )
}

/// The JSON the page's self-test wrote into `<pre id="selftest">`.
fn selftest(dom: &str) -> serde_json::Value {
    let text = visible_text(dom, "selftest").unwrap_or_else(|| {
        panic!(
            "the page wrote no self-test result; its error element says {:?}",
            visible_text(dom, "error")
        )
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("self-test output {text:?}: {e}"))
}

// ---------------------------------------------------------------------------------

#[test]
fn page_classifies_mnist_test_digits_in_chromium() {
    let files = site();
    let server = Server::start(files.clone());
    let dom = dump_dom(&server.url("index.html?selftest=1"));
    let report = selftest(&dom);
    assert!(report.get("error").is_none(), "{report}");
    assert_eq!(visible_text(&dom, "error"), None);

    let results = report["results"].as_array().expect("results");
    assert!(results.len() >= 5, "{report}");
    for r in results {
        // As stored (28×28 MNIST pixels), and painted onto the drawing pad at 10× then
        // preprocessed like a drawing (20×20 box, centre of mass).
        assert_eq!(r["pred"], r["label"], "as stored: {r}");
        assert_eq!(r["redrawn"], r["label"], "through the drawing pad: {r}");
    }
    assert_eq!(report["model_bytes"], files["/model.shrk"].len());
    assert_eq!(report["wasm_bytes"], fresh_wasm().len());
    assert!(report["memory_bytes"].as_u64().unwrap() > 0);
    for path in [
        "/app.js",
        "/shrink.js",
        "/shrink_wasm.wasm",
        "/model.shrk",
        "/digits.bin",
    ] {
        assert!(
            server.requested().iter().any(|p| p == path),
            "{path} never fetched"
        );
    }
}

#[test]
fn page_reports_a_malformed_or_missing_model() {
    let server = Server::start(site());
    for (model, says) in [
        ("bad.shrk", "Could not load model bad.shrk: "),
        ("missing.shrk", "Could not fetch model missing.shrk: "),
    ] {
        let dom = dump_dom(&server.url(&format!("index.html?selftest=1&model={model}")));
        let shown =
            visible_text(&dom, "error").unwrap_or_else(|| panic!("{model}: no error shown"));
        assert!(shown.starts_with(says), "{model}: the page says {shown:?}");
        assert!(
            shown.len() > says.len() + 5,
            "{model}: no reason given: {shown:?}"
        );
        assert_eq!(selftest(&dom)["error"], shown.as_str(), "{model}");
        assert!(server.requested().contains(&format!("/{model}")));
    }
}
