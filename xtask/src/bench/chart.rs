//! The report's SVG chart: the cold-start distribution of every variant, and the p50
//! breakdown of the extension's init phases.

use anyhow::{Result, anyhow};
use plotters::prelude::*;

/// One variant's cold starts, in ms.
pub struct Series<'a> {
    pub name: &'a str,
    pub function_ms: &'a [f64],
    pub extension_ms: &'a [f64],
}

fn plot_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing the chart: {e:?}")
}

pub fn svg(title: &str, series: &[Series<'_>], phases: &[(String, f64)]) -> Result<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (960, 760)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let (top, bottom) = root.split_vertically(480);
        let max = series
            .iter()
            .flat_map(|s| s.function_ms.iter().chain(s.extension_ms))
            .copied()
            .fold(1.0_f64, f64::max);
        let mut chart = ChartBuilder::on(&top)
            .caption(title, ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(70)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5f64..(series.len() as f64 - 0.5), 0f64..max * 1.1)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .y_desc("ms from exec to first call for work")
            .x_labels(series.len())
            .x_label_formatter(&|x| {
                let i = x.round() as usize;
                series
                    .get(i)
                    .map_or_else(String::new, |s| s.name.to_owned())
            })
            .disable_x_mesh()
            .draw()
            .map_err(plot_err)?;
        for (color, label, pick, offset) in [
            (BLUE, "hello: exec → first /next", 0usize, -0.12),
            (RED, "extension: exec → first /event/next", 1, 0.12),
        ] {
            let points = series.iter().enumerate().flat_map(|(i, s)| {
                let values = if pick == 0 {
                    s.function_ms
                } else {
                    s.extension_ms
                };
                values.iter().map(move |v| (i as f64 + offset, *v))
            });
            chart
                .draw_series(points.map(|p| Circle::new(p, 2, color.mix(0.5).filled())))
                .map_err(plot_err)?
                .label(label)
                .legend(move |(x, y)| Circle::new((x, y), 4, color.filled()));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(plot_err)?;
        let total: f64 = phases.iter().map(|(_, ms)| ms).sum::<f64>().max(0.001);
        let mut bars = ChartBuilder::on(&bottom)
            .caption("thaw-extension init phases (p50, ms)", ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(160)
            .build_cartesian_2d(0f64..total * 1.05, -0.5f64..(phases.len() as f64 - 0.5))
            .map_err(plot_err)?;
        bars.configure_mesh()
            .y_labels(phases.len().max(1))
            .y_label_formatter(&|y| {
                let i = y.round() as usize;
                phases.get(i).map_or_else(String::new, |p| p.0.clone())
            })
            .x_desc("ms since process start")
            .disable_y_mesh()
            .draw()
            .map_err(plot_err)?;
        let mut start = 0.0;
        for (i, (_, ms)) in phases.iter().enumerate() {
            let y = i as f64;
            let rect = Rectangle::new(
                [(start, y - 0.35), (start + ms, y + 0.35)],
                GREEN.mix(0.7).filled(),
            );
            bars.draw_series([rect]).map_err(plot_err)?;
            start += ms;
        }
        root.present().map_err(plot_err)?;
    }
    Ok(out)
}
