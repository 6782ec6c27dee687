//! How typical a latent vector is of a dataset's latents: the Mahalanobis distance from their
//! mean under their covariance, and the area under the ROC curve for comparing scores.

use linfa_linalg::eigh::Eigh;
use ndarray::Array2;

/// The mean and inverse covariance of a set of latents.
#[derive(Debug, Clone, PartialEq)]
pub struct Mahalanobis {
    mean: Vec<f64>,
    /// Σ⁻¹, row-major `dim × dim`.
    precision: Vec<f64>,
}

impl Mahalanobis {
    /// Fits the rows of `points` (`dim` values each) whose values are all finite. Directions of
    /// (almost) no variance get a floor of 1e-6 × the largest variance, so the inverse exists.
    /// `None` with fewer than two finite rows.
    pub fn fit(points: &[f32], dim: usize) -> Option<Self> {
        let rows: Vec<&[f32]> = points
            .chunks_exact(dim.max(1))
            .filter(|r| r.iter().all(|v| v.is_finite()))
            .collect();
        if rows.len() < 2 || dim == 0 {
            return None;
        }
        let n = rows.len() as f64;
        let mut mean = vec![0.0; dim];
        for row in &rows {
            for (m, &v) in mean.iter_mut().zip(*row) {
                *m += f64::from(v) / n;
            }
        }
        let mut covariance = Array2::<f64>::zeros((dim, dim));
        for row in &rows {
            for i in 0..dim {
                let di = f64::from(row[i]) - mean[i];
                for j in i..dim {
                    covariance[(i, j)] += di * (f64::from(row[j]) - mean[j]);
                }
            }
        }
        for i in 0..dim {
            for j in i..dim {
                let c = covariance[(i, j)] / (n - 1.0);
                covariance[(i, j)] = c;
                covariance[(j, i)] = c;
            }
        }

        let (values, vectors) = covariance.eigh().ok()?;
        let largest = values
            .iter()
            .copied()
            .fold(0.0f64, f64::max)
            .max(f64::MIN_POSITIVE);
        let floor = largest * 1e-6;
        let mut precision = vec![0.0; dim * dim];
        for (k, &value) in values.iter().enumerate() {
            let inverse = 1.0 / value.max(floor);
            let column = vectors.column(k);
            for i in 0..dim {
                for j in 0..dim {
                    precision[i * dim + j] += inverse * column[i] * column[j];
                }
            }
        }
        Some(Self { mean, precision })
    }

    /// `√((z − µ)ᵀ Σ⁻¹ (z − µ))`; infinite when `z` is not finite or of the wrong size.
    pub fn distance(&self, z: &[f32]) -> f64 {
        let dim = self.mean.len();
        if z.len() != dim || !z.iter().all(|v| v.is_finite()) {
            return f64::INFINITY;
        }
        let d: Vec<f64> = z
            .iter()
            .zip(&self.mean)
            .map(|(&v, m)| f64::from(v) - m)
            .collect();
        let mut total = 0.0;
        for i in 0..dim {
            let row = &self.precision[i * dim..(i + 1) * dim];
            total += d[i] * row.iter().zip(&d).map(|(p, x)| p * x).sum::<f64>();
        }
        total.max(0.0).sqrt()
    }
}

/// The area under the ROC curve of telling `positives` (say, out-of-distribution samples)
/// from `negatives` by a higher score: the chance that a random positive outscores a random
/// negative, ties counting half. Non-finite scores count as the highest. `None` when either
/// side is empty.
pub fn auroc(negatives: &[f64], positives: &[f64]) -> Option<f64> {
    if negatives.is_empty() || positives.is_empty() {
        return None;
    }
    let key = |v: f64| if v.is_finite() { v } else { f64::INFINITY };
    let mut all: Vec<(f64, bool)> = negatives
        .iter()
        .map(|&v| (key(v), false))
        .chain(positives.iter().map(|&v| (key(v), true)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));

    // Sum of the positives' ranks (1-based), ties given their average rank.
    let mut rank_sum = 0.0;
    let mut start = 0;
    while start < all.len() {
        let mut end = start;
        while end < all.len() && all[end].0 == all[start].0 {
            end += 1;
        }
        let average_rank = (start + 1 + end) as f64 / 2.0;
        rank_sum += average_rank * all[start..end].iter().filter(|(_, p)| *p).count() as f64;
        start = end;
    }
    let (n_pos, n_neg) = (positives.len() as f64, negatives.len() as f64);
    Some((rank_sum - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg))
}

/// The share of `scores` at or below `value`, in `[0, 1]`.
pub fn percentile_of(scores: &[f64], value: f64) -> f64 {
    if scores.is_empty() {
        return 0.0;
    }
    scores.iter().filter(|&&s| s <= value).count() as f64 / scores.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn the_distance_of_a_standard_normal_cloud_is_its_norm() {
        let mut rng = Rng::new(4);
        let points: Vec<f32> = (0..20_000 * 3).map(|_| rng.normal()).collect();
        let fit = Mahalanobis::fit(&points, 3).unwrap_or_else(|| panic!("no fit"));
        let d = fit.distance(&[1.0, 2.0, -2.0]);
        assert!((d - 3.0).abs() < 0.05, "{d}");
    }

    #[test]
    fn a_stretched_axis_counts_for_less() {
        let mut rng = Rng::new(5);
        let points: Vec<f32> = (0..20_000)
            .flat_map(|_| [10.0 * rng.normal(), rng.normal()])
            .collect();
        let fit = Mahalanobis::fit(&points, 2).unwrap_or_else(|| panic!("no fit"));
        assert!((fit.distance(&[10.0, 0.0]) - 1.0).abs() < 0.05);
        assert!((fit.distance(&[0.0, 1.0]) - 1.0).abs() < 0.05);
        assert_eq!(fit.distance(&[f32::NAN, 0.0]), f64::INFINITY);
    }

    #[test]
    fn auroc_of_known_cases() {
        assert_eq!(auroc(&[1.0, 2.0], &[3.0, 4.0]), Some(1.0));
        assert_eq!(auroc(&[3.0, 4.0], &[1.0, 2.0]), Some(0.0));
        assert_eq!(auroc(&[1.0, 1.0], &[1.0, 1.0]), Some(0.5));
        // One of the four pairs is won by the negative: 3 of 4.
        assert_eq!(auroc(&[1.0, 3.0], &[2.0, 4.0]), Some(0.75));
        assert_eq!(auroc(&[0.0], &[f64::NAN]), Some(1.0));
        assert_eq!(auroc(&[], &[1.0]), None);
    }

    #[test]
    fn percentiles_count_the_scores_at_or_below() {
        let scores = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile_of(&scores, 2.0), 0.5);
        assert_eq!(percentile_of(&scores, 0.0), 0.0);
        assert_eq!(percentile_of(&scores, 9.0), 1.0);
    }
}
