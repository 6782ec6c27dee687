//! PyTorch's `torch.save` zip format: `<name>/data.pkl` (a pickle) and one raw little-endian
//! file per storage, `<name>/data/<key>`.
//!
//! A state dict pickles as an `OrderedDict` whose values are
//! `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, …)` calls, the storage
//! being a persistent id `("storage", torch.FloatStorage, key, location, numel)`. We read
//! exactly that shape and gather each tensor (any strides) into a contiguous `f32` vector.

use std::collections::BTreeMap;
use std::io::Read;

use super::RawTensor;
use super::pickle::{PickleError, Value, read_pickle};

/// The largest pickle we read: a state dict's pickle holds names and shapes only, a few
/// kilobytes per tensor.
const MAX_PICKLE_BYTES: u64 = 256 << 20;

/// The most values one file may hold in all (4 GiB of f32).
const MAX_VALUES: usize = 1 << 30;

/// Why a PyTorch file could not be read as a state dict.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TorchError {
    /// The zip container is broken.
    #[error("not a readable PyTorch zip file: {0}")]
    Zip(String),
    /// No `data.pkl` in the archive.
    #[error("the zip file holds no data.pkl, so it is not a torch.save file")]
    NoPickle,
    /// The pickle is broken.
    #[error("its pickle cannot be read: {0}")]
    Pickle(#[from] PickleError),
    /// The file holds something else than a dict of tensors.
    #[error("it holds {0}, not a state dict (a dict of tensor names to tensors)")]
    NotStateDict(String),
    /// A tensor record does not have PyTorch's shape.
    #[error("tensor {name}: {problem}")]
    BadTensor {
        /// The key in the state dict.
        name: String,
        /// What is wrong.
        problem: String,
    },
}

/// What a torch file held: its tensors, and notes for the user.
#[derive(Debug, Default)]
pub struct TorchStateDict {
    /// Tensors by name.
    pub tensors: BTreeMap<String, RawTensor>,
    /// Things passed over, e.g. non-tensor entries, or the key the state dict was found under.
    pub notes: Vec<String>,
}

/// Reads the state dict in the bytes of a `torch.save` zip file.
pub fn read_torch_zip(bytes: &[u8]) -> Result<TorchStateDict, TorchError> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| TorchError::Zip(e.to_string()))?;

    // The pickle's folder name is whatever the file was called when saved.
    let pickle_name = archive
        .file_names()
        .filter_map(Result::ok)
        .find(|n| n == "data.pkl" || n.ends_with("/data.pkl"))
        .map(|n| n.into_owned())
        .ok_or(TorchError::NoPickle)?;
    let prefix = pickle_name.trim_end_matches("data.pkl").to_owned();
    let pickle =
        read_entry(&mut archive, &pickle_name, MAX_PICKLE_BYTES)?.ok_or(TorchError::NoPickle)?;

    let root = read_pickle(&pickle)?;
    let (dict, mut notes) = find_state_dict(&root)?;

    let mut state = TorchStateDict::default();
    // Tensors may not hold far more values than the file has bytes: a stride-0 view (one value
    // repeated) is legal in PyTorch but never in a model's weights, and would let a small file
    // ask for gigabytes.
    let mut budget = MAX_VALUES.min(bytes.len().saturating_mul(4));
    for (key, value) in dict.iter() {
        let Some(name) = key.as_str() else {
            notes.push(format!(
                "an entry with {} as its key was passed over",
                key.kind()
            ));
            continue;
        };
        let Some(record) = tensor_record(value) else {
            notes.push(format!(
                "entry {name} holds {}, not a tensor, and was passed over",
                value.kind()
            ));
            continue;
        };
        let tensor = read_tensor(&mut archive, &prefix, name, &record, &mut budget)?;
        state.tensors.insert(name.to_owned(), tensor);
    }
    state.notes = notes;
    Ok(state)
}

fn read_entry(
    archive: &mut zip::ZipArchive<std::io::Cursor<&[u8]>>,
    name: &str,
    limit: u64,
) -> Result<Option<Vec<u8>>, TorchError> {
    let mut file = match archive.by_name(name) {
        Ok(file) => file,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(TorchError::Zip(e.to_string())),
    };
    if file.size() > limit {
        return Err(TorchError::Zip(format!(
            "entry {name} is {} bytes, more than the {limit} a state dict needs",
            file.size()
        )));
    }
    let mut bytes = Vec::new();
    file.by_ref()
        .take(limit)
        .read_to_end(&mut bytes)
        .map_err(|e| TorchError::Zip(format!("entry {name}: {e}")))?;
    Ok(Some(bytes))
}

