//! Fuzzes the restricted pickle reader on its own.
//!
//! Any input must end in a value or a `PickleError`; a panic, an abort (stack overflow), a
//! timeout or running out of memory is a bug.

#![no_main]

use latent_explorer::model::import::pickle::read_pickle;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match read_pickle(data) {
        // Touch the value so its accessors run, then drop it: dropping a deeply nested value is
        // part of what a caller pays for.
        Ok(value) => {
            let _ = (value.kind(), value.as_seq().map(<[_]>::len), value.as_global());
        }
        // The message is shown to the user, so formatting it must not panic either.
        Err(error) => {
            let _ = error.to_string();
        }
    }
});
