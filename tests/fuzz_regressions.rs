//! Inputs that once crashed the model loader (see `fuzz/README.md`, "Findings") are now
//! refused with a message, and the process goes on.
//!
//! Each fixture in `tests/fixtures/fuzz` is the model file itself (the fuzz targets' selector
//! byte removed), so it is opened exactly as a user's file would be.

use std::path::{Path, PathBuf};

use latent_explorer::model::import::pickle::read_pickle;
use latent_explorer::model::load_model;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz")
        .join(name)
}

/// The loader's message for a file it must refuse.
fn refusal(path: &Path) -> String {
    match load_model(path) {
        Ok(loaded) => panic!(
            "{} was loaded as {}, but it must be refused",
            path.display(),
            loaded.architecture
        ),
        Err(error) => error.to_string(),
    }
}

#[test]
fn a_pickle_nested_ten_thousand_tuples_deep_is_refused_instead_of_overflowing_the_stack() {
    let bytes = std::fs::read(fixture("nested-tuples.pkl")).unwrap_or_else(|e| panic!("{e}"));
    let message = match read_pickle(&bytes) {
        Ok(value) => panic!("a {} was read, but it must be refused", value.kind()),
        Err(error) => error.to_string(),
    };
    assert_eq!(
        message,
        "the pickle is too large or too deeply nested to be a state dict"
    );
}

#[test]
fn a_pytorch_file_whose_pickle_nests_too_deep_is_refused_with_its_name() {
    let path = fixture("stack-overflow-nested-tuples.pt");
    let message = refusal(&path);
    assert_eq!(
        message,
        format!(
            "checkpoint \"{}\": its pickle cannot be read: the pickle is too large or too deeply nested to be a state dict",
            path.display()
        )
    );
}

#[test]
fn a_pytorch_tensor_view_with_stride_zero_and_a_huge_shape_is_refused_without_allocating_it() {
    let path = fixture("oom-stride-0-view.pt");
    let message = refusal(&path);
    assert_eq!(
        message,
        format!(
            "checkpoint \"{}\": tensor fc1.weight: its shape [1073741824] is too large",
            path.display()
        )
    );
}

#[test]
fn a_recognised_image_shape_whose_product_overflows_is_refused() {
    let path = fixture("overflow-image-shape.safetensors");
    let message = refusal(&path);
    assert_eq!(
        message,
        format!(
            "checkpoint \"{}\": metadata key \"input_shape\" is [1, 1, 18446744073709551615]: every size must be 1 to 65536",
            path.display()
        )
    );
}

#[test]
fn a_conv_layout_whose_sizes_overflow_is_refused() {
    let path = fixture("overflow-own-conv.safetensors");
    let message = refusal(&path);
    assert_eq!(
        message,
        format!(
            "checkpoint \"{}\": its architecture is unknown: no latent-explorer metadata, no config.json beside it, and its tensors (encoder.conv.0.weight [1, 1, 4, 4], encoder.fc.0.weight [0, 18446744073709551615], logvar.weight [1, 0], mu.weight [1, 0]) match no known layout; describe it in a config.json (see the README)",
            path.display()
        )
    );
}
