//! Maths on latent vectors: sampling, paths between points, arithmetic, and the bookmarks kept
//! for each model. Knows nothing of models or of the UI.

mod arithmetic;
mod interpolate;
pub mod library;
mod rng;

pub use arithmetic::{ArithmeticError, add_scaled, analogy, attribute_vector, class_mean};
pub use interpolate::{PathMethod, lerp, path, slerp};
pub use library::{AttributeVector, Bookmark, Library};
pub use rng::Rng;

/// A sample from the N(0, I) prior, each value clamped to `±limit` so that it fits the sliders.
pub fn sample_prior(rng: &mut Rng, dim: usize, limit: f32) -> Vec<f32> {
    (0..dim)
        .map(|_| rng.normal().clamp(-limit, limit))
        .collect()
}
