//! Principal component analysis by linfa-reduction, guarded against the inputs it cannot take.
//!
//! linfa's eigen solver panics on NaN, so rows with a non-finite value are left out before the
//! fit and counted. The fitted mean and components are kept, so any later z (the slider
//! position) is projected exactly like the dataset was.

use linfa::dataset::DatasetBase;
use linfa::traits::Fit;
use linfa_reduction::Pca;
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
    /// linfa failed.
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

    // Keep only finite rows; linfa would panic on the others.
    let rows: Vec<&[f32]> = points.chunks_exact(dim).collect();
    let finite: Vec<bool> = rows
        .iter()
        .map(|r| r.iter().all(|v| v.is_finite()))
        .collect();
    let kept: Vec<f64> = rows
        .iter()
        .zip(&finite)
        .filter(|(_, ok)| **ok)
        .flat_map(|(r, _)| r.iter().map(|&v| f64::from(v)))
        .collect();
    let found = kept.len() / dim;
    let skipped = rows.len() - found;
    if found < 3 {
        return Err(ProjectionError::TooFewPoints {
            needed: 3,
            found,
            skipped,
        });
    }

    let records = Array2::from_shape_vec((found, dim), kept)
        .map_err(|e| ProjectionError::Linfa(e.to_string()))?;
    let total_variance = total_variance(&records);
    let fitted = Pca::params(components)
        .fit(&DatasetBase::from(records))
        .map_err(|e| ProjectionError::Linfa(e.to_string()))?;

    let projection = PcaProjection {
        mean: fitted.mean().to_vec(),
        components: fitted
            .components()
            .rows()
            .into_iter()
            .map(|r| r.to_vec())
            .collect(),
        explained_variance_ratio: fitted
            .singular_values()
            .iter()
            .map(|s| s * s / (found as f64 - 1.0) / total_variance.max(f64::MIN_POSITIVE))
            .collect(),
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

/// Sum of the columns' sample variances.
fn total_variance(records: &Array2<f64>) -> f64 {
    records.var_axis(ndarray::Axis(0), 1.0).iter().sum()
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
        assert!((first[0].abs() - 0.7071).abs() < 0.01, "{first:?}");
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
