//! Projections of latent vectors to the 2-D map. Knows nothing of models or of the UI.
//!
//! - [`fit_pca`]: exact PCA (linear: any later z is projected exactly);
//! - [`Tsne`]: t-SNE that advances a few iterations at a time (non-linear: a later z is placed
//!   approximately from its neighbours, [`Tsne::place`]).

mod pca;
mod tsne;

pub use pca::{FittedPca, PcaCoords, PcaProjection, ProjectionError, fit_pca};
pub use tsne::{Tsne, TsneError, TsneParams, neighbourhood_preservation};
