//! Line plots as SVG text, drawn with `plotters` (its SVG backend writes text as
//! `<text>` elements, so no system fonts are needed and the browser renders the labels).

use anyhow::{anyhow, Result};
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Line,
    Points,
    LineWithPoints,
}

/// How a series' points are marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// A filled disc.
    Dot,
    /// An open circle (e.g. published points beside measured ones).
    Ring,
    /// A diagonal cross.
    Cross,
}

/// One named series of `(x, y)` points.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend entry; an empty name keeps the series out of the legend.
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub style: Style,
    /// Index into the palette; `None` takes the series' position.
    pub color: Option<usize>,
    /// Per point, the `(low, high)` ends of a vertical error bar (same order as
    /// `points`; empty: none).
    pub errors: Vec<(f64, f64)>,
    /// How its points are marked (default: a dot).
    pub marker: Marker,
}

impl Series {
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>, style: Style) -> Series {
        Series {
            name: name.into(),
            points,
            style,
            color: None,
            errors: Vec::new(),
            marker: Marker::Dot,
        }
    }
    /// Draw in palette colour `i` (to pair a mean line with its scattered runs).
    pub fn color(mut self, i: usize) -> Series {
        self.color = Some(i);
        self
    }
    /// Mark the points with `m` instead of dots.
    pub fn marker(mut self, m: Marker) -> Series {
        self.marker = m;
        self
    }
    /// Vertical error bars, one `(low, high)` per point.
    pub fn errors(mut self, bars: Vec<(f64, f64)>) -> Series {
        self.errors = bars;
        self
    }
}

/// A plot: axes, labels, and series.
#[derive(Debug, Clone)]
pub struct LinePlot {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// Fixed y range; `None` fits the data.
    pub y_range: Option<(f64, f64)>,
    /// Logarithmic x axis (all x must be positive).
    pub log_x: bool,
    /// About how many x tick labels (None: the plotting library's choice).
    pub x_labels: Option<usize>,
}

impl LinePlot {
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        LinePlot {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            series: Vec::new(),
            y_range: None,
            log_x: false,
            x_labels: None,
        }
    }
    pub fn series(mut self, s: Series) -> Self {
        self.series.push(s);
        self
    }
    pub fn y_range(mut self, lo: f64, hi: f64) -> Self {
        self.y_range = Some((lo, hi));
        self
    }
    pub fn log_x(mut self) -> Self {
        self.log_x = true;
        self
    }
    pub fn x_labels(mut self, n: usize) -> Self {
        self.x_labels = Some(n);
        self
    }
}

/// Colour-blind-friendly categorical palette (Okabe–Ito, with black last).
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(120, 120, 120),
    RGBColor(0, 0, 0),
];

fn padded(lo: f64, hi: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        let d = lo.abs().max(1.0) * 0.05;
        return (lo - d, hi + d);
    }
    let d = (hi - lo) * 0.05;
    (lo - d, hi + d)
}

/// Render `plot` as an SVG document of `size` pixels.
pub fn render_svg(plot: &LinePlot, size: (u32, u32)) -> Result<String> {
    let pts = plot
        .series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|(x, y)| x.is_finite() && y.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    for &(lo, hi) in plot.series.iter().flat_map(|s| s.errors.iter()) {
        if lo.is_finite() && hi.is_finite() {
            y0 = y0.min(lo);
            y1 = y1.max(hi);
        }
    }
    let (y0, y1) = plot.y_range.unwrap_or_else(|| padded(y0, y1));
    if plot.log_x {
        if x0 <= 0.0 {
            return Err(anyhow!("plot '{}': a log x axis needs x > 0", plot.title));
        }
        let (lo, hi) = if x1 / x0 < 1.0001 {
            (x0 / 2.0, x1 * 2.0)
        } else {
            (x0 / 1.3, x1 * 1.3)
        };
        let legend = legend_corner(plot, |x| (x.ln() - lo.ln()) / (hi.ln() - lo.ln()), (y0, y1));
        let ticks = log_ticks(lo, hi);
        draw(
            plot,
            size,
            (lo..hi).log_scale().with_key_points(ticks),
            y0..y1,
            legend,
        )
    } else {
        let (lo, hi) = padded(x0, x1);
        let legend = legend_corner(plot, |x| (x - lo) / (hi - lo), (y0, y1));
        draw(plot, size, lo..hi, y0..y1, legend)
    }
}

