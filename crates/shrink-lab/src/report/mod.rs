//! Reports people can look at: every experiment (and any command that wants one) writes
//! `results.json` (all the numbers, the exact settings, the machine) and `report.html`, a
//! single self-contained page — plots as inline SVG, tables, images as inline base64
//! PNG — that opens offline in any browser.
//!
//! ```no_run
//! use shrink_lab::report::{LinePlot, Report, Series, Style};
//! let mut r = Report::new("Batch normalisation on MNIST");
//! r.text("Three variants, same seed.")
//!     .table(&["variant", "accuracy"], vec![vec!["bn".into(), "98.1%".into()]])
//!     .line_plot(LinePlot::new("Test accuracy", "step", "accuracy")
//!         .series(Series::new("bn", vec![(0.0, 0.1), (500.0, 0.9)], Style::Line)));
//! let results = shrink_lab::report::envelope("norm", &serde_json::json!({}), &serde_json::json!({}), 1.0);
//! r.write(std::path::Path::new("runs/x"), &results).unwrap();
//! ```
//!
//! Not here: what the experiments compute (see `experiments`).

pub mod plot;

pub use plot::{Bar, BarChart, LinePlot, Marker, Series, Style};

use anyhow::{Context, Result};
use base64::Engine;
use serde::Serialize;
use shrink_core::model::io::write_atomic;
use std::fmt::Write as _;
use std::path::Path;

/// An image with its caption, for [`Report::image_grid`].
#[derive(Debug, Clone)]
pub struct Picture {
    /// PNG bytes.
    pub png: Vec<u8>,
    pub caption: String,
    /// A colour bar drawn under the image, for pictures whose colours stand for values.
    pub colorbar: Option<ColorBar>,
}

impl Picture {
    /// A picture without a colour bar.
    pub fn new(png: Vec<u8>, caption: impl Into<String>) -> Picture {
        Picture {
            png,
            caption: caption.into(),
            colorbar: None,
        }
    }
}

/// A horizontal colour bar: the colour map from its low end (left) to its high end
/// (right), each end labelled with the value it stands for.
#[derive(Debug, Clone)]
pub struct ColorBar {
    /// Colours at evenly spaced points from low to high.
    pub stops: Vec<[u8; 3]>,
    /// The labels of the two ends (e.g. `0.12`, `1`).
    pub low: String,
    pub high: String,
}

/// Width of a PNG from its header (0 if it is not one).
fn png_width(png: &[u8]) -> u32 {
    png.get(16..20)
        .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// The colour bar as inline SVG, `width` pixels wide; `id` makes its gradient unique.
fn colorbar_svg(c: &ColorBar, width: u32, id: usize) -> String {
    let width = width.max(90);
    let n = c.stops.len().max(2) - 1;
    let stops: String = c
        .stops
        .iter()
        .enumerate()
        .map(|(i, s)| {
            format!(
                "<stop offset=\"{:.3}\" stop-color=\"rgb({},{},{})\"/>",
                i as f64 / n as f64,
                s[0],
                s[1],
                s[2]
            )
        })
        .collect();
    format!(
        "<svg class=\"colorbar\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"30\" \
viewBox=\"0 0 {width} 30\" font-family=\"sans-serif\" font-size=\"11\"><defs><linearGradient id=\"cb{id}\">{stops}\
</linearGradient></defs><rect x=\"0\" y=\"1\" width=\"{width}\" height=\"12\" fill=\"url(#cb{id})\" stroke=\"#999\"/>\
<text x=\"0\" y=\"27\">{}</text><text x=\"{width}\" y=\"27\" text-anchor=\"end\">{}</text></svg>",
        esc(&c.low),
        esc(&c.high)
    )
}

enum Part {
    /// A highlighted notice at the top (e.g. "this was a --quick run").
    Banner(String),
    Heading(String),
    Text(String),
    Table {
        headers: Vec<String>,
        rows: Vec<Vec<String>>,
    },
    /// Rendered SVG documents shown side by side.
    Plots(Vec<String>),
    Images(Vec<Picture>),
}

/// An HTML report under construction.
pub struct Report {
    title: String,
    parts: Vec<Part>,
}

/// The machine a run ran on (for results.json and the report's footer).
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// CPU model from /proc/cpuinfo ("unknown" elsewhere).
    pub cpu: String,
    /// Logical cores available to this process.
    pub cores: usize,
    pub os: String,
    pub shrink_version: String,
    pub burn_version: String,
}

