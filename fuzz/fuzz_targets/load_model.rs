//! Fuzzes the whole model loader: format sniffing, safetensors and torch zip reading, the
//! architecture from metadata, a sidecar JSON text or recognition, the checks, and building
//! the candle network.
//!
//! Input layout (written by `make_seeds.py`):
//!
//! ```text
//! byte 0        bit 0: the file name ends in .safetensors (set) or .pt (clear)
//!               bit 1: a sidecar follows
//! [bytes 1..3]  with a sidecar: its length n, little-endian u16 (cut to what is there)
//! [n bytes]     with a sidecar: its text (invalid UTF-8 is replaced)
//! rest          the model file's bytes
//! ```
//!
//! Any input must end in a model or a `CheckpointError`; a panic, an abort, a timeout or
//! running out of memory is a bug.

#![no_main]

use std::path::Path;

use latent_explorer::model::load_model_bytes;
use libfuzzer_sys::fuzz_target;

/// The model bytes and the sidecar text, split from the fuzzer's input.
struct Case<'a> {
    path: &'static Path,
    model: &'a [u8],
    sidecar: Option<String>,
}

fn split(data: &[u8]) -> Option<Case<'_>> {
    let (&selector, rest) = data.split_first()?;
    let path = if selector & 1 == 1 {
        Path::new("fuzz/model.safetensors")
    } else {
        Path::new("fuzz/model.pt")
    };
    if selector & 2 == 0 {
        return Some(Case {
            path,
            model: rest,
            sidecar: None,
        });
    }

    let (len, rest) = rest.split_at_checked(2)?;
    let len = usize::from(u16::from_le_bytes([len[0], len[1]])).min(rest.len());
    let (text, model) = rest.split_at(len);
    Some(Case {
        path,
        model,
        sidecar: Some(String::from_utf8_lossy(text).into_owned()),
    })
}

fuzz_target!(|data: &[u8]| {
    let Some(case) = split(data) else {
        return;
    };
    let sidecar = case
        .sidecar
        .as_deref()
        .map(|text| (Path::new("fuzz/config.json"), text));

    match load_model_bytes(case.model, case.path, sidecar) {
        Ok(loaded) => {
            // What the Model panel shows about a loaded file.
            let _ = (
                loaded.architecture.to_string(),
                loaded.format.to_string(),
                loaded.model.latent_dim(),
                loaded.model.spec().parameter_count(),
            );
        }
        // Every error is shown to the user, so formatting it must not panic either.
        Err(error) => {
            let _ = error.to_string();
        }
    }
});
