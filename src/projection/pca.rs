//! Principal component analysis: the covariance matrix and its symmetric eigen-decomposition.
//!
//! linfa-reduction's `Pca` estimates the leading singular vectors iteratively (LOBPCG), and on
//! an elongated 3-D test cloud it returned a first component of (0.37, 0.93, 0.03) where the
//! truth is (0.71, 0.71, 0). For the latent sizes this app maps (up to a few hundred) the
//! covariance matrix is small, so we form it exactly in f64 and take all its eigenvectors with
//! linfa-linalg's dense solver: exact up to rounding, and for 10,000 × 16 a few milliseconds.
//!
//! Rows with a non-finite value are left out before the fit and counted (linfa's solvers panic
//! on NaN). The fitted mean and components are kept, so any later z (the slider position) is
//! projected exactly as the dataset was. Each component's sign is fixed so that its largest
//! entry is positive, which makes the result deterministic.

use linfa_linalg::eigh::{EigSort, Eigh};
use ndarray::Array2;

/// Why a projection could not be fitted.
#[derive(Debug, thiserror::Error)]
pub enum ProjectionError {
    /// Fewer finite rows than the fit needs.
    #[error(
        "PCA needs at least {needed} points with finite values, got {found} ({skipped} left out as NaN or infinite)"
    )]
    TooFewPoints {
        /// Rows needed.
        needed: usize,
        /// Finite rows present.
        found: usize,
        /// Rows left out.
        skipped: usize,
    },
    /// Fewer dimensions than components asked for.
    #[error("PCA to {components} components needs at least {components} dimensions, got {dim}")]
    TooFewDimensions {
        /// Components asked for.
        components: usize,
        /// Dimensions of the input.
        dim: usize,
    },
    /// The eigen solver failed.
    #[error("PCA failed: {0}")]
    Linfa(String),
}

/// A fitted PCA: the mean and the leading principal directions.
#[derive(Debug, Clone, PartialEq)]
pub struct PcaProjection {
    mean: Vec<f64>,
    /// `components[k]` is the k-th direction, a unit vector of the input's dimension.
    components: Vec<Vec<f64>>,
    /// Share of the input's total variance along each component.
    explained_variance_ratio: Vec<f64>,
}

/// The result of fitting: the projection and every input row's coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct FittedPca {
    /// The projection, for placing further points.
    pub projection: PcaProjection,
    /// Coordinates of each input row on the first two components; `None` for rows left out.
    pub coords: Vec<Option<[f64; 2]>>,
    /// Number of rows left out because they held NaN or infinity.
    pub skipped: usize,
}

/// Fits PCA with `components` components (at least 2) to `points`, `n × dim` values row by row.
pub fn fit_pca(
    points: &[f32],
    dim: usize,
    components: usize,
) -> Result<FittedPca, ProjectionError> {
    let components = components.max(2);
    if dim < components {
        return Err(ProjectionError::TooFewDimensions { components, dim });
    }

    // Keep only finite rows.
    let rows: Vec<&[f32]> = points.chunks_exact(dim).collect();
    let finite: Vec<bool> = rows
        .iter()
        .map(|r| r.iter().all(|v| v.is_finite()))
        .collect();
    let kept: Vec<&[f32]> = rows
        .iter()
        .zip(&finite)
        .filter(|(_, ok)| **ok)
        .map(|(r, _)| *r)
        .collect();
    let found = kept.len();
    let skipped = rows.len() - found;
    if found < 3 {
        return Err(ProjectionError::TooFewPoints {
            needed: 3,
            found,
            skipped,
        });
    }

    let mean = column_means(&kept, dim);
    let covariance = covariance(&kept, &mean);
    let total_variance: f64 = covariance.diag().sum();
    let (values, vectors) = covariance
        .eigh()
        .map_err(|e| ProjectionError::Linfa(e.to_string()))?
        .sort_eig_desc();

    let components: Vec<Vec<f64>> =
        (0..components)
            .map(|k| {
                let mut direction = vectors.column(k).to_vec();
                let largest = direction.iter().copied().fold(0.0f64, |best, v| {
                    if v.abs() > best.abs() { v } else { best }
                });
                if largest < 0.0 {
                    direction.iter_mut().for_each(|v| *v = -*v);
                }
                direction
            })
            .collect();
    let explained_variance_ratio = values
        .iter()
        .take(components.len())
        .map(|v| v.max(0.0) / total_variance.max(f64::MIN_POSITIVE))
        .collect();

    let projection = PcaProjection {
        mean,
        components,
        explained_variance_ratio,
    };
    let coords = rows
        .iter()
        .zip(&finite)
        .map(|(row, ok)| ok.then(|| projection.project(row)))
        .collect();
    Ok(FittedPca {
        projection,
        coords,
        skipped,
    })
}

