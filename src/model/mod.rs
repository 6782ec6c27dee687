//! Networks in candle, their checkpoints and their training.
//!
//! This is the boundary where candle tensors become plain `Vec<f32>`: callers above this layer
//! hand in and get back plain slices.

mod adam;
mod backprop;
pub mod checkpoint;
mod fast_decoder;
mod fast_math;
mod scores;
mod spec;
pub mod train;
mod vae;

pub use checkpoint::{CheckpointError, load_checkpoint, load_checkpoint_bytes, save_checkpoint};
pub use fast_decoder::FastDecoder;
pub use scores::ImageScores;
pub use spec::{FORMAT_TAG, ModelKind, ModelSpec, OutputActivation, SpecError, TrainingFacts};
pub use vae::{ENCODE_BATCH, MlpVae, ModelError};
