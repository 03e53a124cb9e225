//! The report's charts, drawn with plotters into SVG strings when the report is built, so that
//! the page needs no script and no network to show them.

use plotters::prelude::*;

const W: u32 = 640;
const H: u32 = 320;
const BLUE: RGBColor = RGBColor(0x2b, 0x6c, 0xb0);
const GREEN: RGBColor = RGBColor(0x2f, 0x85, 0x5a);
const ORANGE: RGBColor = RGBColor(0xdd, 0x6b, 0x20);

/// A chart that failed to draw becomes a one-line SVG saying so (drawing only fails on a bug).
fn finish(svg: String, result: Result<(), String>, title: &str) -> String {
    match result {
        Ok(()) => svg,
        Err(e) => format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"40\"><text x=\"8\" y=\"24\">{}: {}</text></svg>",
            html_escape(title),
            html_escape(&e)
        ),
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A label that fits under a bar: long ones keep their start and their end (a paper id's hash),
/// so that two papers with the same beginning stay apart.
fn short(label: &str) -> String {
    let chars: Vec<char> = label.chars().collect();
    if chars.len() > 18 {
        let head: String = chars[..10].iter().collect();
        let tail: String = chars[chars.len() - 7..].iter().collect();
        format!("{head}…{tail}")
    } else {
        label.to_owned()
    }
}

/// The y axis's top: 15% above the largest value (1 when there is none above 0).
fn axis_top<'a>(values: impl Iterator<Item = &'a f64>) -> f64 {
    let top = values.copied().fold(0.0f64, f64::max);
    if top <= 0.0 { 1.0 } else { top * 1.15 }
}

/// The x axis's labels: each name under the middle of its column, nothing elsewhere.
fn column_labels(names: Vec<String>) -> impl Fn(&f64) -> String {
    move |x: &f64| {
        let i = x.floor() as usize;
        if (x - i as f64 - 0.5).abs() < 1e-6 {
            names.get(i).map(|l| short(l)).unwrap_or_default()
        } else {
            String::new()
        }
    }
}

/// Vertical bars, one per label; one or more series side by side (e.g. found and fixed).
pub fn bars(title: &str, labels: &[String], series: &[(&str, Vec<f64>)]) -> String {
    let mut svg = String::new();
    let result = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE)?;
        let n = labels.len().max(1);
        let top = axis_top(series.iter().flat_map(|(_, v)| v.iter()));
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(if labels.is_empty() { 20 } else { 60 })
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..n as f64, 0f64..top)?;
        let names = labels.to_vec();
        let fmt = column_labels(names);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n * 2 + 1)
            .x_label_formatter(&fmt)
            .draw()?;
        let colors = [BLUE, GREEN, ORANGE];
        let k = series.len().max(1) as f64;
        for (s, (name, values)) in series.iter().enumerate() {
            let color = colors[s % colors.len()];
            let width = 0.8 / k;
            chart
                .draw_series(values.iter().enumerate().map(|(i, v)| {
                    let x0 = i as f64 + 0.1 + s as f64 * width;
                    Rectangle::new([(x0, 0.0), (x0 + width * 0.95, *v)], color.filled())
                }))?
                .label(*name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
                });
        }
        if series.len() > 1 {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()?;
        }
        if labels.is_empty() {
            root.draw(&Text::new(
                "no data",
                ((W / 2) as i32 - 30, (H / 2) as i32),
                ("sans-serif", 16),
            ))?;
        }
        root.present()?;
        Ok(())
    })()
    .map_err(|e| e.to_string());
    finish(svg, result, title)
}

/// Each value as a dot in its category's column, with the median as a bar: the distribution of
/// durations per stage.
pub fn strips(title: &str, y_desc: &str, categories: &[(String, Vec<f64>)]) -> String {
    let mut svg = String::new();
    let result = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE)?;
        let n = categories.len().max(1);
        let top = axis_top(categories.iter().flat_map(|(_, v)| v.iter()));
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(60)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..n as f64, 0f64..top)?;
        let names: Vec<String> = categories.iter().map(|(c, _)| c.clone()).collect();
        let fmt = column_labels(names);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n * 2 + 1)
            .x_label_formatter(&fmt)
            .y_desc(y_desc)
            .draw()?;
        for (i, (_, values)) in categories.iter().enumerate() {
            let m = values.len().max(1) as f64;
            chart.draw_series(values.iter().enumerate().map(|(j, v)| {
                let x = i as f64 + 0.3 + 0.4 * (j as f64 + 0.5) / m;
                Circle::new((x, *v), 4, BLUE.mix(0.7).filled())
            }))?;
            if let Some(median) = median(values) {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(i as f64 + 0.2, median), (i as f64 + 0.8, median)],
                    ORANGE.stroke_width(2),
                )))?;
            }
        }
        root.present()?;
        Ok(())
    })()
    .map_err(|e| e.to_string());
    finish(svg, result, title)
}

/// A line through the points in order (x: their position), labelled below.
pub fn line(title: &str, labels: &[String], values: &[f64], y_max: f64) -> String {
    let mut svg = String::new();
    let result = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE)?;
        let n = values.len().max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(60)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..n as f64, 0f64..y_max)?;
        let names = labels.to_vec();
        let fmt = column_labels(names);
        chart
            .configure_mesh()
            .x_labels(n * 2 + 1)
            .x_label_formatter(&fmt)
            .draw()?;
        let points: Vec<(f64, f64)> = values
            .iter()
            .enumerate()
            .map(|(i, v)| (i as f64 + 0.5, *v))
            .collect();
        chart.draw_series(LineSeries::new(points.clone(), BLUE.stroke_width(2)))?;
        chart.draw_series(points.iter().map(|p| Circle::new(*p, 4, BLUE.filled())))?;
        if values.is_empty() {
            root.draw(&Text::new(
                "no evaluation runs",
                ((W / 2) as i32 - 60, (H / 2) as i32),
                ("sans-serif", 16),
            ))?;
        }
        root.present()?;
        Ok(())
    })()
    .map_err(|e| e.to_string());
    finish(svg, result, title)
}

/// The median of some values.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let mid = v.len() / 2;
    Some(if v.len().is_multiple_of(2) {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v[mid]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_labels_keep_their_ends_apart() {
        let a = short("attention-is-all-you-need-265431599a");
        let b = short("attention-is-all-you-need-9f0e11c2b7");
        assert_ne!(a, b);
        assert_eq!(a, "attention-…431599a");
        assert_eq!(short("dyt-1234"), "dyt-1234");
    }

    #[test]
    fn charts_are_svg_with_their_bars_and_labels() {
        let svg = bars(
            "Findings",
            &["syntax-error".into(), "undefined-name".into()],
            &[("found", vec![3.0, 1.0]), ("fixed", vec![2.0, 1.0])],
        );
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("syntax-error") && svg.contains("fixed"));
        assert!(svg.matches("<rect").count() >= 4);
        let empty = bars("Nothing", &[], &[("n", vec![])]);
        assert!(empty.starts_with("<svg") && empty.contains("no data"));
        let s = strips("Stages", "s", &[("loading".into(), vec![1.0, 2.0, 9.0])]);
        assert!(s.matches("<circle").count() >= 3);
        assert_eq!(median(&[3.0, 1.0, 2.0, 10.0]), Some(2.5));
    }
}
