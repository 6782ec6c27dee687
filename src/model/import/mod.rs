//! Opening a model file of any supported format.
//!
//! The steps, each with its own error naming the file:
//! 1. **format**: sniffed from the bytes: safetensors (an 8-byte header length, then JSON),
//!    a PyTorch zip (`torch.save`), or an old non-zip PyTorch pickle (refused with advice);
//! 2. **tensors**: every tensor read to `f32` (F32, F64, F16 and BF16 are converted; integer
//!    tensors such as batch norm's `num_batches_tracked` are kept only to be passed over);
//! 3. **architecture**: from this app's metadata, else from a sidecar JSON file beside the
//!    checkpoint (`<name>.json` or `config.json`, the same keys as the metadata), else
//!    recognised from the tensor names and shapes ([`recognize`]);
//! 4. **check**: every tensor the architecture needs is present, of the right shape, a float
//!    and finite, and nothing else is there;
//! 5. **build** the candle network.
//!
//! Weights holding NaN or infinity are refused: such a model decodes garbage everywhere, and
//! a loaded-with-a-warning model would only hide the fault behind a black preview.

pub mod pickle;
mod recognize;
pub mod torch;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use safetensors::{Dtype, SafeTensors};

use super::checkpoint::CheckpointError;
use super::network::Model;
use super::spec::ModelSpec;

/// The largest model file read into memory.
const MAX_FILE_BYTES: u64 = 8 << 30;

/// One tensor as read from a file, before it is checked against an architecture.
#[derive(Debug, Clone, PartialEq)]
pub struct RawTensor {
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its element type as the file names it (`F32`, `BF16`, `I64`, …).
    pub dtype: String,
    /// Its values as `f32`, for float types; `None` for the others.
    pub values: Option<Vec<f32>>,
}

/// The container a model came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// A `.safetensors` file.
    Safetensors,
    /// A `torch.save` zip file (`.pt`, `.pth`, `.bin`).
    TorchZip,
}

/// Where the architecture came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchitectureSource {
    /// This app's metadata in the file.
    Metadata,
    /// A JSON file beside the checkpoint.
    Sidecar(PathBuf),
    /// Recognised from the tensor names and shapes; the layout's name.
    Recognised(&'static str),
}

/// A model with what the user should know about how it was read.
#[derive(Debug, Clone)]
pub struct LoadedModel {
    /// The network.
    pub model: Model,
    /// The file it came from.
    pub path: PathBuf,
    /// The container.
    pub format: FileFormat,
    /// Where the architecture came from.
    pub architecture: ArchitectureSource,
    /// The element types of the weights as stored, e.g. `["BF16"]`.
    pub stored_dtypes: Vec<String>,
    /// Things passed over or converted, for the Model panel.
    pub notes: Vec<String>,
}

impl fmt::Display for FileFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Safetensors => "safetensors",
            Self::TorchZip => "PyTorch (torch.save zip)",
        })
    }
}

impl fmt::Display for ArchitectureSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Metadata => f.write_str("latent-explorer metadata"),
            Self::Sidecar(path) => write!(f, "sidecar \"{}\"", path.display()),
            Self::Recognised(layout) => write!(f, "recognised as {layout}"),
        }
    }
}

/// Opens the model file at `path`, with a sidecar JSON file beside it when there is one.
pub fn load_model(path: &Path) -> Result<LoadedModel, CheckpointError> {
    let io = |source| CheckpointError::Io {
        path: path.to_owned(),
        source,
    };
    if path.is_dir() {
        return Err(CheckpointError::IsDirectory {
            path: path.to_owned(),
        });
    }
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_FILE_BYTES {
        return Err(CheckpointError::TooLarge {
            path: path.to_owned(),
            bytes: size,
        });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    let sidecar = find_sidecar(path)?;
    load_model_bytes(
        &bytes,
        path,
        sidecar.as_ref().map(|(p, t)| (p.as_path(), t.as_str())),
    )
}

/// The sidecar beside `path`: `<stem>.json`, else `config.json`, read as text.
fn find_sidecar(path: &Path) -> Result<Option<(PathBuf, String)>, CheckpointError> {
    let folder = path.parent().unwrap_or(Path::new("."));
    let candidates = [path.with_extension("json"), folder.join("config.json")];
    for candidate in candidates {
        if candidate == path || !candidate.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&candidate).map_err(|source| CheckpointError::Io {
            path: candidate.clone(),
            source,
        })?;
        return Ok(Some((candidate, text)));
    }
    Ok(None)
}

