//! The anomaly scores of a sample, from its posterior mean, its loss terms and its complexity.

use super::density::Mahalanobis;

/// A way of scoring how out of place a sample is; higher is more anomalous.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Score {
    /// Squared error of the reconstruction at z = µ, summed over pixels.
    Reconstruction,
    /// Reconstruction + KL to the prior: the negative ELBO at z = µ (nats).
    NegativeElbo,
    /// Mahalanobis distance of µ from the dataset's own latent mean and covariance.
    LatentDensity,
    /// Negative ELBO minus the input's own complexity (its compressed length in nats), after
    /// Serrà et al. (ICLR 2020): likelihood models give simple inputs (flat, mostly black
    /// images) high likelihood whatever they were trained on, and subtracting the complexity
    /// removes that bias.
    ComplexityCorrected,
}

impl Score {
    /// Every score, in display order.
    pub const ALL: [Score; 4] = [
        Score::Reconstruction,
        Score::NegativeElbo,
        Score::LatentDensity,
        Score::ComplexityCorrected,
    ];

    /// A short name for tables and menus.
    pub fn label(self) -> &'static str {
        match self {
            Self::Reconstruction => "reconstruction error",
            Self::NegativeElbo => "negative ELBO",
            Self::LatentDensity => "latent Mahalanobis distance",
            Self::ComplexityCorrected => "neg. ELBO − input complexity",
        }
    }

    /// The key used in JSON and CSV.
    pub fn key(self) -> &'static str {
        match self {
            Self::Reconstruction => "reconstruction",
            Self::NegativeElbo => "negative_elbo",
            Self::LatentDensity => "mahalanobis",
            Self::ComplexityCorrected => "elbo_minus_complexity",
        }
    }

    /// Position in [`Score::ALL`].
    pub fn index(self) -> usize {
        match self {
            Self::Reconstruction => 0,
            Self::NegativeElbo => 1,
            Self::LatentDensity => 2,
            Self::ComplexityCorrected => 3,
        }
    }
}

/// The per-sample terms the scores are made of.
#[derive(Debug, Clone, Copy)]
pub struct ScoreTerms<'a> {
    /// Posterior means, `dim` values per sample.
    pub means: &'a [f32],
    /// Size of each mean.
    pub dim: usize,
    /// Squared reconstruction error at z = µ.
    pub squared_error: &'a [f64],
    /// Binary cross-entropy of the reconstruction at z = µ (nats).
    pub cross_entropy: &'a [f64],
    /// KL to the prior (nats).
    pub kl: &'a [f64],
    /// The inputs' own complexity (nats).
    pub complexity: &'a [f64],
}

/// The scores of each sample, in [`Score::ALL`] order; `density` was fitted on the reference
/// (in-distribution) means.
pub fn anomaly_scores(terms: ScoreTerms<'_>, density: &Mahalanobis) -> [Vec<f64>; 4] {
    let elbo: Vec<f64> = terms
        .cross_entropy
        .iter()
        .zip(terms.kl)
        .map(|(r, k)| r + k)
        .collect();
    let corrected = elbo
        .iter()
        .zip(terms.complexity)
        .map(|(e, c)| e - c)
        .collect();
    let distance = terms
        .means
        .chunks_exact(terms.dim.max(1))
        .map(|z| density.distance(z))
        .collect();
    [terms.squared_error.to_vec(), elbo, distance, corrected]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_combine_the_terms_by_hand() {
        let reference = [1.0, 0.0, -1.0, 0.0, 0.0, 1.0, 0.0, -1.0];
        let density = Mahalanobis::fit(&reference, 2).unwrap_or_else(|| panic!("no fit"));
        let terms = ScoreTerms {
            means: &[0.0, 0.0, 2.0, 0.0],
            dim: 2,
            squared_error: &[3.0, 5.0],
            cross_entropy: &[10.0, 20.0],
            kl: &[1.5, 4.0],
            complexity: &[11.0, 30.0],
        };
        let [squared, elbo, distance, corrected] = anomaly_scores(terms, &density);
        assert_eq!(corrected, vec![0.5, -6.0]);
        assert_eq!(squared, vec![3.0, 5.0]);
        assert_eq!(elbo, vec![11.5, 24.0]);
        // The reference has variance 2/3 along each axis, so (2, 0) lies 2/√(2/3) = √6 away.
        assert!(distance[0].abs() < 1e-9);
        assert!((distance[1] - 6f64.sqrt()).abs() < 1e-9, "{distance:?}");
    }
}
