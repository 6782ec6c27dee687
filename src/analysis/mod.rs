//! Analyses that need a model, a dataset and the latent maths together: traversal grids, the
//! active units of a VAE, and disentanglement metrics on the sprites. Above `latent` and
//! `model`, below `cli` and `app`, and it knows nothing of the UI.

pub mod disentanglement;
pub mod traversal;

pub use disentanglement::{SpriteCodes, evaluate_sprites};
pub use traversal::{ActiveUnits, active_units, traversal_latents};