/// Opens a model from memory; `path` names it in messages, and `sidecar` is the path and text
/// of a JSON architecture file, if any.
pub fn load_model_bytes(
    bytes: &[u8],
    path: &Path,
    sidecar: Option<(&Path, &str)>,
) -> Result<LoadedModel, CheckpointError> {
    let FileContents {
        format,
        tensors,
        metadata,
        mut notes,
    } = read_tensors(bytes, path)?;
    if tensors.is_empty() {
        return Err(CheckpointError::NoTensors {
            path: path.to_owned(),
        });
    }

    let (spec, renames, architecture) = architecture(path, &tensors, metadata.as_ref(), sidecar)?;
    let mut stored_dtypes: Vec<String> = tensors
        .values()
        .filter(|t| t.values.is_some())
        .map(|t| t.dtype.clone())
        .collect();
    stored_dtypes.sort();
    stored_dtypes.dedup();
    if stored_dtypes.iter().any(|d| d != "F32") {
        notes.push(format!(
            "weights stored as {} were converted to F32",
            stored_dtypes.join(", ")
        ));
    }

    let checked = check_tensors(path, &spec, tensors, &renames)?;
    let model = Model::from_tensors(spec, &checked).map_err(|source| CheckpointError::Model {
        path: path.to_owned(),
        source,
    })?;
    Ok(LoadedModel {
        model,
        path: path.to_owned(),
        format,
        architecture,
        stored_dtypes,
        notes,
    })
}

type Tensors = BTreeMap<String, RawTensor>;

/// What a file holds before its architecture is known.
struct FileContents {
    format: FileFormat,
    tensors: Tensors,
    metadata: Option<HashMap<String, String>>,
    notes: Vec<String>,
}

fn read_tensors(bytes: &[u8], path: &Path) -> Result<FileContents, CheckpointError> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_lowercase);
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        let state = torch::read_torch_zip(bytes).map_err(|e| CheckpointError::Torch {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        return Ok(FileContents {
            format: FileFormat::TorchZip,
            tensors: state.tensors,
            metadata: None,
            notes: state.notes,
        });
    }
    if bytes.first() == Some(&0x80) && bytes.get(1).is_some_and(|&p| p <= 5) {
        return Err(CheckpointError::LegacyTorch {
            path: path.to_owned(),
        });
    }
    if extension.as_deref() == Some("safetensors") || looks_like_safetensors(bytes) {
        let (tensors, metadata) = read_safetensors(bytes, path)?;
        return Ok(FileContents {
            format: FileFormat::Safetensors,
            tensors,
            metadata,
            notes: Vec::new(),
        });
    }
    let shown: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    Err(CheckpointError::UnknownFormat {
        path: path.to_owned(),
        first_bytes: shown.join(" "),
    })
}

/// An 8-byte little-endian header length that fits the file, followed by `{`.
fn looks_like_safetensors(bytes: &[u8]) -> bool {
    let Some(head) = bytes.get(..8) else {
        return false;
    };
    let mut len = [0u8; 8];
    len.copy_from_slice(head);
    let len = u64::from_le_bytes(len);
    len >= 2 && len <= bytes.len() as u64 - 8 && bytes.get(8) == Some(&b'{')
}

