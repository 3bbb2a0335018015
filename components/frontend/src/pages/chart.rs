//! Charts as inline SVG, drawn on the server: a frame of weeks along x and a value axis from 0
//! to a round maximum, with bars, marks, or a line and its band. The page's stylesheet colours
//! them by class, so dark mode and contrast follow the console's palette.

use crate::api::Keys;

/// The chart's drawing area, in SVG user units (it scales to the page's width).
/// About a card's width on a desktop, so that 11-unit labels read at about 11 px.
const WIDTH: f64 = 360.0;
const HEIGHT: f64 = 180.0;
const LEFT: f64 = 40.0;
const BOTTOM: f64 = 22.0;
const TOP: f64 = 10.0;
/// A measured value of 0 still shows, as a sliver on the axis.
const MIN_BAR: f64 = 1.5;

#[derive(Debug, Clone)]
pub struct Bar {
    pub x: String,
    pub y: String,
    pub width: String,
    pub height: String,
    /// What a pointer's tooltip says (`<title>` of the bar).
    pub label: String,
}

pub struct Tick {
    pub at: String,
    pub label: String,
}

/// One chart: bars or a line with a band, on a y axis from 0 to `max`.
pub struct Chart {
    pub id: &'static str,
    pub title: String,
    pub desc: String,
    pub bars: Vec<Bar>,
    /// Marks drawn over bars (the worst restore of a week), as short horizontal lines.
    pub marks: Vec<Bar>,
    pub line: Option<String>,
    pub band: Option<String>,
    pub y_ticks: Vec<Tick>,
    pub x_ticks: Vec<Tick>,
    pub view_box: String,
    pub axis: String,
    /// Where grid lines start and end, where y labels end, and where x labels sit.
    pub left: f64,
    pub right: f64,
    pub y_label_x: f64,
    pub x_label_y: f64,
}

pub fn n(v: f64) -> String {
    format!("{v:.1}")
}

/// Places week I of COUNT, and a value against the axis maximum.
pub struct Frame {
    count: usize,
    max: f64,
}

impl Frame {
    fn slot(&self) -> f64 {
        (WIDTH - LEFT) / self.count.max(1) as f64
    }
    fn x(&self, i: usize) -> f64 {
        LEFT + self.slot() * i as f64
    }
    pub fn centre(&self, i: usize) -> f64 {
        self.x(i) + self.slot() / 2.0
    }
    pub fn y(&self, value: f64) -> f64 {
        let plot = HEIGHT - BOTTOM - TOP;
        TOP + plot - plot * (value / self.max).clamp(0.0, 1.0)
    }
    pub fn bar(&self, i: usize, value: f64, label: String) -> Bar {
        let width = self.slot() * 0.6;
        let y = self.y(value).min(HEIGHT - BOTTOM - MIN_BAR);
        Bar {
            x: n(self.x(i) + self.slot() * 0.2),
            y: n(y),
            width: n(width),
            height: n(HEIGHT - BOTTOM - y),
            label,
        }
    }
}

/// A round axis maximum at or above the largest value, and its ticks (at most six), each
/// labelled with UNIT. Counts (WHOLE) never get fractional steps.
fn scale(largest: f64, whole: bool, unit: &str) -> (f64, Vec<(f64, String)>) {
    let largest = if largest > 0.0 { largest } else { 1.0 };
    let magnitude = 10f64.powf(largest.log10().floor());
    let step = [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .filter(|step| !whole || *step >= 1.0)
        .find(|step| largest / step <= 5.0)
        .unwrap_or(10.0 * magnitude);
    let max = (largest / step).ceil() * step;
    let decimals = usize::from(step < 1.0);
    let ticks = (0..=((max / step).round() as usize))
        .map(|k| {
            let v = k as f64 * step;
            (v, format!("{v:.decimals$}{unit}"))
        })
        .collect();
    (max, ticks)
}

pub struct Series<'a> {
    pub id: &'static str,
    pub title: String,
    pub desc: String,
    pub weeks: &'a [(String, &'a Keys)],
}

impl Series<'_> {
    /// The chart's frame, axes and ticks for values up to LARGEST.
    pub fn chart(&self, largest: f64, whole: bool, unit: &str) -> (Chart, Frame) {
        let (max, ticks) = scale(largest, whole, unit);
        let frame = Frame {
            count: self.weeks.len(),
            max,
        };
        let every = self.weeks.len().div_ceil(8).max(1);
        let chart = Chart {
            id: self.id,
            title: self.title.clone(),
            desc: self.desc.clone(),
            bars: Vec::new(),
            marks: Vec::new(),
            line: None,
            band: None,
            y_ticks: ticks
                .into_iter()
                .map(|(v, label)| Tick {
                    at: n(frame.y(v)),
                    label,
                })
                .collect(),
            x_ticks: self
                .weeks
                .iter()
                .enumerate()
                .filter(|(i, _)| i % every == 0)
                .map(|(i, (week, _))| Tick {
                    at: n(frame.centre(i)),
                    label: week.clone(),
                })
                .collect(),
            view_box: format!("0 0 {WIDTH} {HEIGHT}"),
            left: LEFT,
            right: WIDTH,
            y_label_x: LEFT - 6.0,
            x_label_y: HEIGHT - 6.0,
            axis: format!("M{LEFT} {TOP} V{} H{WIDTH}", HEIGHT - BOTTOM),
        };
        (chart, frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_a_round_number_above_the_largest_value() {
        let labels = |largest, whole| {
            let (max, ticks) = scale(largest, whole, "");
            (max, ticks.into_iter().map(|t| t.1).collect::<Vec<_>>())
        };
        assert_eq!(
            labels(7.0, true),
            (
                8.0,
                vec!["0", "2", "4", "6", "8"]
                    .into_iter()
                    .map(String::from)
                    .collect()
            )
        );
        assert_eq!(labels(100.0, false).0, 100.0);
        assert_eq!(labels(100.0, false).1.len(), 6);
        assert_eq!(labels(26.0, false).0, 30.0);
        let (max, _) = labels(0.5, false);
        assert!((0.5..=1.0).contains(&max), "{max}");
        assert_eq!(labels(1.0, true).1, ["0", "1"]);
        assert_eq!(labels(0.0, true).0, 1.0);
    }
}
