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
}

impl LinePlot {
    pub fn new(title: impl Into<String>, x_label: impl Into<String>, y_label: impl Into<String>) -> Self {
        LinePlot {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            series: Vec::new(),
            y_range: None,
            log_x: false,
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
        draw(plot, size, (lo..hi).log_scale(), y0..y1)
    } else {
        let (lo, hi) = padded(x0, x1);
        draw(plot, size, lo..hi, y0..y1)
    }
}

fn draw<X>(plot: &LinePlot, size: (u32, u32), x: X, y: std::ops::Range<f64>) -> Result<String>
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
            .caption(&plot.title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x, y)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc(&plot.x_label)
            .y_desc(&plot.y_label)
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 14))
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
                .label_font(("sans-serif", 13))
                .position(SeriesLabelPosition::LowerRight)
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
        assert!(svg.contains("<text") && svg.contains(">accuracy<"));
        assert!(svg.contains("<polyline") || svg.contains("<path"));
        assert!(svg.contains("<circle"));
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