fn read_safetensors(
    bytes: &[u8],
    path: &Path,
) -> Result<(Tensors, Option<HashMap<String, String>>), CheckpointError> {
    let format_error = |e: safetensors::SafeTensorError| CheckpointError::Format {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let (_, metadata) = SafeTensors::read_metadata(bytes).map_err(format_error)?;
    let file = SafeTensors::deserialize(bytes).map_err(format_error)?;
    let mut tensors = BTreeMap::new();
    for (name, view) in file.tensors() {
        let dtype = view.dtype();
        tensors.insert(
            name,
            RawTensor {
                shape: view.shape().to_vec(),
                dtype: format!("{dtype:?}"),
                values: to_f32(dtype, view.data()),
            },
        );
    }
    Ok((tensors, metadata.metadata().clone()))
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

/// The spec, the renames from the file's names to ours, and where the spec came from.
fn architecture(
    path: &Path,
    tensors: &Tensors,
    metadata: Option<&HashMap<String, String>>,
    sidecar: Option<(&Path, &str)>,
) -> Result<(ModelSpec, HashMap<String, String>, ArchitectureSource), CheckpointError> {
    if let Some(map) = metadata.filter(|m| m.contains_key("format")) {
        let spec = ModelSpec::from_metadata(map).map_err(|source| CheckpointError::Spec {
            path: path.to_owned(),
            source,
        })?;
        return Ok((spec, HashMap::new(), ArchitectureSource::Metadata));
    }
    if let Some((sidecar_path, text)) = sidecar {
        let spec =
            ModelSpec::from_config_json(text).map_err(|source| CheckpointError::Sidecar {
                path: sidecar_path.to_owned(),
                source,
            })?;
        // The sidecar may describe the pytorch/examples names too: take its renames.
        let renames = recognize::recognise(tensors)
            .filter(|r| r.spec.kind == spec.kind)
            .map(|r| r.renames)
            .unwrap_or_default();
        return Ok((
            spec,
            renames,
            ArchitectureSource::Sidecar(sidecar_path.to_owned()),
        ));
    }
    match recognize::recognise(tensors) {
        Some(found) => {
            if let Some(problem) = found.spec.problem() {
                return Err(CheckpointError::Spec {
                    path: path.to_owned(),
                    source: problem,
                });
            }
            Ok((
                found.spec,
                found.renames,
                ArchitectureSource::Recognised(found.layout),
            ))
        }
        None => Err(CheckpointError::UnknownArchitecture {
            path: path.to_owned(),
            tensors: summarise(tensors),
        }),
    }
}

/// The first few tensor names with their shapes, for messages.
fn summarise(tensors: &Tensors) -> String {
    let mut parts: Vec<String> = tensors
        .iter()
        .take(6)
        .map(|(name, t)| format!("{name} {:?}", t.shape))
        .collect();
    if tensors.len() > 6 {
        parts.push(format!("… {} in all", tensors.len()));
    }
    parts.join(", ")
}

/// Batch norm's step counter, which eval mode does not use.
fn is_ignorable(name: &str, tensor: &RawTensor) -> bool {
    name.ends_with("num_batches_tracked") && tensor.values.is_none()
}

/// Renames the tensors to ours and checks them against `spec`, giving candle tensors.
fn check_tensors(
    path: &Path,
    spec: &ModelSpec,
    tensors: Tensors,
    renames: &HashMap<String, String>,
) -> Result<HashMap<String, Tensor>, CheckpointError> {
    let expected = spec.tensor_shapes();
    let mut by_our_name: HashMap<String, (String, RawTensor)> = HashMap::new();
    for (name, tensor) in tensors {
        if is_ignorable(&name, &tensor) {
            continue;
        }
        let ours = renames.get(&name).cloned().unwrap_or_else(|| name.clone());
        if !expected.iter().any(|(e, _)| *e == ours) {
            return Err(CheckpointError::UnexpectedTensor {
                path: path.to_owned(),
                name,
            });
        }
        by_our_name.insert(ours, (name, tensor));
    }

    let mut out = HashMap::new();
    for (ours, shape) in &expected {
        let Some((theirs, tensor)) = by_our_name.remove(ours) else {
            // Name the tensor as the file would have it.
            let theirs = renames
                .iter()
                .find(|(_, o)| *o == ours)
                .map_or_else(|| ours.clone(), |(t, _)| t.clone());
            return Err(CheckpointError::MissingTensor {
                path: path.to_owned(),
                name: theirs,
                expected: shape.clone(),
            });
        };
        if tensor.shape != *shape {
            return Err(CheckpointError::WrongShape {
                path: path.to_owned(),
                name: theirs,
                found: tensor.shape,
                expected: shape.clone(),
            });
        }
        let Some(values) = tensor.values else {
            return Err(CheckpointError::UnsupportedDtype {
                path: path.to_owned(),
                name: theirs,
                dtype: tensor.dtype,
            });
        };
        let non_finite = values.iter().filter(|v| !v.is_finite()).count();
        if non_finite > 0 {
            return Err(CheckpointError::NonFinite {
                path: path.to_owned(),
                name: theirs,
                count: non_finite,
            });
        }
        let tensor = Tensor::from_vec(values, shape.as_slice(), &Device::Cpu).map_err(|e| {
            CheckpointError::Model {
                path: path.to_owned(),
                source: e.into(),
            }
        })?;
        out.insert(ours.clone(), tensor);
    }
    Ok(out)
}
