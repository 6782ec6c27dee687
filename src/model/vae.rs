//! The fully connected VAE (or plain autoencoder) in candle.
//!
//! Shapes: images enter flattened as `[n, c·h·w]`; the encoder's hidden layers use ReLU; µ and
//! log σ² are `[n, latent_dim]` (a plain autoencoder has one `code` head instead); the decoder
//! mirrors the encoder and ends in the spec's output activation, giving `[n, c·h·w]` again.

use std::collections::HashMap;
use std::sync::OnceLock;

use candle_core::{DType, Tensor};
use candle_nn::{Linear, Module};

use super::fast_encoder::{FastEncoder, beats_candle_here};
use super::spec::ModelSpec;

/// Images encoded per candle call when a whole dataset is encoded: large enough to keep the
/// matrix kernels busy, small enough to report progress several times a second.
pub const ENCODE_BATCH: usize = 1000;

/// A candle computation failed: shapes disagreed inside the network or memory ran out.
#[derive(Debug, thiserror::Error)]
#[error("model computation failed: {0}")]
pub struct ModelError(#[from] pub candle_core::Error);

/// The encoder's hidden layers with `mu` and `logvar` heads (or a `code` head), and the
/// mirrored decoder.
#[derive(Debug, Clone)]
pub struct MlpVae {
    spec: ModelSpec,
    encoder: Vec<Linear>,
    /// `mu` for a VAE, `code` for a plain autoencoder.
    mu: Linear,
    logvar: Option<Linear>,
    decoder: Vec<Linear>,
    decoder_out: Linear,
    /// The encoder as plain arrays for batch encoding, made on first use.
    fast_encoder: OnceLock<FastEncoder>,
}

impl MlpVae {
    /// Builds the network from named tensors whose names and shapes match
    /// [`ModelSpec::tensor_shapes`]; the checkpoint loader checks them first.
    pub fn from_tensors(
        spec: ModelSpec,
        tensors: &HashMap<String, Tensor>,
    ) -> Result<Self, ModelError> {
        let linear = |name: &str| -> Result<Linear, ModelError> {
            let get = |suffix: &str| {
                let key = format!("{name}.{suffix}");
                tensors.get(&key).cloned().ok_or_else(|| {
                    ModelError(candle_core::Error::Msg(format!("tensor {key} is missing")))
                })
            };
            Ok(Linear::new(get("weight")?, Some(get("bias")?)))
        };

        let encoder = (0..spec.hidden.len())
            .map(|i| linear(&format!("encoder.{i}")))
            .collect::<Result<_, _>>()?;
        let decoder = (0..spec.hidden.len())
            .map(|i| linear(&format!("decoder.{i}")))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            encoder,
            mu: linear(spec.kind.latent_head())?,
            logvar: match spec.kind.is_variational() {
                true => Some(linear("logvar")?),
                false => None,
            },
            decoder,
            decoder_out: linear("decoder.out")?,
            spec,
            fast_encoder: OnceLock::new(),
        })
    }

    /// The spec the model was built from.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// Size of z.
    pub fn latent_dim(&self) -> usize {
        self.spec.latent_dim
    }

    /// The weight (`[out, in]`, row-major) and bias of the layer named `prefix` (`encoder.0`,
    /// `mu`, `decoder.out`, …) as plain `f32` values.
    pub fn layer_values(&self, prefix: &str) -> Result<(Vec<f32>, Vec<f32>), ModelError> {
        let named = self.named_tensors();
        let find = |name: String| {
            named
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, t)| t.clone())
                .ok_or_else(|| candle_core::Error::Msg(format!("tensor {name} is missing")))
        };
        let weight = find(format!("{prefix}.weight"))?
            .to_dtype(DType::F32)?
            .flatten_all()?
            .to_vec1()?;
        let bias = find(format!("{prefix}.bias"))?
            .to_dtype(DType::F32)?
            .to_vec1()?;
        Ok((weight, bias))
    }

    /// Every weight and bias by its checkpoint name, in [`ModelSpec::tensor_shapes`] order.
    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        let mut push = |name: String, layer: &Linear| {
            out.push((format!("{name}.weight"), layer.weight().clone()));
            if let Some(bias) = layer.bias() {
                out.push((format!("{name}.bias"), bias.clone()));
            }
        };
        for (i, layer) in self.encoder.iter().enumerate() {
            push(format!("encoder.{i}"), layer);
        }
        push(self.spec.kind.latent_head().into(), &self.mu);
        if let Some(logvar) = &self.logvar {
            push("logvar".into(), logvar);
        }
        for (i, layer) in self.decoder.iter().enumerate() {
            push(format!("decoder.{i}"), layer);
        }
        push("decoder.out".into(), &self.decoder_out);
        out
    }

    /// `[n, input_len]` images → µ (or the code) and, for a VAE, log σ², each
    /// `[n, latent_dim]`.
    pub fn encode(&self, images: &Tensor) -> Result<(Tensor, Option<Tensor>), ModelError> {
        let mut h = images.clone();
        for layer in &self.encoder {
            h = layer.forward(&h)?.relu()?;
        }
        let logvar = match &self.logvar {
            Some(layer) => Some(layer.forward(&h)?),
            None => None,
        };
        Ok((self.mu.forward(&h)?, logvar))
    }

    /// The encoder as plain arrays for encoding whole datasets, made on first use; `None` where
    /// candle's products are the faster path (see [`beats_candle_here`]).
    pub fn fast_encoder(&self) -> Result<Option<&FastEncoder>, ModelError> {
        if !beats_candle_here() {
            return Ok(None);
        }
        if let Some(fast) = self.fast_encoder.get() {
            return Ok(Some(fast));
        }
        let fast = FastEncoder::from_model(self)?;
        Ok(Some(self.fast_encoder.get_or_init(|| fast)))
    }

    /// `[n, latent_dim]` latents → `[n, input_len]` pre-activation outputs (logits).
    pub fn decode_logits(&self, z: &Tensor) -> Result<Tensor, ModelError> {
        let mut h = z.clone();
        for layer in &self.decoder {
            h = layer.forward(&h)?.relu()?;
        }
        Ok(self.decoder_out.forward(&h)?)
    }
}
