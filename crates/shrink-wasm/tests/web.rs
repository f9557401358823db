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
    let chromium = shrink_testkit::chromium();
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

// ---------------------------------------------------------------------------------
// What a visitor sees: the panel about the file, the bars, the verdict on junk, the
// state after a failed load, and screenshots (desktop and phone) to look at.

/// Text of every `<td>` of the table with `id`, row by row.
fn table_rows(dom: &str, id: &str) -> Vec<Vec<String>> {
    let start = dom
        .find(&format!(" id=\"{id}\""))
        .unwrap_or_else(|| panic!("no table {id}"));
    let end = start + dom[start..].find("</table>").expect("table closes");
    let body = &dom[start..end];
    body.split("<tr")
        .skip(1)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|cell| {
                    let open = cell.find('>').unwrap() + 1;
                    let close = cell.find("</td>").unwrap();
                    cell[open..close].to_string()
                })
                .collect::<Vec<_>>()
        })
        .filter(|r| !r.is_empty())
        .collect()
}

/// The digits in `text`, as a number (`39 950 bytes` → 39950).
fn digits_of(text: &str) -> u64 {
    let d: String = text.chars().filter(char::is_ascii_digit).collect();
    d.parse()
        .unwrap_or_else(|_| panic!("no number in {text:?}"))
}

/// The numbers `shrink info FILE.shrk` prints, computed the way it computes them
/// (shrink_format::inspect for the bytes, the spec's parameter count for float32).
struct Info {
    name: String,
    file_bytes: u64,
    dense_bytes: u64,
    /// Per weight tensor (2-D or 4-D): numel, kept, bytes.
    weights: Vec<(u64, u64, u64)>,
    meta: HashMap<String, String>,
}

fn shrink_info(bytes: &[u8]) -> Info {
    let size = shrink_format::inspect(bytes).unwrap();
    let file = shrink_format::read(bytes).unwrap();
    let spec = shrink_format::spec::ModelSpec::from_toml(&file.spec_toml).unwrap();
    let weights = size
        .tensors
        .iter()
        .zip(&file.tensors)
        .filter(|(_, t)| t.data.shape().len() >= 2)
        .map(|(s, _)| (s.numel, s.kept, s.bytes))
        .collect();
    Info {
        name: spec.name.clone(),
        file_bytes: size.total_bytes,
        dense_bytes: 4 * spec.param_count().unwrap() as u64,
        weights,
        meta: file.meta.iter().cloned().collect(),
    }
}

/// Take a screenshot of `url` in a `width × height` window into `shot` (after the
/// page's self-test has run, under virtual time).
fn screenshot(url: &str, (width, height): (u32, u32), shot: &Path) -> image::RgbImage {
    let chromium = shrink_testkit::chromium();
    let profile =
        std::env::temp_dir().join(format!("shrink-web-shot-{}-{width}", std::process::id()));
    let _ = std::fs::remove_file(shot);
    let mut child = Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--hide-scrollbars",
        ])
        .args(["--no-first-run", "--disable-background-networking"])
        .args(["--disable-component-update", "--disable-sync"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--window-size={width},{height}"))
        .arg(format!("--screenshot={}", shot.display()))
        .args(["--virtual-time-budget=10000", url])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run chromium");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > CHROMIUM_DEADLINE {
            let _ = child.kill();
            panic!(
                "chromium ran over {CHROMIUM_DEADLINE:?} taking {}",
                shot.display()
            );
        }
        thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_dir_all(&profile);
    image::open(shot)
        .unwrap_or_else(|e| panic!("{}: {e}", shot.display()))
        .to_rgb8()
}

/// Pixels of the bars' colour (#2563eb) in `img`.
fn bar_pixels(img: &image::RgbImage) -> usize {
    img.pixels()
        .filter(|p| {
            let [r, g, b] = p.0;
            r.abs_diff(0x25) < 12 && g.abs_diff(0x63) < 12 && b.abs_diff(0xeb) < 12
        })
        .count()
}

