//! Projections of latent vectors to the 2-D map. Knows nothing of models or of the UI.

mod pca;

pub use pca::{FittedPca, PcaProjection, ProjectionError, fit_pca};
