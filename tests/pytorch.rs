//! Models saved by PyTorch decode and encode exactly as PyTorch does, and every kind of bad
//! model file is refused with a message naming the file and the problem.
//!
//! The fixtures and their reference outputs come from `tests/fixtures/pytorch/make_fixtures.py`
//! (PyTorch 2.15, CPU, float32, eval mode).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use latent_explorer::model::{
    ArchitectureSource, FileFormat, LoadedModel, Model, ModelKind, load_model,
};
use safetensors::SafeTensors;

/// The largest difference from PyTorch the issue allows.
const TOLERANCE: f32 = 1e-5;

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/pytorch")
        .join(path)
}

fn open(path: &str) -> LoadedModel {
    load_model(&fixture(path)).unwrap_or_else(|e| panic!("{e}"))
}

/// The float32 tensors of a `reference.safetensors`, flattened.
fn references(folder: &str) -> HashMap<String, Vec<f32>> {
    let bytes = std::fs::read(fixture(&format!("{folder}/reference.safetensors")))
        .unwrap_or_else(|e| panic!("{e}"));
    let file = SafeTensors::deserialize(&bytes).unwrap_or_else(|e| panic!("{e}"));
    file.tensors()
        .into_iter()
        .map(|(name, view)| {
            let values = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            (name, values)
        })
        .collect()
}

fn get<'a>(refs: &'a HashMap<String, Vec<f32>>, name: &str) -> &'a [f32] {
    refs.get(name)
        .unwrap_or_else(|| panic!("reference {name} is missing"))
}

fn assert_close(ours: &[f32], theirs: &[f32], what: &str) {
    assert_eq!(ours.len(), theirs.len(), "{what}: lengths differ");
    let worst = ours
        .iter()
        .zip(theirs)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst <= TOLERANCE, "{what}: largest difference {worst:e}");
}

/// µ (or the code) and log σ² of `x`, flattened.
fn encode(model: &Model, x: &[f32]) -> (Vec<f32>, Option<Vec<f32>>) {
    let len = model.spec().input_len();
    let images =
        Tensor::from_slice(x, (x.len() / len, len), &Device::Cpu).unwrap_or_else(|e| panic!("{e}"));
    let (mu, logvar) = model.encode(&images).unwrap_or_else(|e| panic!("{e}"));
    let flat = |t: Tensor| -> Vec<f32> {
        t.flatten_all()
            .and_then(|t| t.to_vec1())
            .unwrap_or_else(|e| panic!("{e}"))
    };
    (flat(mu), logvar.map(flat))
}

/// µ (or the code) of `x` by the path that encodes whole datasets for the map.
fn encode_for_the_map(model: &Model, x: &[f32]) -> Vec<f32> {
    model
        .encode_means(x, &mut |_| std::ops::ControlFlow::Continue(()))
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("encoding was not stopped, yet gave nothing"))
}

