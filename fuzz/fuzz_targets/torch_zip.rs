//! Fuzzes the reader of `torch.save` zip files (zip container, pickle, storages, strides).
//!
//! Any input must end in a state dict or a `TorchError`; a panic, an abort, a timeout or
//! running out of memory is a bug.

#![no_main]

use latent_explorer::model::import::torch::read_torch_zip;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match read_torch_zip(data) {
        Ok(state) => {
            let _ = (state.tensors.len(), state.notes.len());
        }
        Err(error) => {
            let _ = error.to_string();
        }
    }
});