#[test]
fn page_states_what_the_file_is_and_fills_the_bars() {
    let files = site();
    let info = shrink_info(&files["/model.shrk"]);
    let server = Server::start(files.clone());
    let dom = dump_dom(&server.url("index.html?selftest=1"));
    let report = selftest(&dom);
    assert!(report.get("error").is_none(), "{report}");

    // The panel, read from the file: `shrink info`'s numbers.
    let text = |id: &str| visible_text(&dom, id).unwrap_or_else(|| panic!("no #{id}"));
    assert!(
        text("model-name").contains(&info.name),
        "{}",
        text("model-name")
    );
    assert_eq!(digits_of(&text("dense-bytes")), info.dense_bytes);
    assert_eq!(digits_of(&text("model-bytes")), info.file_bytes);
    assert_eq!(
        text("ratio"),
        format!("{:.1}×", info.dense_bytes as f64 / info.file_bytes as f64)
    );
    let rows = table_rows(&dom, "layers");
    assert_eq!(rows.len(), info.weights.len(), "{rows:?}");
    for (row, &(numel, kept, bytes)) in rows.iter().zip(&info.weights) {
        assert_eq!(digits_of(&row[1]), numel, "{row:?}");
        assert_eq!(
            row[2],
            format!("{:.1}%", 100.0 * kept as f64 / numel as f64),
            "{row:?}"
        );
        assert_eq!(digits_of(&row[3]), bytes, "{row:?}");
    }
    let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(names, ["conv1", "conv2", "fc1", "fc2"], "LeNet-5's layers");
    // The accuracy the file records (`shrink eval --record` measured it; the test in
    // crates/shrink/tests/web_model.rs checks that it is what `shrink eval` measures).
    let error: f64 = info.meta["test_error"].parse().unwrap();
    let accuracy = text("accuracy");
    assert_eq!(
        accuracy.split('<').next().unwrap(),
        format!("{:.2}%", 100.0 * (1.0 - error)),
        "{accuracy}"
    );
    let examples: u64 = info.meta["test_examples"].parse().unwrap();
    let grouped = format!("{},{:03}", examples / 1000, examples % 1000).replace(',', "\u{2009}");
    assert!(
        dom.contains(&format!("on {grouped} mnist test images")),
        "the accuracy says what it was measured on"
    );

    // The top class's bar is drawn, about as long as its probability (a test digit the
    // model gets right with well over 90%).
    let bar = &report["top_bar"];
    let (fill, track) = (
        bar["fill_px"].as_f64().unwrap(),
        bar["track_px"].as_f64().unwrap(),
    );
    assert!(track > 50.0 && fill > 0.9 * track, "{bar}");

    // Junk is not a digit: a dot is too small to read, a scribble over the pad is not
    // taken for a digit.
    assert_eq!(report["junk"]["dot"]["verdict"], "dot", "{report}");
    assert_eq!(report["junk"]["dot"]["shown"], "?");
    assert_ne!(report["junk"]["scribble"]["verdict"], "sure", "{report}");
    assert_eq!(report["junk"]["scribble"]["shown"], "?");

    // Screenshots to look at, desktop and phone; in both the filled bar is on the
    // first screen.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    // "phone-page": the same width, tall enough to show the panel below.
    for (name, size) in [
        ("desktop", (1280, 900)),
        ("phone", (390, 844)),
        ("phone-page", (390, 1700)),
    ] {
        let shot = dir.join(format!("{name}.png"));
        let img = screenshot(&server.url("index.html?selftest=1"), size, &shot);
        assert_eq!((img.width(), img.height()), size, "{name}");
        let blue = bar_pixels(&img);
        assert!(
            blue > 300,
            "{name}: the top bar is not visible on the first screen ({blue} bar pixels); see {}",
            shot.display()
        );
        eprintln!("screenshot: {}", shot.display());
    }
}

#[test]
fn a_failed_load_leaves_a_clean_page() {
    let mut files = site();
    files.insert("/text.shrk".into(), b"hello, this is not a model".to_vec());
    let server = Server::start(files);
    let dom = dump_dom(&server.url("index.html?selftest=1&model=text.shrk"));
    let error = visible_text(&dom, "error").expect("an error is shown");
    // The bytes found are in hex, as the expected ones are.
    assert!(
        error.contains("starts with 68 65 6c 6c, expected 53 48 52 4b"),
        "{error}"
    );
    assert!(!error.contains('['), "{error}");
    // Nothing invites drawing, no field still says "…" or shows an old model.
    let truth = visible_text(&dom, "truth").unwrap();
    assert!(truth.starts_with("No usable model"), "{truth}");
    for id in [
        "model-name",
        "model-bytes",
        "dense-bytes",
        "ratio",
        "accuracy",
        "time",
    ] {
        assert_eq!(visible_text(&dom, id).as_deref(), Some("–"), "#{id}");
    }
    assert!(
        dom.contains("id=\"clear\" type=\"button\" disabled"),
        "Clear is off"
    );
    // The file control stays reachable by keyboard: a real, focusable input.
    let at = dom.find("id=\"file\"").unwrap();
    let tag = &dom[dom[..at].rfind('<').unwrap()..at + dom[at..].find('>').unwrap()];
    assert!(
        !tag.contains("hidden") && !tag.contains("tabindex=\"-1\""),
        "{tag}"
    );
}