/// Ticks for a log axis over `[lo, hi]`: 1, 2 and 5 times the powers of ten inside it; 1 to
/// 9 times them when that gives fewer than four, only the powers when it gives more than
/// ten. (Plotters' own log ticks start at the first power of ten inside the range, so an
/// axis from 3 000 to 45 000 had one label.)
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let with = |mults: &[f64]| {
        let mut v = Vec::new();
        let mut k = lo.log10().floor() as i32;
        while 10f64.powi(k) <= hi {
            for m in mults {
                let t = m * 10f64.powi(k);
                if (lo..=hi).contains(&t) {
                    v.push(t);
                }
            }
            k += 1;
        }
        v
    };
    let v = with(&[1.0, 2.0, 5.0]);
    if v.len() < 4 {
        with(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
    } else if v.len() > 10 {
        with(&[1.0])
    } else {
        v
    }
}

/// The corner of the plot where the legend covers the fewest drawn points (lines are
/// sampled along their segments). `fx` maps x into [0, 1] on the axis.
fn legend_corner(
    plot: &LinePlot,
    fx: impl Fn(f64) -> f64,
    (y0, y1): (f64, f64),
) -> SeriesLabelPosition {
    let fy = |y: f64| (y - y0) / (y1 - y0);
    let mut samples = Vec::new();
    for s in &plot.series {
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|&(x, y)| (fx(x), fy(y)))
            .collect();
        samples.extend(pts.iter().copied());
        if s.style != Style::Points {
            for w in pts.windows(2) {
                for k in 1..16 {
                    let t = k as f64 / 16.0;
                    samples.push((
                        w[0].0 + t * (w[1].0 - w[0].0),
                        w[0].1 + t * (w[1].1 - w[0].1),
                    ));
                }
            }
        }
    }
    // The legend box's share of the plot area, estimated from its entries.
    let (w, h) = legend_extent(plot);
    let count = |right: bool, upper: bool| {
        samples
            .iter()
            .filter(|(x, y)| {
                (if right { *x > 1.0 - w } else { *x < w })
                    && (if upper { *y > 1.0 - h } else { *y < h })
            })
            .count()
    };
    [
        (count(true, false), SeriesLabelPosition::LowerRight),
        (count(true, true), SeriesLabelPosition::UpperRight),
        (count(false, false), SeriesLabelPosition::LowerLeft),
        (count(false, true), SeriesLabelPosition::UpperLeft),
    ]
    .into_iter()
    .min_by_key(|(c, _)| *c)
    .map(|(_, p)| p)
    .unwrap_or(SeriesLabelPosition::LowerRight)
}

/// About how much of the plot area (width, height; fractions in [0, 1]) the legend box
/// takes at the report's 900×480 size: ~20 px per entry at font 15 in a plot area ~385 px
/// tall, and ~7.5 px per character of the longest label in one ~800 px wide; at least 30%
/// by 40%, as a short legend measures.
pub fn legend_extent(plot: &LinePlot) -> (f64, f64) {
    let named: Vec<&Series> = plot.series.iter().filter(|s| !s.name.is_empty()).collect();
    let longest = named
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(0);
    let w = ((40.0 + 7.5 * longest as f64) / 800.0).clamp(0.4, 0.95);
    let h = ((12.0 + 20.0 * named.len() as f64) / 385.0).clamp(0.3, 0.95);
    (w, h)
}

