//! Maths on latent vectors: sampling, paths between points, arithmetic, and the bookmarks kept
//! for each model. Knows nothing of models or of the UI.

pub mod anomaly;
mod arithmetic;
pub mod density;
mod interpolate;
pub mod library;
pub mod metrics;

pub use crate::rng::Rng;
pub use anomaly::{Score, ScoreTerms, anomaly_scores};
pub use arithmetic::{
    ArithmeticError, add_scaled, analogy, attribute_vector, class_mean, gaussian_around,
};
pub use density::{Mahalanobis, auroc, percentile_of};
pub use interpolate::{PathMethod, lerp, path, slerp};
pub use library::{AttributeVector, Bookmark, Library};

/// A sample from the N(0, I) prior, each value clamped to `±limit` so that it fits the sliders.
pub fn sample_prior(rng: &mut Rng, dim: usize, limit: f32) -> Vec<f32> {
    (0..dim)
        .map(|_| rng.normal().clamp(-limit, limit))
        .collect()
}
