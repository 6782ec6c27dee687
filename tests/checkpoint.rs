//! Checkpoints: a save and load round trip, and each way a file can be refused.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use latent_explorer::bundled;
use latent_explorer::model::{
    ArchitectureSource, FastDecoder, Model, load_checkpoint, load_model, save_checkpoint,
};
use safetensors::{Dtype, SafeTensors};

fn bundled_model() -> Model {
    bundled::model().unwrap_or_else(|e| panic!("{e}")).model
}

fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"))
}

/// The bundled checkpoint's tensors as (name, dtype, shape, bytes), and its metadata.
type RawTensors = Vec<(String, Dtype, Vec<usize>, Vec<u8>)>;

fn bundled_parts() -> (RawTensors, HashMap<String, String>) {
    let bytes = std::fs::read(bundled::MODEL_PATH).unwrap_or_else(|e| panic!("{e}"));
    let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap_or_else(|e| panic!("{e}"));
    let file = SafeTensors::deserialize(&bytes).unwrap_or_else(|e| panic!("{e}"));
    let tensors = file
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            (
                name,
                view.dtype(),
                view.shape().to_vec(),
                view.data().to_vec(),
            )
        })
        .collect();
    (tensors, meta.metadata().clone().unwrap_or_default())
}

fn write_parts(
    dir: &Path,
    tensors: &RawTensors,
    metadata: Option<HashMap<String, String>>,
) -> PathBuf {
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .map(|(name, dtype, shape, data)| {
            let view = safetensors::tensor::TensorView::new(*dtype, shape.clone(), data)
                .unwrap_or_else(|e| panic!("{e}"));
            (name.clone(), view)
        })
        .collect();
    let bytes = safetensors::serialize(views, metadata).unwrap_or_else(|e| panic!("{e}"));
    let path = dir.join("model.safetensors");
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{e}"));
    path
}

fn load_error(path: &Path) -> String {
    match load_checkpoint(path) {
        Ok(_) => panic!("\"{}\" loaded but should have been refused", path.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn save_then_load_gives_identical_outputs() {
    let model = bundled_model();
    let dir = temp_dir();
    let path = dir.path().join("copy.safetensors");
    save_checkpoint(&model, &path).unwrap_or_else(|e| panic!("{e}"));
    let loaded = load_checkpoint(&path).unwrap_or_else(|e| panic!("{e}"));

    assert_eq!(loaded.spec(), model.spec());
    let z: Vec<f32> = (0..model.latent_dim() * 3)
        .map(|i| (i as f32 * 0.37).sin() * 2.0)
        .collect();
    let a = model.decode_batch(&z).unwrap_or_else(|e| panic!("{e}"));
    let b = loaded.decode_batch(&z).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a, b);
}

#[test]
fn the_fast_decoder_matches_candle() {
    let model = bundled_model();
    let Model::Mlp(mlp) = &model else {
        panic!("the bundled model is not an MLP");
    };
    let fast = FastDecoder::from_model(mlp).unwrap_or_else(|e| panic!("{e}"));
    let z: Vec<f32> = (0..model.latent_dim())
        .map(|i| (i as f32 * 0.91).cos() * 1.5)
        .collect();
    let candle = model.decode_batch(&z).unwrap_or_else(|e| panic!("{e}"));
    let ours = fast.decode(&z);
    assert_eq!(ours.len(), candle.len());
    let worst = ours
        .iter()
        .zip(&candle)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(worst < 1e-5, "largest difference {worst}");
}

#[test]
fn the_bundled_model_records_how_it_was_trained() {
    let model = bundled_model();
    let spec = model.spec();
    assert_eq!(spec.input_shape, [1, 28, 28]);
    assert_eq!(spec.class_names.len(), 10);
    let training = spec
        .training
        .clone()
        .unwrap_or_else(|| panic!("no training facts"));
    assert_eq!(training.train_images, 60_000);
    assert!(
        training
            .test_reconstruction
            .is_some_and(|r| r.is_finite() && r > 0.0)
    );
    assert!(
        training
            .test_kl
            .is_some_and(|kl| kl.is_finite() && kl > 0.0)
    );
    assert!(training.command.starts_with("latent-explorer train"));
}

#[test]
fn a_missing_tensor_is_named() {
    let (mut tensors, meta) = bundled_parts();
    tensors.retain(|(name, ..)| name != "decoder.out.bias");
    let dir = temp_dir();
    let path = write_parts(dir.path(), &tensors, Some(meta));
    assert_eq!(
        load_error(&path),
        format!(
            "checkpoint \"{}\": tensor decoder.out.bias is missing (expected shape [784])",
            path.display()
        )
    );
}

#[test]
fn a_wrong_shape_is_named_with_both_shapes() {
    let (mut tensors, meta) = bundled_parts();
    for (name, _, shape, data) in &mut tensors {
        if name == "decoder.out.weight" {
            // Same number of values, transposed shape.
            *shape = vec![shape[1], shape[0]];
            let _ = data;
        }
    }
    let dir = temp_dir();
    let path = write_parts(dir.path(), &tensors, Some(meta));
    assert_eq!(
        load_error(&path),
        format!(
            "checkpoint \"{}\": tensor decoder.out.weight has shape [400, 784], expected [784, 400]",
            path.display()
        )
    );
}

#[test]
fn a_wrong_dtype_is_named() {
    let (mut tensors, meta) = bundled_parts();
    for (name, dtype, ..) in &mut tensors {
        if name == "mu.bias" {
            *dtype = Dtype::I32;
        }
    }
    let dir = temp_dir();
    let path = write_parts(dir.path(), &tensors, Some(meta));
    assert_eq!(
        load_error(&path),
        format!(
            "checkpoint \"{}\": tensor mu.bias has dtype I32, expected F32, F16, BF16 or F64",
            path.display()
        )
    );
}

#[test]
fn half_precision_weights_are_converted() {
    let (tensors, meta) = bundled_parts();
    let halved: RawTensors = tensors
        .into_iter()
        .map(|(name, _, shape, data)| {
            let values: Vec<u8> = data
                .chunks_exact(4)
                .flat_map(|b| {
                    let v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                    half::f16::from_f32(v).to_le_bytes()
                })
                .collect();
            (name, Dtype::F16, shape, values)
        })
        .collect();
    let dir = temp_dir();
    let path = write_parts(dir.path(), &halved, Some(meta));
    let loaded = load_checkpoint(&path).unwrap_or_else(|e| panic!("{e}"));

    let z = vec![0.5; loaded.latent_dim()];
    let a = bundled_model()
        .decode_batch(&z)
        .unwrap_or_else(|e| panic!("{e}"));
    let b = loaded.decode_batch(&z).unwrap_or_else(|e| panic!("{e}"));
    let worst = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max);
    assert!(worst < 0.02, "f16 weights changed an output by {worst}");
}

#[test]
fn non_finite_weights_are_refused() {
    let (mut tensors, meta) = bundled_parts();
    for (name, _, _, data) in &mut tensors {
        if name == "encoder.0.bias" {
            data[..4].copy_from_slice(&f32::NAN.to_le_bytes());
            data[4..8].copy_from_slice(&f32::INFINITY.to_le_bytes());
        }
    }
    let dir = temp_dir();
    let path = write_parts(dir.path(), &tensors, Some(meta));
    assert_eq!(
        load_error(&path),
        format!(
            "checkpoint \"{}\": tensor encoder.0.bias holds 2 non-finite values (NaN or infinity)",
            path.display()
        )
    );
}

#[test]
fn a_truncated_file_is_refused() {
    let bytes = std::fs::read(bundled::MODEL_PATH).unwrap_or_else(|e| panic!("{e}"));
    let dir = temp_dir();
    let path = dir.path().join("cut.safetensors");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap_or_else(|e| panic!("{e}"));
    let message = load_error(&path);
    assert!(
        message.starts_with(&format!(
            "checkpoint \"{}\": not a valid safetensors file: ",
            path.display()
        )),
        "{message}"
    );
}

#[test]
fn a_file_without_metadata_is_recognised_by_its_tensor_names() {
    let (tensors, _) = bundled_parts();
    let dir = temp_dir();
    let path = write_parts(dir.path(), &tensors, None);
    let loaded = load_model(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        loaded.architecture,
        ArchitectureSource::Recognised(_)
    ));
    assert_eq!(loaded.model.spec().input_shape, [1, 28, 28]);
    assert_eq!(loaded.model.spec().hidden, vec![400]);

    let z = vec![0.25; 16];
    let a = bundled_model()
        .decode_batch(&z)
        .unwrap_or_else(|e| panic!("{e}"));
    let b = loaded
        .model
        .decode_batch(&z)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(a, b);
}