/// Tick labels without trailing noise: `500`, `0.95`, `2.5e-4`.
fn tick(v: &f64) -> String {
    let a = v.abs();
    // Below 1e-12 is rounding noise of a tick placed at zero.
    if a < 1e-12 {
        "0".into()
    } else if !(1e-3..1e6).contains(&a) {
        format!("{v:.1e}")
    } else if (v - v.round()).abs() < 1e-9 * a.max(1.0) {
        format!("{}", v.round())
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn draw<X>(
    plot: &LinePlot,
    size: (u32, u32),
    x: X,
    y: std::ops::Range<f64>,
    legend_at: SeriesLabelPosition,
) -> Result<String>
where
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
{
    let err = |e: &dyn std::fmt::Display| anyhow!("plot '{}': {e}", plot.title);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&plot.title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(x, y)
            .map_err(|e| err(&e))?;
        let mut mesh = chart.configure_mesh();
        if let Some(n) = plot.x_labels {
            mesh.x_labels(n);
        }
        mesh.x_desc(&plot.x_label)
            .y_desc(&plot.y_label)
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .label_style(("sans-serif", 15))
            .axis_desc_style(("sans-serif", 16))
            .light_line_style(RGBColor(235, 235, 235))
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()
            .map_err(|e| err(&e))?;
        let mut legend = false;
        // Scattered runs beside mean lines are drawn small and light so the lines stand
        // out; on a plot of points only (a frontier) the points are the data: full size.
        let has_lines = plot
            .series
            .iter()
            .any(|s| matches!(s.style, Style::Line | Style::LineWithPoints));
        for (i, s) in plot.series.iter().enumerate() {
            let c = PALETTE[s.color.unwrap_or(i) % PALETTE.len()];
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect();
            let line = matches!(s.style, Style::Line | Style::LineWithPoints);
            let dots = matches!(s.style, Style::Points | Style::LineWithPoints);
            let faint = s.style == Style::Points && has_lines;
            let radius = match (faint, s.style) {
                (true, _) => 2,
                (false, Style::Points) => 4,
                _ => 3,
            };
            let dot_style = if faint {
                c.mix(0.55).filled()
            } else {
                c.filled()
            };
            let marker = s.marker;
            if line {
                let drawn = chart
                    .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))
                    .map_err(|e| err(&e))?;
                if !s.name.is_empty() {
                    legend = true;
                    drawn.label(&s.name).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                    });
                }
            }
            if !s.errors.is_empty() {
                // Whiskers with caps a few pixels wide, in the series' colour.
                let bars: Vec<(f64, f64, f64)> = s
                    .points
                    .iter()
                    .zip(&s.errors)
                    .filter(|((x, _), (lo, hi))| x.is_finite() && lo.is_finite() && hi.is_finite())
                    .map(|(&(x, _), &(lo, hi))| (x, lo, hi))
                    .collect();
                chart
                    .draw_series(bars.iter().map(|&(x, lo, hi)| {
                        PathElement::new(vec![(x, lo), (x, hi)], c.stroke_width(1))
                    }))
                    .map_err(|e| err(&e))?;
                for &(x, lo, hi) in &bars {
                    for y in [lo, hi] {
                        let at = chart.backend_coord(&(x, y));
                        root.draw(&PathElement::new(
                            vec![(at.0 - 4, at.1), (at.0 + 4, at.1)],
                            c.stroke_width(1),
                        ))
                        .map_err(|e| err(&e))?;
                    }
                }
            }
            if dots {
                let ring = c.stroke_width(2);
                let drawn = match marker {
                    Marker::Dot => {
                        chart.draw_series(pts.iter().map(|&p| Circle::new(p, radius, dot_style)))
                    }
                    Marker::Ring => {
                        chart.draw_series(pts.iter().map(|&p| Circle::new(p, radius, ring)))
                    }
                    Marker::Cross => {
                        chart.draw_series(pts.iter().map(|&p| Cross::new(p, radius, ring)))
                    }
                }
                .map_err(|e| err(&e))?;
                if !line && !s.name.is_empty() {
                    legend = true;
                    drawn.label(&s.name).legend(move |(x, y)| match marker {
                        Marker::Dot => Circle::new((x + 9, y), 3, c.filled()).into_dyn(),
                        Marker::Ring => Circle::new((x + 9, y), 3, ring).into_dyn(),
                        Marker::Cross => Cross::new((x + 9, y), 3, ring).into_dyn(),
                    });
                }
            }
        }
        if legend {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(200, 200, 200))
                .label_font(("sans-serif", 15))
                .position(legend_at)
                .draw()
                .map_err(|e| err(&e))?;
        }
        root.present().map_err(|e| err(&e))?;
    }
    Ok(svg)
}

/// One bar of a [`BarChart`].
#[derive(Debug, Clone)]
pub struct Bar {
    /// The category, written left of the bar.
    pub label: String,
    pub value: f64,
    /// `(low, high)` ends of an error bar, if any.
    pub error: Option<(f64, f64)>,
    /// Index into [`PALETTE`].
    pub color: usize,
}

/// A horizontal bar chart (one row per category, so long names stay readable) with
/// error bars and an optional dashed reference line (e.g. the base variant).
#[derive(Debug, Clone)]
pub struct BarChart {
    pub title: String,
    /// What the bar length measures (the horizontal axis).
    pub value_label: String,
    pub bars: Vec<Bar>,
    /// A labelled vertical line at this value.
    pub reference: Option<(String, f64)>,
}