/// The dict of tensors in `root`: the root itself, or a dict under a usual checkpoint key
/// (`state_dict`, `model_state_dict`, `model`, …) when the root is a training checkpoint.
/// A dict's items, in order.
type Items = Vec<(Value, Value)>;

fn find_state_dict(root: &Value) -> Result<(Items, Vec<String>), TorchError> {
    let Some(items) = dict_items(root) else {
        return Err(TorchError::NotStateDict(describe(root)));
    };
    if items.iter().any(|(_, v)| tensor_record(v).is_some()) {
        return Ok((items, Vec::new()));
    }
    for key in [
        "state_dict",
        "model_state_dict",
        "model",
        "netG",
        "generator",
        "net",
    ] {
        let inner = items
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .and_then(|(_, v)| dict_items(v))
            .filter(|inner| inner.iter().any(|(_, v)| tensor_record(v).is_some()));
        if let Some(inner) = inner {
            let note = format!("the state dict was read from the checkpoint's \"{key}\" entry");
            return Ok((inner, vec![note]));
        }
    }
    Err(TorchError::NotStateDict(
        "a dict with no tensors in it".to_owned(),
    ))
}

/// The items of a dict, or of an `OrderedDict` built by calling the class.
fn dict_items(value: &Value) -> Option<Items> {
    match value {
        Value::Dict(items) => Some(items.as_ref().clone()),
        Value::Built(built) => {
            let (object, state) = built.as_ref();
            let is_ordered_dict = matches!(object, Value::Call(call)
                if call.0.as_global() == Some(("collections", "OrderedDict")));
            match state {
                Value::Dict(items) if is_ordered_dict => Some(items.as_ref().clone()),
                _ => None,
            }
        }
        Value::Call(call) if call.0.as_global() == Some(("collections", "OrderedDict")) => {
            Some(Vec::new())
        }
        _ => None,
    }
}

/// What a non-state-dict value is, in words, for the error.
fn describe(value: &Value) -> String {
    if tensor_record(value).is_some() {
        return "a single tensor".to_owned();
    }
    let class = match value {
        Value::Built(built) => match &built.0 {
            Value::Call(call) => call.0.as_global().map(|(m, n)| format!("{m}.{n}")),
            other => other.as_global().map(|(m, n)| format!("{m}.{n}")),
        },
        Value::Call(call) => call.0.as_global().map(|(m, n)| format!("{m}.{n}")),
        _ => None,
    };
    match class {
        Some(class) if class.starts_with("torch.nn.") || class.starts_with("__main__.") => format!(
            "a whole pickled module ({class}); save its weights with torch.save(model.state_dict(), path) and open that"
        ),
        Some(class) => format!("an object of class {class}"),
        None => value.kind().to_owned(),
    }
}

/// The arguments of a tensor rebuild: storage, offset, size, stride.
struct TensorRecord<'a> {
    storage: &'a Value,
    offset: &'a Value,
    size: &'a Value,
    stride: &'a Value,
}

fn tensor_record(value: &Value) -> Option<TensorRecord<'_>> {
    let Value::Call(call) = value else {
        return None;
    };
    let (callee, args) = call.as_ref();
    let args = args.as_seq()?;
    match callee.as_global()? {
        ("torch._utils", "_rebuild_tensor_v2" | "_rebuild_tensor") => Some(TensorRecord {
            storage: args.first()?,
            offset: args.get(1)?,
            size: args.get(2)?,
            stride: args.get(3)?,
        }),
        // nn.Parameter wraps a tensor.
        ("torch._utils", "_rebuild_parameter" | "_rebuild_parameter_with_state") => {
            tensor_record(args.first()?)
        }
        _ => None,
    }
}

/// Element type and size of a storage class such as `torch.FloatStorage`.
fn storage_dtype(class: &str) -> Option<(&'static str, usize)> {
    Some(match class {
        "FloatStorage" => ("F32", 4),
        "DoubleStorage" => ("F64", 8),
        "HalfStorage" => ("F16", 2),
        "BFloat16Storage" => ("BF16", 2),
        "LongStorage" => ("I64", 8),
        "IntStorage" => ("I32", 4),
        "ShortStorage" => ("I16", 2),
        "CharStorage" => ("I8", 1),
        "ByteStorage" => ("U8", 1),
        "BoolStorage" => ("BOOL", 1),
        _ => return None,
    })
}