#[test]
fn tensors_of_no_known_layout_are_refused_with_advice() {
    let (tensors, _) = bundled_parts();
    let renamed: RawTensors = tensors
        .into_iter()
        .map(|(name, dtype, shape, data)| (format!("net.{name}"), dtype, shape, data))
        .collect();
    let dir = temp_dir();
    let path = write_parts(dir.path(), &renamed, None);
    let message = load_error(&path);
    assert!(
        message.starts_with(&format!(
            "checkpoint \"{}\": its architecture is unknown: no latent-explorer metadata, no config.json beside it, and its tensors (net.decoder.0.bias [400], ",
            path.display()
        )),
        "{message}"
    );
    assert!(
        message.ends_with(
            "… 10 in all) match no known layout; describe it in a config.json (see the README)"
        ),
        "{message}"
    );
}

#[test]
fn a_bad_metadata_value_is_named() {
    let (tensors, mut meta) = bundled_parts();
    meta.insert("latent_dim".into(), "-3".into());
    let dir = temp_dir();
    let path = write_parts(dir.path(), &tensors, Some(meta));
    assert_eq!(
        load_error(&path),
        format!(
            "checkpoint \"{}\": metadata key \"latent_dim\" has value \"-3\": expected a positive integer",
            path.display()
        )
    );
}

#[test]
fn a_directory_is_refused() {
    let dir = temp_dir();
    assert_eq!(
        load_error(dir.path()),
        format!(
            "checkpoint \"{}\": is a directory, not a checkpoint file",
            dir.path().display()
        )
    );
}

#[test]
fn random_bytes_are_refused() {
    let dir = temp_dir();
    let path = dir.path().join("noise.safetensors");
    std::fs::write(&path, b"this is not a checkpoint at all").unwrap_or_else(|e| panic!("{e}"));
    let message = load_error(&path);
    assert!(
        message.contains("not a valid safetensors file"),
        "{message}"
    );
}
