//! Writing checkpoints (one `.safetensors` file whose metadata holds the [`super::ModelSpec`]) and
//! the errors of reading any model file (the reading itself is in [`super::import`]).
//!
//! This is where foreign errors become ours: safetensors, zip, pickle and candle errors are
//! turned into [`CheckpointError`] values naming the file, the tensor and what was expected.

use std::path::{Path, PathBuf};

use candle_core::DType;
use safetensors::Dtype;

use super::network::Model;
use super::spec::SpecError;
use super::vae::ModelError;

/// Why a checkpoint could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The file could not be read or written.
    #[error("checkpoint \"{path}\": {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },

    /// The path is a folder.
    #[error("checkpoint \"{path}\": is a directory, not a checkpoint file")]
    IsDirectory {
        /// The path.
        path: PathBuf,
    },

    /// The bytes are not a valid safetensors file.
    #[error("checkpoint \"{path}\": not a valid safetensors file: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What the parser found wrong.
        reason: String,
    },

    /// The file is larger than any model this app can hold in memory.
    #[error("checkpoint \"{path}\": is {bytes} bytes, larger than the 8 GiB this app reads")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        bytes: u64,
    },

    /// The bytes are neither safetensors nor a PyTorch zip file.
    #[error(
        "checkpoint \"{path}\": unknown format (starts with {first_bytes}): expected a .safetensors file or a PyTorch .pt/.pth/.bin saved by torch.save"
    )]
    UnknownFormat {
        /// The file.
        path: PathBuf,
        /// The first bytes in hex.
        first_bytes: String,
    },

    /// A PyTorch file in the format used before PyTorch 1.6.
    #[error(
        "checkpoint \"{path}\": is a PyTorch file in the old non-zip format; load it in Python and save it again with torch.save (PyTorch 1.6 or later writes the zip format)"
    )]
    LegacyTorch {
        /// The file.
        path: PathBuf,
    },

    /// A PyTorch zip file that holds no readable state dict.
    #[error("checkpoint \"{path}\": {reason}")]
    Torch {
        /// The file.
        path: PathBuf,
        /// What is wrong, from the zip or pickle reader.
        reason: String,
    },

    /// The file holds no tensor at all.
    #[error("checkpoint \"{path}\": holds no tensors")]
    NoTensors {
        /// The file.
        path: PathBuf,
    },

    /// No metadata, no sidecar, and tensors of no known layout.
    #[error(
        "checkpoint \"{path}\": its architecture is unknown: no latent-explorer metadata, no config.json beside it, and its tensors ({tensors}) match no known layout; describe it in a config.json (see the README)"
    )]
    UnknownArchitecture {
        /// The file.
        path: PathBuf,
        /// Its first tensors and shapes.
        tensors: String,
    },

    /// The sidecar JSON file is malformed.
    #[error("architecture file \"{path}\": {source}")]
    Sidecar {
        /// The JSON file.
        path: PathBuf,
        /// The bad key.
        source: SpecError,
    },

    /// A metadata key is missing or malformed.
    #[error("checkpoint \"{path}\": {source}")]
    Spec {
        /// The file.
        path: PathBuf,
        /// The bad key.
        source: SpecError,
    },

    /// A tensor the architecture needs is absent.
    #[error("checkpoint \"{path}\": tensor {name} is missing (expected shape {expected:?})")]
    MissingTensor {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
        /// The shape it should have.
        expected: Vec<usize>,
    },

    /// A tensor that the architecture does not have.
    #[error(
        "checkpoint \"{path}\": tensor {name} is not part of the architecture its metadata describes"
    )]
    UnexpectedTensor {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
    },

    /// A tensor has the wrong shape.
    #[error("checkpoint \"{path}\": tensor {name} has shape {found:?}, expected {expected:?}")]
    WrongShape {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
        /// The shape found.
        found: Vec<usize>,
        /// The shape the architecture needs.
        expected: Vec<usize>,
    },

    /// A tensor's element type cannot be converted to `f32`.
    #[error(
        "checkpoint \"{path}\": tensor {name} has dtype {dtype}, expected F32, F16, BF16 or F64"
    )]
    UnsupportedDtype {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
        /// The dtype found.
        dtype: String,
    },

    /// A tensor holds NaN or infinite values; such a model would decode garbage.
    #[error(
        "checkpoint \"{path}\": tensor {name} holds {count} non-finite values (NaN or infinity)"
    )]
    NonFinite {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
        /// How many values are not finite.
        count: usize,
    },

    /// candle failed while converting or assembling tensors.
    #[error("checkpoint \"{path}\": {source}")]
    Model {
        /// The file.
        path: PathBuf,
        /// candle's error.
        source: ModelError,
    },
}

/// Loads a model file of any supported format (see [`super::import`]).
pub fn load_checkpoint(path: &Path) -> Result<Model, CheckpointError> {
    super::import::load_model(path).map(|loaded| loaded.model)
}

/// Loads a model from memory, with no sidecar; `path` names its source in errors.
pub fn load_checkpoint_bytes(bytes: &[u8], path: &Path) -> Result<Model, CheckpointError> {
    super::import::load_model_bytes(bytes, path, None).map(|loaded| loaded.model)
}

/// Writes the model and its spec to `path`, atomically: the bytes go to a temporary file
/// beside it, which is then renamed, so an interrupted save never leaves a broken checkpoint.
pub fn save_checkpoint(model: &Model, path: &Path) -> Result<(), CheckpointError> {
    let model_error = |e: candle_core::Error| CheckpointError::Model {
        path: path.to_owned(),
        source: e.into(),
    };

    let mut buffers = Vec::new();
    for (name, tensor) in model.named_tensors() {
        let values: Vec<f32> = tensor
            .to_dtype(DType::F32)
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1())
            .map_err(model_error)?;
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        buffers.push((name, tensor.dims().to_vec(), bytes));
    }
    let views = buffers
        .iter()
        .map(|(name, shape, bytes)| {
            safetensors::tensor::TensorView::new(Dtype::F32, shape.clone(), bytes)
                .map(|view| (name.clone(), view))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CheckpointError::Format {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
    let bytes = safetensors::serialize(views, Some(model.spec().to_metadata())).map_err(|e| {
        CheckpointError::Format {
            path: path.to_owned(),
            reason: e.to_string(),
        }
    })?;

    crate::files::write_atomically(path, &bytes).map_err(|source| CheckpointError::Io {
        path: path.to_owned(),
        source,
    })
}