/// Round tick spacing (1, 2 or 5 × 10^k) for about `n` ticks over `span`.
fn nice_step(span: f64, n: usize) -> f64 {
    let raw = (span / n.max(1) as f64).max(1e-12);
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Render `chart` as an SVG document `width` pixels wide (the height follows the
/// number of bars). Bars start at 0; values are assumed non-negative.
pub fn render_bar_svg(chart: &BarChart, width: u32) -> Result<String> {
    use std::fmt::Write as _;
    if chart.bars.is_empty() {
        return Err(anyhow!("bar chart '{}' has no bars", chart.title));
    }
    let longest = chart
        .bars
        .iter()
        .map(|b| b.label.chars().count())
        .max()
        .unwrap_or(0);
    let (left, right, top, row) = (
        (longest as f64 * 8.0 + 20.0).clamp(60.0, 260.0),
        30.0,
        46.0,
        26.0,
    );
    let plot_h = row * chart.bars.len() as f64;
    let height = top + plot_h + 56.0;
    let w = width as f64;
    let mut max = chart
        .bars
        .iter()
        .flat_map(|b| [Some(b.value), b.error.map(|e| e.1)])
        .flatten()
        .chain(chart.reference.as_ref().map(|r| r.1))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    if max <= 0.0 {
        max = 1.0;
    }
    let step = nice_step(max, 6);
    let end = (max / step).ceil() * step;
    let px = |v: f64| left + (v.clamp(0.0, end) / end) * (w - left - right);
    let mut o = String::new();
    let _ = write!(
        o,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height:.0}\" \
viewBox=\"0 0 {width} {height:.0}\" font-family=\"sans-serif\" class=\"bar-chart\">\
<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\
<text x=\"{:.0}\" y=\"26\" font-size=\"20\" text-anchor=\"middle\">{}</text>",
        w / 2.0,
        xml(&chart.title)
    );
    // Grid and tick labels.
    let mut t = 0.0;
    while t <= end + step * 1e-9 {
        let x = px(t);
        let _ = write!(
            o,
            "<line x1=\"{x:.1}\" y1=\"{top}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#e2e2e2\"/>\
<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"13\" text-anchor=\"middle\">{}</text>",
            top + plot_h,
            top + plot_h + 18.0,
            tick(&t)
        );
        t += step;
    }
    let _ = write!(
        o,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"15\" text-anchor=\"middle\">{}</text>",
        (left + w - right) / 2.0,
        top + plot_h + 42.0,
        xml(&chart.value_label)
    );
    for (i, b) in chart.bars.iter().enumerate() {
        let y = top + row * i as f64;
        let c = PALETTE[b.color % PALETTE.len()];
        let fill = format!("rgb({},{},{})", c.0, c.1, c.2);
        let _ = write!(
            o,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"14\" text-anchor=\"end\">{}</text>",
            left - 8.0,
            y + row / 2.0 + 5.0,
            xml(&b.label)
        );
        if b.value.is_finite() {
            let _ = write!(
                o,
                "<rect class=\"bar\" x=\"{left:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{fill}\" fill-opacity=\"0.8\"><title>{}: {}</title></rect>",
                y + 4.0,
                (px(b.value) - left).max(0.5),
                row - 8.0,
                xml(&b.label),
                tick(&b.value)
            );
        }
        if let Some((lo, hi)) = b.error.filter(|(l, h)| l.is_finite() && h.is_finite()) {
            let (x0, x1, yc) = (px(lo), px(hi), y + row / 2.0);
            let _ = write!(
                o,
                "<path class=\"error-bar\" d=\"M{x0:.1} {:.1}V{:.1}M{x0:.1} {yc:.1}H{x1:.1}M{x1:.1} {:.1}V{:.1}\" stroke=\"black\" stroke-width=\"1.3\" fill=\"none\"/>",
                yc - 5.0,
                yc + 5.0,
                yc - 5.0,
                yc + 5.0
            );
        }
    }
    if let Some((name, v)) = &chart.reference {
        let x = px(*v);
        let _ = write!(
            o,
            "<line x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"black\" stroke-dasharray=\"5 4\"/>\
<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"13\" text-anchor=\"middle\">{}</text>",
            top - 4.0,
            top + plot_h,
            top - 8.0,
            xml(name)
        );
    }
    // Axis line.
    let _ = write!(
        o,
        "<line x1=\"{left:.1}\" y1=\"{top}\" x2=\"{left:.1}\" y2=\"{:.1}\" stroke=\"#444\"/></svg>",
        top + plot_h
    );
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_chart_has_a_bar_and_whisker_per_category() {
        let chart = BarChart {
            title: "Test error".into(),
            value_label: "test error (%)".into(),
            bars: (0..3)
                .map(|i| Bar {
                    label: format!("v<{i}>"),
                    value: 2.0 + i as f64,
                    error: Some((1.5 + i as f64, 2.5 + i as f64)),
                    color: i,
                })
                .collect(),
            reference: Some(("base".into(), 2.0)),
        };
        let svg = render_bar_svg(&chart, 800).unwrap();
        assert!(svg.starts_with("<svg"));
        assert_eq!(svg.matches("class=\"bar\"").count(), 3);
        assert_eq!(svg.matches("class=\"error-bar\"").count(), 3);
        assert!(svg.contains("v&lt;2&gt;") && svg.contains("test error (%)"));
        // The longest bar (4.0) is shorter than the axis that reaches its whisker (4.5).
        assert!(nice_step(4.5, 6) == 1.0 && nice_step(0.03, 6) == 0.005);
        assert!(render_bar_svg(
            &BarChart {
                bars: vec![],
                ..chart
            },
            800
        )
        .is_err());
    }

    #[test]
    fn error_bars_widen_the_range_and_draw() {
        let p = LinePlot::new("acc", "n", "accuracy (%)").series(
            Series::new("a", vec![(1.0, 50.0), (2.0, 60.0)], Style::LineWithPoints)
                .errors(vec![(40.0, 55.0), (58.0, 90.0)]),
        );
        let with = render_svg(&p, (500, 300)).unwrap();
        let mut bare = p.clone();
        bare.series[0].errors.clear();
        let without = render_svg(&bare, (500, 300)).unwrap();
        let lines = |s: &str| s.matches("<polyline").count() + s.matches("<path").count();
        // Two whiskers and four caps more.
        assert!(
            lines(&with) >= lines(&without) + 6,
            "{} vs {}",
            lines(&with),
            lines(&without)
        );
    }

    #[test]
    fn svg_has_text_and_paths() {
        let p = LinePlot::new("acc", "step", "accuracy")
            .series(Series::new(
                "a",
                vec![(1.0, 0.5), (2.0, 0.7), (3.0, 0.9)],
                Style::LineWithPoints,
            ))
            .series(Series::new("", vec![(2.0, 0.6)], Style::Points));
        let svg = render_svg(&p, (600, 400)).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
        assert!(svg.contains("<text") && svg.contains("accuracy"));
        assert!(svg.contains("<polyline") || svg.contains("<path"));
        assert!(svg.contains("<circle"));
    }

    #[test]
    fn ticks_are_short() {
        assert_eq!(tick(&500.0), "500");
        assert_eq!(tick(&0.95), "0.95");
        assert_eq!(tick(&(0.1 + 0.2)), "0.3");
        assert_eq!(tick(&0.0), "0");
        assert_eq!(tick(&-2.2e-16), "0");
        assert_eq!(tick(&0.00025), "2.5e-4");
    }

    #[test]
    fn legend_avoids_the_data() {
        // A rising line fills the lower left and upper right.
        let p = LinePlot::new("t", "x", "y").series(Series::new(
            "a",
            vec![(0.0, 0.0), (1.0, 1.0)],
            Style::Line,
        ));
        let pos = legend_corner(&p, |x| x, (0.0, 1.0));
        assert!(matches!(
            pos,
            SeriesLabelPosition::LowerRight | SeriesLabelPosition::UpperLeft
        ));
    }

    #[test]
    fn log_axis_rejects_non_positive_x() {
        let p = LinePlot::new("t", "lr", "acc")
            .series(Series::new("a", vec![(0.0, 1.0)], Style::Line))
            .log_x();
        assert!(render_svg(&p, (300, 200)).is_err());
        let ok = LinePlot::new("t", "lr", "acc")
            .series(Series::new("a", vec![(0.1, 1.0), (3.0, 0.5)], Style::Line))
            .log_x();
        assert!(render_svg(&ok, (300, 200)).unwrap().contains("<text"));
    }

    #[test]
    fn log_axis_has_ticks_inside_a_short_range() {
        let t = log_ticks(3000.0, 45000.0);
        assert_eq!(t.first(), Some(&3000.0));
        assert!(t.contains(&5000.0) && t.contains(&40000.0), "{t:?}");
        assert!(t.iter().all(|x| (3000.0..=45000.0).contains(x)));
        assert_eq!(
            log_ticks(1.0, 100.0),
            vec![1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0]
        );
        // Many decades: the powers of ten only.
        assert_eq!(
            log_ticks(0.5, 2e6),
            vec![1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6]
        );
        // Drawn: the short axis gets a label below its first power of ten.
        let p = LinePlot::new("t", "bytes", "error")
            .series(Series::new(
                "a",
                vec![(4000.0, 1.0), (35000.0, 0.5)],
                Style::Line,
            ))
            .log_x();
        let svg = render_svg(&p, (600, 300)).unwrap();
        let labels: Vec<&str> = svg
            .split("<text")
            .skip(1)
            .filter_map(|t| t.split_once('>'))
            .map(|(_, rest)| rest.split("</text>").next().unwrap_or("").trim())
            .collect();
        assert!(labels.contains(&"5000"), "{labels:?}");
    }
}
