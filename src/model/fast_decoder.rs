//! A hand-written decoder for one latent at a time: the slider path.
//!
//! candle pays tensor allocation and dispatch costs on every call that dwarf the arithmetic
//! of a 16 → 400 → 784 network (about 320k multiply-adds). Here the weights are copied once
//! into plain row-major `Vec<f32>` and each output is a dot product written so that the
//! compiler vectorises it; the result equals candle's decode to within float rounding.

use candle_core::DType;

use super::spec::OutputActivation;
use super::vae::{MlpVae, ModelError};

/// One fully connected layer: `weight` is `[output, input]` row-major.
#[derive(Debug, Clone)]
struct Dense {
    weight: Vec<f32>,
    bias: Vec<f32>,
    input: usize,
}

impl Dense {
    fn forward(&self, x: &[f32], out: &mut Vec<f32>) {
        out.clear();
        out.extend(
            self.weight
                .chunks_exact(self.input)
                .zip(&self.bias)
                .map(|(row, b)| dot(row, x) + b),
        );
    }
}

/// Dot product with eight independent accumulators, so the loop vectorises and pipelines.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks_a = a.chunks_exact(8);
    let chunks_b = b.chunks_exact(8);
    let tail: f32 = chunks_a
        .remainder()
        .iter()
        .zip(chunks_b.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (ca, cb) in chunks_a.zip(chunks_b) {
        for k in 0..8 {
            lanes[k] += ca[k] * cb[k];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// The decoder half of an [`MlpVae`], as plain arrays.
#[derive(Debug, Clone)]
pub struct FastDecoder {
    hidden: Vec<Dense>,
    out: Dense,
    activation: OutputActivation,
    latent_dim: usize,
}

impl FastDecoder {
    /// Copies the decoder's weights out of `model`.
    pub fn from_model(model: &MlpVae) -> Result<Self, ModelError> {
        let named = model.named_tensors();
        let dense = |prefix: &str| -> Result<Dense, ModelError> {
            let find = |name: String| {
                named
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, t)| t.clone())
                    .ok_or_else(|| candle_core::Error::Msg(format!("tensor {name} is missing")))
            };
            let weight = find(format!("{prefix}.weight"))?;
            let bias = find(format!("{prefix}.bias"))?;
            let input = weight.dims().get(1).copied().unwrap_or(0);
            Ok(Dense {
                weight: weight.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?,
                bias: bias.to_dtype(DType::F32)?.to_vec1()?,
                input,
            })
        };

        let spec = model.spec();
        let hidden = (0..spec.hidden.len())
            .map(|i| dense(&format!("decoder.{i}")))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            hidden,
            out: dense("decoder.out")?,
            activation: spec.output_activation,
            latent_dim: spec.latent_dim,
        })
    }

    /// Size of z.
    pub fn latent_dim(&self) -> usize {
        self.latent_dim
    }

    /// Decodes one latent into `out` (cleared first); `z` must hold `latent_dim` values.
    pub fn decode_into(&self, z: &[f32], out: &mut Vec<f32>) {
        let mut current = z.to_vec();
        let mut next = Vec::new();
        for layer in &self.hidden {
            layer.forward(&current, &mut next);
            next.iter_mut().for_each(|v| *v = v.max(0.0));
            std::mem::swap(&mut current, &mut next);
        }

        self.out.forward(&current, out);
        match self.activation {
            OutputActivation::Sigmoid => {
                out.iter_mut().for_each(|v| *v = 1.0 / (1.0 + (-*v).exp()))
            }
        }
    }

    /// Decodes one latent to a new vector.
    pub fn decode(&self, z: &[f32]) -> Vec<f32> {
        let mut out = Vec::new();
        self.decode_into(z, &mut out);
        out
    }
}
