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

/// One named series of `(x, y)` points.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend entry; an empty name keeps the series out of the legend.
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub style: Style,
    /// Index into the palette; `None` takes the series' position.
    pub color: Option<usize>,
}

impl Series {
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>, style: Style) -> Series {
        Series {
            name: name.into(),
            points,
            style,
            color: None,
        }
    }
    /// Draw in palette colour `i` (to pair a mean line with its scattered runs).
    pub fn color(mut self, i: usize) -> Series {
        self.color = Some(i);
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
        draw(plot, size, (lo..hi).log_scale(), y0..y1, legend)
    } else {
        let (lo, hi) = padded(x0, x1);
        let legend = legend_corner(plot, |x| (x - lo) / (hi - lo), (y0, y1));
        draw(plot, size, lo..hi, y0..y1, legend)
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
    // A legend box spans about 40% of the width and 30% of the height.
    let count = |right: bool, upper: bool| {
        samples
            .iter()
            .filter(|(x, y)| {
                (if right { *x > 0.6 } else { *x < 0.4 })
                    && (if upper { *y > 0.7 } else { *y < 0.3 })
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
            // Scattered runs are drawn small and light so the mean lines stand out.
            let radius = if s.style == Style::Points { 2 } else { 3 };
            let dot_style = if s.style == Style::Points {
                c.mix(0.55).filled()
            } else {
                c.filled()
            };
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
            if dots {
                let drawn = chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, radius, dot_style)))
                    .map_err(|e| err(&e))?;
                if !line && !s.name.is_empty() {
                    legend = true;
                    drawn
                        .label(&s.name)
                        .legend(move |(x, y)| Circle::new((x + 9, y), 3, c.filled()));
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
