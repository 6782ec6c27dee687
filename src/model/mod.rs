//! Networks in candle, their checkpoints and their training.
//!
//! This is the boundary where candle tensors become plain `Vec<f32>`: callers above this layer
//! hold a [`Model`] and hand in and get back plain slices.

mod adam;
mod backprop;
pub mod checkpoint;
mod conv;
mod conv_ops;
mod dcgan;
mod fast_decoder;
mod fast_encoder;
mod fast_math;
pub mod import;
mod matmul;
mod network;
mod point_decoder;
mod scores;
mod spec;
pub mod train;
mod train_conv;
mod vae;

pub use checkpoint::{CheckpointError, load_checkpoint, load_checkpoint_bytes, save_checkpoint};
pub use conv::ConvVae;
pub use dcgan::DcganGenerator;
pub use fast_decoder::FastDecoder;
pub use fast_encoder::FastEncoder;
pub use import::{ArchitectureSource, FileFormat, LoadedModel, load_model, load_model_bytes};
pub use network::Model;
pub use point_decoder::PointDecoder;
pub use scores::ImageScores;
pub use spec::{FORMAT_TAG, ModelKind, ModelSpec, OutputActivation, SpecError, TrainingFacts};
pub use vae::{ENCODE_BATCH, MlpVae, ModelError};
