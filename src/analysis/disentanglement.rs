//! The disentanglement metrics of a model on the sprites, whose true factors are known.
//!
//! The metrics ask for about 2.9 million observations with disentanglement_lib's defaults, but
//! the sprites' factor space holds only 3 · 6 · 40 · 32 · 32 = 737,280 combinations, so every
//! combination is rendered and encoded once, in large batches, and the metrics then read their
//! codes from that table ([`SpriteCodes`]).

use std::ops::ControlFlow;

use crate::data::sprites::{FACTOR_NAMES, FACTOR_SIZES, Factors, SIDE, render};
use crate::latent::metrics::{FactorSpace, MetricReport, MetricSettings, evaluate};
use crate::model::Model;

/// Sprites rendered and encoded per batch.
const BATCH: usize = 256;

/// The encoder's code (posterior mean) of every sprite, indexed by its factors.
#[derive(Debug, Clone)]
pub struct SpriteCodes {
    /// `COMBINATIONS × dim` values, in the row-major order of the factor indices.
    codes: Vec<f32>,
    dim: usize,
}

/// Number of distinct sprites.
pub const COMBINATIONS: usize =
    FACTOR_SIZES[0] * FACTOR_SIZES[1] * FACTOR_SIZES[2] * FACTOR_SIZES[3] * FACTOR_SIZES[4];

/// The factors of combination `index`, in row-major order.
fn factors_of(mut index: usize) -> Factors {
    let mut values = [0; 5];
    for k in (0..5).rev() {
        values[k] = index % FACTOR_SIZES[k];
        index /= FACTOR_SIZES[k];
    }
    Factors(values)
}

/// The row-major index of factor values `values`; `None` for a value out of range.
fn index_of(values: &[usize]) -> Option<usize> {
    if values.len() != 5 {
        return None;
    }
    values
        .iter()
        .zip(FACTOR_SIZES)
        .try_fold(0, |acc, (&v, size)| (v < size).then_some(acc * size + v))
}

impl SpriteCodes {
    /// Renders and encodes every sprite with `model`; `progress(done, total)` hears each batch
    /// and may stop the work (`Ok(None)`).
    pub fn encode_all(
        model: &Model,
        progress: &mut dyn FnMut(usize, usize) -> ControlFlow<()>,
    ) -> Result<Option<Self>, String> {
        let shape = model.spec().image_shape();
        if (shape.channels, shape.height, shape.width) != (1, SIDE, SIDE) {
            return Err(format!(
                "the sprites are 1×{SIDE}×{SIDE} images but the model takes {}×{}×{}",
                shape.channels, shape.height, shape.width
            ));
        }
        if !model.has_encoder() {
            return Err("the model has no encoder to measure".into());
        }
        let dim = model.latent_dim();
        let mut codes = Vec::with_capacity(COMBINATIONS * dim);
        let mut pixels = vec![0f32; BATCH * SIDE * SIDE];
        let mut start = 0;
        while start < COMBINATIONS {
            let count = BATCH.min(COMBINATIONS - start);
            for (k, image) in pixels.chunks_exact_mut(SIDE * SIDE).take(count).enumerate() {
                render(factors_of(start + k), image);
            }
            let means = model
                .encode_means(&pixels[..count * SIDE * SIDE], &mut |_| {
                    ControlFlow::Continue(())
                })
                .map_err(|e| e.to_string())?
                .ok_or_else(|| "encoding stopped".to_owned())?;
            codes.extend(means);
            start += count;
            if progress(start, COMBINATIONS).is_break() {
                return Ok(None);
            }
        }
        Ok(Some(Self { codes, dim }))
    }

    /// The code of each factor combination in `factors` (`n × 5` indices, row by row).
    pub fn lookup(&self, factors: &[usize]) -> Result<Vec<f32>, String> {
        let mut out = Vec::with_capacity(factors.len() / 5 * self.dim);
        for row in factors.chunks(5) {
            let index =
                index_of(row).ok_or_else(|| format!("factor values {row:?} are not a sprite"))?;
            let code = self
                .codes
                .get(index * self.dim..(index + 1) * self.dim)
                .ok_or_else(|| format!("no code for sprite {index}"))?;
            out.extend_from_slice(code);
        }
        Ok(out)
    }
}

/// The sprites' factor space as the metrics take it.
pub fn sprite_factor_space() -> FactorSpace {
    FactorSpace::new(&FACTOR_NAMES, &FACTOR_SIZES)
}

/// Every metric of `model` on the sprites; `progress(stage, done, total)` hears the encoding
/// and then the metrics, and may stop the work (`Ok(None)`).
pub fn evaluate_sprites(
    model: &Model,
    settings: &MetricSettings,
    progress: &mut dyn FnMut(&str, usize, usize) -> ControlFlow<()>,
) -> Result<Option<MetricReport>, String> {
    let Some(codes) = SpriteCodes::encode_all(model, &mut |done, total| {
        progress("encoding every sprite", done, total)
    })?
    else {
        return Ok(None);
    };
    let mut encode = |factors: &[usize]| codes.lookup(factors);
    evaluate(
        &sprite_factor_space(),
        model.latent_dim(),
        settings,
        &mut encode,
        progress,
    )
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factor_indices_round_trip() {
        for index in [0, 1, 31, 32 * 32, COMBINATIONS - 1, 123_457] {
            let Factors(values) = factors_of(index);
            assert_eq!(index_of(&values), Some(index));
        }
        assert_eq!(index_of(&[3, 0, 0, 0, 0]), None);
        assert_eq!(COMBINATIONS, 737_280);
    }
}
