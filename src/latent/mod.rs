//! Maths on latent vectors: sampling, and (as the app grows) interpolation and arithmetic.

mod rng;

pub use rng::Rng;

/// A sample from the N(0, I) prior, each value clamped to `±limit` so that it fits the sliders.
pub fn sample_prior(rng: &mut Rng, dim: usize, limit: f32) -> Vec<f32> {
    (0..dim)
        .map(|_| rng.normal().clamp(-limit, limit))
        .collect()
}
