//! The model and dataset compiled into the binary, so the app opens with no download and no
//! setup, from any working directory.

use std::path::Path;

use crate::data::{Dataset, DatasetError};
use crate::model::{CheckpointError, LoadedModel, load_model_bytes};

/// Where the bundled checkpoint lives in the source tree; also its name in messages.
pub const MODEL_PATH: &str = "assets/fashion-vae-16.safetensors";

/// Where the bundled dataset lives in the source tree; also its name in messages.
pub const DATASET_PATH: &str = "assets/fashion-mnist/t10k-images-idx3-ubyte.gz";

const MODEL_BYTES: &[u8] = include_bytes!("../assets/fashion-vae-16.safetensors");
const IMAGE_BYTES: &[u8] = include_bytes!("../assets/fashion-mnist/t10k-images-idx3-ubyte.gz");
const LABEL_BYTES: &[u8] = include_bytes!("../assets/fashion-mnist/t10k-labels-idx1-ubyte.gz");

/// Where the bundled sprites VAE lives in the source tree; also its name in messages.
pub const SPRITES_MODEL_PATH: &str = "assets/sprites-vae.safetensors";

const SPRITES_MODEL_BYTES: &[u8] = include_bytes!("../assets/sprites-vae.safetensors");

/// The VAE trained by this project on the 60,000 Fashion-MNIST training images.
pub fn model() -> Result<LoadedModel, CheckpointError> {
    load_model_bytes(MODEL_BYTES, Path::new(MODEL_PATH), None)
}

/// The convolutional VAE (β = 1) trained by this project on the generated 64×64 sprites (the
/// README's disentanglement table says how, and what it scores).
pub fn sprites_model() -> Result<LoadedModel, CheckpointError> {
    load_model_bytes(SPRITES_MODEL_BYTES, Path::new(SPRITES_MODEL_PATH), None)
}

/// The 10,000 Fashion-MNIST test images with their labels.
pub fn dataset() -> Result<Dataset, DatasetError> {
    Dataset::from_idx_bytes(
        "fashion-mnist t10k",
        Path::new(DATASET_PATH),
        IMAGE_BYTES,
        Some(LABEL_BYTES),
    )
}

/// The checkpoint at `path`, or the bundled model when `path` is `None`.
pub fn load_model(path: Option<&Path>) -> Result<LoadedModel, CheckpointError> {
    match path {
        Some(path) => crate::model::load_model(path),
        None => model(),
    }
}

/// The name that stands for the generated sprites dataset wherever a dataset path is taken.
pub const SPRITES: &str = "sprites";

/// Images in the generated sprites dataset, and its seed.
pub const SPRITES_COUNT: usize = 10_000;

/// The dataset at `path` (or the generated sprites for `sprites`), or the bundled
/// Fashion-MNIST test set when `path` is `None`.
pub fn load_dataset(path: Option<&Path>) -> Result<Dataset, DatasetError> {
    match path {
        Some(path) if path == Path::new(SPRITES) && !path.exists() => {
            Ok(crate::data::sprites::dataset(SPRITES_COUNT, 0).0)
        }
        Some(path) => Dataset::load(path),
        None => dataset(),
    }
}