/// The Burn release shrink is built against (Cargo.toml pins it).
pub const BURN_VERSION: &str = "0.22.1";

impl Machine {
    pub fn detect() -> Machine {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| {
                t.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            os: std::env::consts::OS.into(),
            shrink_version: env!("CARGO_PKG_VERSION").into(),
            burn_version: BURN_VERSION.into(),
        }
    }
}

/// The results.json layout shared by every experiment:
/// `{experiment, settings, machine, seconds, results}`.
pub fn envelope(
    experiment: &str,
    settings: &impl Serialize,
    results: &impl Serialize,
    seconds: f64,
) -> serde_json::Value {
    serde_json::json!({
        "experiment": experiment,
        "settings": settings,
        "machine": Machine::detect(),
        "seconds": seconds,
        "results": results,
    })
}

/// A grey-scale image (`values` row-major, any range: scaled to black..white) as PNG,
/// enlarged `scale`× with nearest-neighbour so small filters stay crisp.
pub fn gray_png(width: usize, height: usize, values: &[f32], scale: usize) -> Result<Vec<u8>> {
    anyhow::ensure!(
        values.len() == width * height && width > 0 && height > 0,
        "image of {width}×{height} needs {} values, got {}",
        width * height,
        values.len()
    );
    let (lo, hi) = values
        .iter()
        .fold((f32::MAX, f32::MIN), |(l, h), &v| (l.min(v), h.max(v)));
    let span = if hi > lo { hi - lo } else { 1.0 };
    let s = scale.max(1);
    let img = image::GrayImage::from_fn((width * s) as u32, (height * s) as u32, |x, y| {
        let v = values[(y as usize / s) * width + x as usize / s];
        image::Luma([((v - lo) / span * 255.0).round().clamp(0.0, 255.0) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .context("cannot encode PNG")?;
    Ok(out.into_inner())
}

/// Cells that start with a number (`12.3`, `-0.4`, `+1.2`, `98.10 ± 0.20%`) are
/// right-aligned.
fn looks_numeric(s: &str) -> bool {
    s.trim_start_matches(['+', '-', '−'])
        .starts_with(|c: char| c.is_ascii_digit())
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str =
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1100px;\
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}\
h1{font-size:1.6em;border-bottom:2px solid #0072b2;padding-bottom:.2em}\
h2{font-size:1.25em;margin-top:1.6em;color:#0b4f7c}\
table{border-collapse:collapse;margin:.8em 0;font-size:.92em}\
th,td{border:1px solid #ccc;padding:.3em .7em;text-align:left;vertical-align:top}\
th{background:#eef4f8}td.num{text-align:right;white-space:nowrap}\
tr:nth-child(even) td{background:#fafafa}\
.plots{display:flex;flex-wrap:wrap;gap:12px;margin:.8em 0}\
.plots svg{max-width:100%;height:auto;border:1px solid #e4e4e4}\
.banner{background:#fff4d6;border:2px solid #e69f00;padding:.6em 1em;border-radius:6px;font-weight:600}\
.grid{display:flex;flex-wrap:wrap;gap:10px}.grid figure{margin:0;text-align:center;font-size:.8em}\
.grid img{image-rendering:pixelated;border:1px solid #ddd}\
.grid figure{display:table}.grid figcaption{display:table-caption;caption-side:bottom;min-width:100px}\
.grid svg.colorbar{display:block;margin:2px auto 0}\
pre{background:#f5f5f5;padding:.8em;overflow-x:auto;font-size:.85em}\
footer{margin-top:2.5em;color:#666;font-size:.85em}";

impl Report {
    pub fn new(title: impl Into<String>) -> Report {
        Report {
            title: title.into(),
            parts: Vec::new(),
        }
    }

    /// A highlighted notice, shown as a box (e.g. that the run was a quick one).
    pub fn banner(&mut self, s: impl Into<String>) -> &mut Self {
        self.parts.push(Part::Banner(s.into()));
        self
    }

    /// A section heading.
    pub fn heading(&mut self, s: impl Into<String>) -> &mut Self {
        self.parts.push(Part::Heading(s.into()));
        self
    }

    /// A paragraph of plain text (escaped; blank lines start new paragraphs).
    pub fn text(&mut self, s: impl Into<String>) -> &mut Self {
        self.parts.push(Part::Text(s.into()));
        self
    }

    /// A table; cells are plain text.
    pub fn table(&mut self, headers: &[&str], rows: Vec<Vec<String>>) -> &mut Self {
        self.parts.push(Part::Table {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows,
        });
        self
    }

    /// One plot, full width.
    pub fn line_plot(&mut self, plot: LinePlot) -> &mut Self {
        self.plot_row(vec![plot], (900, 480))
    }

    /// Several plots side by side (panels), each `size` pixels.
    pub fn plot_row(&mut self, plots: Vec<LinePlot>, size: (u32, u32)) -> &mut Self {
        let svgs = plots
            .iter()
            .map(|p| {
                plot::render_svg(p, size)
                    .unwrap_or_else(|e| format!("<p>(plot not drawn: {})</p>", esc(&e.to_string())))
            })
            .collect();
        self.parts.push(Part::Plots(svgs));
        self
    }

    /// A horizontal bar chart with error bars, full width.
    pub fn bar_chart(&mut self, chart: BarChart) -> &mut Self {
        let svg = plot::render_bar_svg(&chart, 900)
            .unwrap_or_else(|e| format!("<p>(plot not drawn: {})</p>", esc(&e.to_string())));
        self.parts.push(Part::Plots(vec![svg]));
        self
    }

    /// Images (PNG) with captions, in a wrapping grid.
    pub fn image_grid(&mut self, pictures: Vec<Picture>) -> &mut Self {
        self.parts.push(Part::Images(pictures));
        self
    }

    /// The page as one HTML document; `results` (the results.json value) supplies the
    /// footer: machine, settings and the time taken.
    pub fn to_html(&self, results: &serde_json::Value) -> String {
        let mut h = String::new();
        let _ = write!(
            h,
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{t}</title><style>{STYLE}</style></head><body>\n<h1>{t}</h1>\n",
            t = esc(&self.title)
        );
        // Colour bars drawn so far (each needs its own gradient id).
        let mut colorbars = 0usize;
        for part in &self.parts {
            match part {
                Part::Banner(s) => {
                    let _ = writeln!(h, "<p class=\"banner\" role=\"note\">{}</p>", esc(s));
                }
                Part::Heading(s) => {
                    let _ = writeln!(h, "<h2>{}</h2>", esc(s));
                }
                Part::Text(s) => {
                    for para in s.split("\n\n") {
                        let _ = writeln!(h, "<p>{}</p>", esc(para.trim()));
                    }
                }
                Part::Table { headers, rows } => {
                    h.push_str("<table><thead><tr>");
                    for c in headers {
                        let _ = write!(h, "<th>{}</th>", esc(c));
                    }
                    h.push_str("</tr></thead><tbody>\n");
                    for r in rows {
                        h.push_str("<tr>");
                        for c in r {
                            let class = if looks_numeric(c) {
                                " class=\"num\""
                            } else {
                                ""
                            };
                            let _ = write!(h, "<td{class}>{}</td>", esc(c));
                        }
                        h.push_str("</tr>\n");
                    }
                    h.push_str("</tbody></table>\n");
                }
                Part::Plots(svgs) => {
                    h.push_str("<div class=\"plots\">\n");
                    for s in svgs {
                        h.push_str(s);
                        h.push('\n');
                    }
                    h.push_str("</div>\n");
                }
                Part::Images(pics) => {
                    h.push_str("<div class=\"grid\">\n");
                    let b64 = base64::engine::general_purpose::STANDARD;
                    for p in pics {
                        let bar = p.colorbar.as_ref().map_or(String::new(), |c| {
                            colorbars += 1;
                            colorbar_svg(c, png_width(&p.png), colorbars)
                        });
                        let _ = writeln!(
                            h,
                            "<figure><img alt=\"{c}\" src=\"data:image/png;base64,{}\">{bar}<figcaption>{c}</figcaption></figure>",
                            b64.encode(&p.png),
                            c = esc(&p.caption)
                        );
                    }
                    h.push_str("</div>\n");
                }
            }
        }
        h.push_str("<footer>\n");
        if let Some(m) = results.get("machine") {
            let s = |k: &str| {
                m.get(k)
                    .map(|v| v.to_string().trim_matches('"').to_string())
            };
            let _ = writeln!(
                h,
                "<p>Ran on {} ({} cores, {}) with shrink {} and Burn {} in {:.0} s.</p>",
                esc(&s("cpu").unwrap_or_default()),
                esc(&s("cores").unwrap_or_default()),
                esc(&s("os").unwrap_or_default()),
                esc(&s("shrink_version").unwrap_or_default()),
                esc(&s("burn_version").unwrap_or_default()),
                results
                    .get("seconds")
                    .and_then(|v| v.as_f64())
                    .unwrap_or(0.0)
            );
        }
        if let Some(settings) = results.get("settings") {
            let _ = writeln!(
                h,
                "<details><summary>Settings</summary><pre>{}</pre></details>",
                esc(&serde_json::to_string_pretty(settings).unwrap_or_default())
            );
        }
        h.push_str(
            "<p>All numbers are in results.json next to this file.</p>\n</footer></body></html>\n",
        );
        h
    }

    /// Write `dir/results.json` and `dir/report.html`, each through a temporary name and
    /// a rename, so a reader never sees half a file.
    pub fn write(&self, dir: &Path, results: &serde_json::Value) -> Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        write_atomic(
            &dir.join("results.json"),
            serde_json::to_string_pretty(results)?.as_bytes(),
        )?;
        write_atomic(&dir.join("report.html"), self.to_html(results).as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_self_contained_and_escaped() {
        let mut r = Report::new("A <test>");
        r.banner("Quick <run>")
            .heading("Numbers")
            .text("first\n\nsecond & third")
            .table(&["a", "b"], vec![vec!["1".into(), "<2>".into()]])
            .line_plot(LinePlot::new("p", "x", "y").series(Series::new(
                "s",
                vec![(0.0, 1.0), (1.0, 2.0)],
                Style::Line,
            )))
            .image_grid(vec![
                Picture::new(gray_png(2, 2, &[0.0, 1.0, 0.5, 0.25], 4).unwrap(), "w"),
                Picture {
                    colorbar: Some(ColorBar {
                        stops: vec![[0, 0, 0], [255, 255, 0]],
                        low: "0.1".into(),
                        high: "1 < 2".into(),
                    }),
                    ..Picture::new(gray_png(2, 2, &[0.0, 1.0, 0.5, 0.25], 4).unwrap(), "heat")
                },
            ]);
        let results = envelope(
            "t",
            &serde_json::json!({"lr": 0.1}),
            &serde_json::json!({}),
            2.0,
        );
        let html = r.to_html(&results);
        assert!(html.contains("<h1>A &lt;test&gt;</h1>"));
        assert!(html.contains("<p class=\"banner\" role=\"note\">Quick &lt;run&gt;</p>"));
        assert!(html.contains("<p>second &amp; third</p>"));
        assert!(html.contains("<td>&lt;2&gt;</td>"));
        assert!(html.contains("<td class=\"num\">1</td>"));
        assert!(looks_numeric("98.10 ± 0.20%") && looks_numeric("-0.4") && looks_numeric("1e-3"));
        assert!(!looks_numeric("never") && !looks_numeric("bn") && !looks_numeric(""));
        assert!(html.contains("<svg") && html.contains("data:image/png;base64,iVBOR"));
        assert!(html.contains("Burn 0.22.1"));
        // The colour bar: under its image (8 px wide, drawn at least 90), ends labelled.
        assert_eq!(png_width(&gray_png(2, 2, &[0.0; 4], 4).unwrap()), 8);
        assert_eq!(html.matches("class=\"colorbar\"").count(), 1);
        assert!(html.contains("url(#cb1)") && html.contains(">1 &lt; 2</text>"));
        assert!(html.contains("stop-color=\"rgb(255,255,0)\""));
        assert!(
            !html.contains("http://") || html.contains("xmlns"),
            "no external resources"
        );
        assert!(!html.contains("<script") && !html.contains("<link"));
    }

    #[test]
    fn write_is_atomic_and_complete() {
        let dir = tempfile::tempdir().unwrap();
        let r = Report::new("t");
        let results = envelope("t", &1, &2, 0.0);
        r.write(dir.path(), &results).unwrap();
        let back: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("results.json")).unwrap())
                .unwrap();
        assert_eq!(back["results"], 2);
        assert!(back["machine"]["cores"].as_u64().unwrap() >= 1);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        assert_eq!(names.len(), 2, "no temporary files left: {names:?}");
    }

    #[test]
    fn gray_png_scales_and_checks_size() {
        let png = gray_png(3, 2, &[0.0; 6], 5).unwrap();
        let img = image::load_from_memory(&png).unwrap();
        assert_eq!((img.width(), img.height()), (15, 10));
        assert!(gray_png(3, 3, &[0.0; 6], 1).is_err());
    }
}
