//! Reading and writing checkpoints: one `.safetensors` file whose metadata holds the
//! [`ModelSpec`].
//!
//! This is where foreign errors become ours: safetensors and candle errors are turned into
//! [`CheckpointError`] values naming the file, the tensor and what was expected.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use safetensors::{Dtype, SafeTensors};

use super::spec::{ModelSpec, SpecError};
use super::vae::{MlpVae, ModelError};

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

    /// A safetensors file without the metadata this app writes.
    #[error(
        "checkpoint \"{path}\": has no latent-explorer metadata (no \"format\" key in the header), so its architecture is unknown"
    )]
    NoMetadata {
        /// The file.
        path: PathBuf,
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

/// Loads a checkpoint file into a ready model.
pub fn load_checkpoint(path: &Path) -> Result<MlpVae, CheckpointError> {
    if path.is_dir() {
        return Err(CheckpointError::IsDirectory {
            path: path.to_owned(),
        });
    }
    let bytes = std::fs::read(path).map_err(|source| CheckpointError::Io {
        path: path.to_owned(),
        source,
    })?;
    load_checkpoint_bytes(&bytes, path)
}

/// Loads a checkpoint from memory; `path` names its source in errors.
pub fn load_checkpoint_bytes(bytes: &[u8], path: &Path) -> Result<MlpVae, CheckpointError> {
    let format_error = |e: safetensors::SafeTensorError| CheckpointError::Format {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let (_, metadata) = SafeTensors::read_metadata(bytes).map_err(format_error)?;
    let file = SafeTensors::deserialize(bytes).map_err(format_error)?;

    // The architecture comes from the metadata.
    let map = metadata
        .metadata()
        .as_ref()
        .filter(|m| m.contains_key("format"))
        .ok_or_else(|| CheckpointError::NoMetadata {
            path: path.to_owned(),
        })?;
    let spec = ModelSpec::from_metadata(map).map_err(|source| CheckpointError::Spec {
        path: path.to_owned(),
        source,
    })?;

    // Every tensor must be present, of the right shape and finite; nothing else may be there.
    let expected = spec.tensor_shapes();
    let mut names: Vec<&str> = file.names();
    names.sort_unstable();
    if let Some(extra) = names
        .iter()
        .find(|n| !expected.iter().any(|(e, _)| e == *n))
    {
        return Err(CheckpointError::UnexpectedTensor {
            path: path.to_owned(),
            name: (*extra).to_owned(),
        });
    }
    let mut tensors = HashMap::new();
    for (name, shape) in &expected {
        let tensor = read_tensor(&file, name, shape, path)?;
        tensors.insert(name.clone(), tensor);
    }

    MlpVae::from_tensors(spec, &tensors).map_err(|source| CheckpointError::Model {
        path: path.to_owned(),
        source,
    })
}

fn read_tensor(
    file: &SafeTensors<'_>,
    name: &str,
    expected: &[usize],
    path: &Path,
) -> Result<Tensor, CheckpointError> {
    let view = file
        .tensor(name)
        .map_err(|_| CheckpointError::MissingTensor {
            path: path.to_owned(),
            name: name.to_owned(),
            expected: expected.to_vec(),
        })?;
    if view.shape() != expected {
        return Err(CheckpointError::WrongShape {
            path: path.to_owned(),
            name: name.to_owned(),
            found: view.shape().to_vec(),
            expected: expected.to_vec(),
        });
    }

    let values =
        to_f32(view.dtype(), view.data()).ok_or_else(|| CheckpointError::UnsupportedDtype {
            path: path.to_owned(),
            name: name.to_owned(),
            dtype: format!("{:?}", view.dtype()),
        })?;
    let non_finite = values.iter().filter(|v| !v.is_finite()).count();
    if non_finite > 0 {
        return Err(CheckpointError::NonFinite {
            path: path.to_owned(),
            name: name.to_owned(),
            count: non_finite,
        });
    }

    Tensor::from_vec(values, expected, &Device::Cpu).map_err(|e| CheckpointError::Model {
        path: path.to_owned(),
        source: e.into(),
    })
}

/// Little-endian bytes of a float dtype → `f32` values; `None` for non-float dtypes.
fn to_f32(dtype: Dtype, data: &[u8]) -> Option<Vec<f32>> {
    let values = match dtype {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        Dtype::F64 => data
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32)
            .collect(),
        Dtype::F16 => data
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        Dtype::BF16 => data
            .chunks_exact(2)
            .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        _ => return None,
    };
    Some(values)
}

/// Writes the model and its spec to `path`, atomically: the bytes go to a temporary file
/// beside it, which is then renamed, so an interrupted save never leaves a broken checkpoint.
pub fn save_checkpoint(model: &MlpVae, path: &Path) -> Result<(), CheckpointError> {
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