fn decode(model: &Model, z: &[f32]) -> Vec<f32> {
    model.decode_batch(z).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_pytorch_examples_vae_decodes_and_encodes_like_pytorch() {
    let loaded = open("vae/vae.pt");
    assert_eq!(loaded.format, FileFormat::TorchZip);
    assert!(matches!(
        loaded.architecture,
        ArchitectureSource::Recognised(_)
    ));
    let spec = loaded.model.spec();
    assert_eq!(spec.kind, ModelKind::MlpVae);
    assert_eq!(
        (spec.input_shape, spec.hidden.clone(), spec.latent_dim),
        ([1, 28, 28], vec![400], 20)
    );

    let refs = references("vae");
    assert_close(
        &decode(&loaded.model, get(&refs, "z")),
        get(&refs, "decoded"),
        "decoded",
    );
    let (mu, logvar) = encode(&loaded.model, get(&refs, "x"));
    assert_close(&mu, get(&refs, "mu"), "mu");
    assert_close(&logvar.unwrap_or_default(), get(&refs, "logvar"), "logvar");
    let means = encode_for_the_map(&loaded.model, get(&refs, "x"));
    assert_close(&means, get(&refs, "mu"), "mu for the map");
}

#[test]
fn half_precision_weights_decode_like_pytorch_does_with_the_rounded_weights() {
    let refs = references("vae");
    for (file, suffix, dtype) in [
        ("vae/vae_f16.safetensors", "f16", "F16"),
        ("vae/vae_bf16.pt", "bf16", "BF16"),
    ] {
        let loaded = open(file);
        assert_eq!(loaded.stored_dtypes, vec![dtype.to_owned()], "{file}");
        let decoded = decode(&loaded.model, get(&refs, "z"));
        assert_close(&decoded, get(&refs, &format!("decoded_{suffix}")), file);
        let (mu, _) = encode(&loaded.model, get(&refs, "x"));
        assert_close(&mu, get(&refs, &format!("mu_{suffix}")), file);
    }
}

#[test]
fn the_dcgan_generator_decodes_like_pytorch_in_eval_mode() {
    let loaded = open("dcgan/netG.pth");
    let spec = loaded.model.spec();
    assert_eq!(spec.kind, ModelKind::DcganGenerator);
    assert_eq!(spec.input_shape, [3, 64, 64]);
    assert_eq!(spec.latent_dim, 16);
    assert_eq!(spec.channels, vec![64, 32, 16, 8]);
    assert!(!loaded.model.has_encoder());

    let refs = references("dcgan");
    assert_close(
        &decode(&loaded.model, get(&refs, "z")),
        get(&refs, "decoded"),
        "decoded",
    );
}

#[test]
fn a_conv_vae_with_a_sidecar_config_decodes_and_encodes_like_pytorch() {
    let loaded = open("conv_vae/model.safetensors");
    assert_eq!(
        loaded.architecture,
        ArchitectureSource::Sidecar(fixture("conv_vae/config.json"))
    );
    assert_eq!(loaded.model.spec().kind, ModelKind::ConvVae);

    let refs = references("conv_vae");
    assert_close(
        &decode(&loaded.model, get(&refs, "z")),
        get(&refs, "decoded"),
        "decoded",
    );
    let (mu, logvar) = encode(&loaded.model, get(&refs, "x"));
    assert_close(&mu, get(&refs, "mu"), "mu");
    assert_close(&logvar.unwrap_or_default(), get(&refs, "logvar"), "logvar");
}

#[test]
fn a_plain_autoencoder_with_a_sidecar_config_matches_pytorch() {
    let loaded = open("mlp_ae/model.pt");
    assert_eq!(loaded.model.spec().kind, ModelKind::MlpAe);
    assert!(!loaded.model.is_variational());

    let refs = references("mlp_ae");
    assert_close(
        &decode(&loaded.model, get(&refs, "z")),
        get(&refs, "decoded"),
        "decoded",
    );
    let (code, logvar) = encode(&loaded.model, get(&refs, "x"));
    assert_close(&code, get(&refs, "code"), "code");
    assert!(logvar.is_none());
    let codes = encode_for_the_map(&loaded.model, get(&refs, "x"));
    assert_close(&codes, get(&refs, "code"), "code for the map");
}

fn refusal(path: &Path) -> String {
    match load_model(path) {
        Ok(_) => panic!("\"{}\" loaded but should have been refused", path.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_pickled_list_is_not_a_state_dict() {
    let path = fixture("bad/not_a_state_dict.pt");
    assert_eq!(
        refusal(&path),
        format!(
            "checkpoint \"{}\": it holds a list, not a state dict (a dict of tensor names to tensors)",
            path.display()
        )
    );
}

#[test]
fn a_whole_pickled_module_gets_advice_to_save_its_state_dict() {
    let path = fixture("bad/module.pt");
    assert_eq!(
        refusal(&path),
        format!(
            "checkpoint \"{}\": it holds a whole pickled module (torch.nn.modules.container.Sequential); save its weights with torch.save(model.state_dict(), path) and open that, not a state dict (a dict of tensor names to tensors)",
            path.display()
        )
    );
}

#[test]
fn a_single_pickled_tensor_is_not_a_state_dict() {
    let path = fixture("bad/tensor.pt");
    assert_eq!(
        refusal(&path),
        format!(
            "checkpoint \"{}\": it holds a single tensor, not a state dict (a dict of tensor names to tensors)",
            path.display()
        )
    );
}

fn temp_file(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{e}"));
    (dir, path)
}

#[test]
fn a_truncated_pytorch_file_is_refused() {
    let bytes = std::fs::read(fixture("vae/vae.pt")).unwrap_or_else(|e| panic!("{e}"));
    for cut in [bytes.len() / 2, bytes.len() - 30, 100] {
        let (_dir, path) = temp_file("cut.pt", &bytes[..cut]);
        let message = refusal(&path);
        assert!(
            message.starts_with(&format!(
                "checkpoint \"{}\": not a readable PyTorch zip file: ",
                path.display()
            )),
            "{message}"
        );
    }
}

#[test]
fn an_unknown_format_names_its_first_bytes() {
    let (_dir, path) = temp_file("model.bin", b"GIF89a, not a model");
    assert_eq!(
        refusal(&path),
        format!(
            "checkpoint \"{}\": unknown format (starts with 47 49 46 38 39 61 2c 20): expected a .safetensors file or a PyTorch .pt/.pth/.bin saved by torch.save",
            path.display()
        )
    );
}

#[test]
fn an_old_non_zip_pytorch_file_gets_advice() {
    let (_dir, path) = temp_file("old.pt", b"\x80\x02\x8a\x0alz\xe8\x6a\xa8\x50\x19.");
    assert_eq!(
        refusal(&path),
        format!(
            "checkpoint \"{}\": is a PyTorch file in the old non-zip format; load it in Python and save it again with torch.save (PyTorch 1.6 or later writes the zip format)",
            path.display()
        )
    );
}

/// A safetensors file with one f32 tensor `w` of shape [2], from a hand-written header.
fn safetensors_with_header(header: &str, data: &[u8]) -> Vec<u8> {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    bytes
}

#[test]
fn a_safetensors_header_whose_offsets_lie_is_refused() {
    let header = r#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,800]}}"#;
    let (_dir, path) = temp_file(
        "lies.safetensors",
        &safetensors_with_header(header, &[0; 8]),
    );
    let message = refusal(&path);
    assert!(
        message.starts_with(&format!(
            "checkpoint \"{}\": not a valid safetensors file: ",
            path.display()
        )),
        "{message}"
    );
}

#[test]
fn a_huge_safetensors_header_length_is_refused() {
    let mut bytes = u64::MAX.to_le_bytes().to_vec();
    bytes.extend_from_slice(b"{}");
    let (_dir, path) = temp_file("huge.safetensors", &bytes);
    let message = refusal(&path);
    assert!(
        message.starts_with(&format!(
            "checkpoint \"{}\": not a valid safetensors file: ",
            path.display()
        )),
        "{message}"
    );
}

#[test]
fn an_empty_state_dict_is_refused() {
    let bytes = safetensors_with_header("{}", &[]);
    let (_dir, path) = temp_file("empty.safetensors", &bytes);
    assert_eq!(
        refusal(&path),
        format!("checkpoint \"{}\": holds no tensors", path.display())
    );
}

#[test]
fn a_sidecar_naming_an_unknown_kind_is_named() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let model = dir.path().join("model.safetensors");
    std::fs::copy(fixture("conv_vae/model.safetensors"), &model).unwrap_or_else(|e| panic!("{e}"));
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        r#"{"kind": "transformer", "input_shape": [3, 64, 64], "latent_dim": 6}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        refusal(&model),
        format!(
            "architecture file \"{}\": metadata key \"kind\" has value \"transformer\": expected one of mlp-vae, mlp-ae, conv-vae, conv-ae, dcgan-generator",
            config.display()
        )
    );
}

#[test]
fn a_sidecar_whose_shapes_disagree_names_the_tensor() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let model = dir.path().join("model.safetensors");
    std::fs::copy(fixture("conv_vae/model.safetensors"), &model).unwrap_or_else(|e| panic!("{e}"));
    let config = r#"{"kind": "conv-vae", "input_shape": [3, 64, 64], "channels": [8, 8, 16, 16], "hidden": [32], "latent_dim": 7}"#;
    std::fs::write(dir.path().join("config.json"), config).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        refusal(&model),
        format!(
            "checkpoint \"{}\": tensor mu.weight has shape [6, 32], expected [7, 32]",
            model.display()
        )
    );
}

#[cfg(target_os = "linux")]
#[test]
fn an_unreadable_file_is_named_with_the_system_error() {
    // Reading a process's own memory file from offset 0 always fails, even as root.
    let path = Path::new("/proc/self/mem");
    let message = refusal(path);
    assert!(
        message.starts_with("checkpoint \"/proc/self/mem\": ") && message.contains("error"),
        "{message}"
    );
}