fn column_means(rows: &[&[f32]], dim: usize) -> Vec<f64> {
    let mut mean = vec![0.0; dim];
    for row in rows {
        for (m, &v) in mean.iter_mut().zip(*row) {
            *m += f64::from(v);
        }
    }
    let n = rows.len() as f64;
    mean.iter_mut().for_each(|m| *m /= n);
    mean
}

/// The sample covariance (`n − 1` in the denominator) of the rows around `mean`.
fn covariance(rows: &[&[f32]], mean: &[f64]) -> Array2<f64> {
    let dim = mean.len();
    let mut sums = vec![0.0f64; dim * dim];
    let mut centred = vec![0.0f64; dim];
    for row in rows {
        for ((c, &v), m) in centred.iter_mut().zip(*row).zip(mean) {
            *c = f64::from(v) - m;
        }
        // Upper triangle only; the matrix is symmetric.
        for i in 0..dim {
            let ci = centred[i];
            let line = &mut sums[i * dim + i..(i + 1) * dim];
            for (s, &cj) in line.iter_mut().zip(&centred[i..]) {
                *s += ci * cj;
            }
        }
    }
    let scale = 1.0 / (rows.len() as f64 - 1.0);
    Array2::from_shape_fn((dim, dim), |(i, j)| {
        let (a, b) = if i <= j { (i, j) } else { (j, i) };
        sums[a * dim + b] * scale
    })
}

impl PcaProjection {
    /// Coordinates of `z` on the first two components; non-finite input gives non-finite output.
    pub fn project(&self, z: &[f32]) -> [f64; 2] {
        let along = |k: usize| {
            self.components.get(k).map_or(f64::NAN, |c| {
                c.iter()
                    .zip(&self.mean)
                    .zip(z)
                    .map(|((c, m), &v)| c * (f64::from(v) - m))
                    .sum()
            })
        };
        [along(0), along(1)]
    }

    /// Share of the total variance along each fitted component.
    pub fn explained_variance_ratio(&self) -> &[f64] {
        &self.explained_variance_ratio
    }

    /// The fitted principal directions.
    pub fn components(&self) -> &[Vec<f64>] {
        &self.components
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latent::Rng;

    /// Points spread 10× wider along (1, 1, 0)/√2 than along (0, 0, 1), with tiny noise elsewhere.
    fn elongated(n: usize) -> Vec<f32> {
        let mut rng = Rng::new(2);
        let mut out = Vec::new();
        for _ in 0..n {
            let a = 10.0 * rng.normal();
            let b = rng.normal();
            let s = std::f32::consts::FRAC_1_SQRT_2;
            out.extend([a * s + 0.01 * rng.normal(), a * s, b]);
        }
        out
    }

    #[test]
    fn first_component_follows_the_widest_spread() {
        let fitted = fit_pca(&elongated(500), 3, 2).unwrap_or_else(|e| panic!("{e}"));
        let first = &fitted.projection.components()[0];
        assert!(
            (first[0].abs() - std::f64::consts::FRAC_1_SQRT_2).abs() < 0.01,
            "{first:?}"
        );
        assert!(first[2].abs() < 0.05, "{first:?}");
        let ratio = fitted.projection.explained_variance_ratio();
        assert!(ratio[0] > 0.95 && ratio[0] + ratio[1] > 0.999, "{ratio:?}");
    }

    #[test]
    fn projecting_a_row_again_gives_its_fitted_coordinates() {
        let points = elongated(100);
        let fitted = fit_pca(&points, 3, 2).unwrap_or_else(|e| panic!("{e}"));
        let again = fitted.projection.project(&points[30..33]);
        assert_eq!(fitted.coords[10], Some(again));
    }

    #[test]
    fn non_finite_rows_are_left_out_and_counted() {
        let mut points = elongated(50);
        points[4] = f32::NAN;
        points[9] = f32::INFINITY;
        let fitted = fit_pca(&points, 3, 2).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(fitted.skipped, 2);
        assert_eq!(fitted.coords[1], None);
        assert_eq!(fitted.coords[3], None);
        assert_eq!(fitted.coords.iter().flatten().count(), 48);
    }

    #[test]
    fn too_few_points_is_explained() {
        let message = fit_pca(&[1.0, 2.0, f32::NAN, 0.0], 2, 2)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            message.as_deref(),
            Some(
                "PCA needs at least 3 points with finite values, got 1 (1 left out as NaN or infinite)"
            )
        );
    }
}
