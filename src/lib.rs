//! latent-explorer: look inside the latent space of autoencoders, VAEs and GAN generators.
//!
//! The crate is layered; each folder is one layer and the lower ones never name the upper
//! ones (see `ARCHITECTURE.md`):
//!
//! - [`data`]: datasets and their readers,
//! - [`model`]: candle networks, checkpoints and training,
//! - [`projection`]: maps from latent space to the 2-D plane,
//! - [`latent`]: maths on latent vectors,
//! - [`files`] and [`rng`]: atomic file writes and the seeded RNG, shared by every layer,
//! - [`cli`]: the headless commands,
//! - [`app`]: the egui window, the only layer that knows egui exists.

pub mod analysis;
pub mod app;
pub mod bundled;
pub mod cli;
pub mod data;
pub mod files;
pub mod latent;
pub mod model;
pub mod projection;
pub mod rng;
