//! Samples, percentiles and the Markdown tables the benchmark prints (and the README quotes).

use std::time::Duration;

/// Measured durations, sorted.
#[derive(Clone, Debug, Default)]
pub(crate) struct Samples(Vec<Duration>);

impl Samples {
    pub(crate) fn new(mut times: Vec<Duration>) -> Self {
        times.sort();
        Self(times)
    }

    /// These samples and `other`'s.
    pub(crate) fn merged(self, other: Samples) -> Self {
        let mut all = self.0;
        all.extend(other.0);
        Self::new(all)
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// The `q` quantile (nearest rank), in milliseconds.
    pub(crate) fn ms(&self, q: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        let rank = ((q * self.0.len() as f64).ceil() as usize).clamp(1, self.0.len());
        self.0[rank - 1].as_secs_f64() * 1e3
    }

    pub(crate) fn max_ms(&self) -> f64 {
        self.ms(1.0)
    }
}

/// Milliseconds with a precision that suits their size.
pub(crate) fn ms(value: f64) -> String {
    match value {
        v if v.is_nan() => "–".into(),
        v if v < 1.0 => format!("{v:.3}"),
        v if v < 100.0 => format!("{v:.2}"),
        v => format!("{v:.0}"),
    }
}

/// A count per second.
pub(crate) fn rate(value: f64) -> String {
    match value {
        v if v.is_nan() => "–".into(),
        v if v < 100.0 => format!("{v:.1}"),
        v => format!("{v:.0}"),
    }
}

/// `value / floor` as a ratio, or a dash for the floor itself.
pub(crate) fn ratio(value: f64, floor: f64) -> String {
    if value.is_nan() || floor.is_nan() || floor == 0.0 {
        return "–".into();
    }
    format!("{:.2}×", value / floor)
}

/// A Markdown table: the first column left-aligned, the others right-aligned.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) {
    println!("| {} |", headers.join(" | "));
    let align: Vec<&str> = (0..headers.len())
        .map(|i| if i == 0 { "---" } else { "---:" })
        .collect();
    println!("|{}|", align.join("|"));
    for row in rows {
        println!("| {} |", row.join(" | "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let samples = Samples::new((1..=200).rev().map(Duration::from_millis).collect());
        assert_eq!(samples.ms(0.5), 100.0);
        assert_eq!(samples.ms(0.99), 198.0);
        assert_eq!(samples.max_ms(), 200.0);
    }
}