fn read_tensor(
    archive: &mut zip::ZipArchive<std::io::Cursor<&[u8]>>,
    prefix: &str,
    name: &str,
    record: &TensorRecord<'_>,
    budget: &mut usize,
) -> Result<RawTensor, TorchError> {
    let bad = |problem: String| TorchError::BadTensor {
        name: name.to_owned(),
        problem,
    };

    // The storage: ("storage", torch.FloatStorage, key, location, numel).
    let Value::Persistent(id) = record.storage else {
        return Err(bad(format!(
            "its storage is {}, not a storage reference",
            record.storage.kind()
        )));
    };
    let fields = id
        .as_seq()
        .ok_or_else(|| bad("its storage reference is not a tuple".into()))?;
    let class = fields
        .get(1)
        .and_then(Value::as_global)
        .map(|(_, class)| class)
        .ok_or_else(|| bad("its storage reference names no storage type".into()))?;
    let (dtype, item_size) = storage_dtype(class)
        .ok_or_else(|| bad(format!("its storage type {class} is not supported")))?;
    let key = fields
        .get(2)
        .and_then(|k| {
            k.as_str()
                .map(str::to_owned)
                .or_else(|| k.as_int().map(|i| i.to_string()))
        })
        .ok_or_else(|| bad("its storage reference has no key".into()))?;

    // Shape and layout.
    let ints = |value: &Value, what: &str| -> Result<Vec<usize>, TorchError> {
        value
            .as_seq()
            .ok_or_else(|| bad(format!("its {what} is {}, not a tuple", value.kind())))?
            .iter()
            .map(|v| v.as_int().and_then(|i| usize::try_from(i).ok()))
            .collect::<Option<Vec<usize>>>()
            .ok_or_else(|| bad(format!("its {what} holds a value that is not a size")))
    };
    let shape = ints(record.size, "size")?;
    let stride = ints(record.stride, "stride")?;
    let offset = record
        .offset
        .as_int()
        .and_then(|i| usize::try_from(i).ok())
        .ok_or_else(|| bad("its storage offset is not a size".into()))?;
    if stride.len() != shape.len() {
        return Err(bad(format!(
            "it has {} sizes but {} strides",
            shape.len(),
            stride.len()
        )));
    }
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&c| c <= *budget)
        .ok_or_else(|| bad(format!("its shape {shape:?} is too large")))?;
    *budget -= count;

    let data_name = format!("{prefix}data/{key}");
    let data = read_entry(archive, &data_name, (MAX_VALUES as u64) * 8)?.ok_or_else(|| {
        bad(format!(
            "its storage {data_name} is missing from the archive"
        ))
    })?;
    let stored = data.len() / item_size;

    // The last element the view reaches must lie inside the storage.
    if count > 0 {
        let last = shape
            .iter()
            .zip(&stride)
            .try_fold(offset, |acc, (&d, &s)| acc.checked_add((d - 1).checked_mul(s)?))
            .filter(|&last| last < stored)
            .ok_or_else(|| {
                bad(format!(
                    "its view (offset {offset}, size {shape:?}, stride {stride:?}) reaches past its storage of {stored} values"
                ))
            })?;
        debug_assert!(last < stored);
    }

    let values = match dtype {
        "F32" | "F64" | "F16" | "BF16" => {
            Some(gather(&data, dtype, item_size, offset, &shape, &stride))
        }
        _ => None,
    };
    Ok(RawTensor {
        shape,
        dtype: dtype.to_owned(),
        values,
    })
}

/// The view's values in row-major order, converted to `f32`; bounds were checked by the caller.
fn gather(
    data: &[u8],
    dtype: &str,
    item_size: usize,
    offset: usize,
    shape: &[usize],
    stride: &[usize],
) -> Vec<f32> {
    let read = |idx: usize| -> f32 {
        let at = idx * item_size;
        let Some(b) = data.get(at..at + item_size) else {
            return f32::NAN;
        };
        match dtype {
            "F32" => f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            "F64" => f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32,
            "F16" => half::f16::from_le_bytes([b[0], b[1]]).to_f32(),
            _ => half::bf16::from_le_bytes([b[0], b[1]]).to_f32(),
        }
    };
    let count: usize = shape.iter().product();
    let mut out = Vec::with_capacity(count);
    if count == 0 {
        return out;
    }
    // Walk the index like an odometer, last dimension fastest.
    let mut index = vec![0usize; shape.len()];
    let mut position = offset;
    for _ in 0..count {
        out.push(read(position));
        for axis in (0..shape.len()).rev() {
            index[axis] += 1;
            position += stride[axis];
            if index[axis] < shape[axis] {
                break;
            }
            position -= stride[axis] * shape[axis];
            index[axis] = 0;
        }
    }
    out
}
