//! What the drawing code asks for. Panels never change state themselves: they push a
//! [`Command`], and [`super::ExplorerApp`] applies them all in one place.

/// An intention from the UI.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Set latent dimension `dim` to `value`.
    SetLatent {
        /// The dimension.
        dim: usize,
        /// Its new value.
        value: f32,
    },
    /// Set latent dimension `dim` back to 0.
    ResetDimension(usize),
    /// Set every dimension to 0.
    ResetAll,
    /// Draw z from the N(0, I) prior.
    Randomize,
    /// Set z to the posterior mean of dataset sample `idx`.
    PickSample(usize),
    /// Stop the map's background work.
    CancelMapJob,
    /// Compute the map again from scratch.
    RebuildMap,
    /// Hide notice `idx`.
    DismissNotice(usize),
}
