//! The fully connected VAE in candle.
//!
//! Shapes: images enter flattened as `[n, c·h·w]`; the encoder's hidden layers use ReLU; µ and
//! log σ² are `[n, latent_dim]`; the decoder mirrors the encoder and ends in the spec's output
//! activation, giving `[n, c·h·w]` again.

use std::collections::HashMap;
use std::ops::ControlFlow;

use candle_core::{DType, Device, Tensor};
use candle_nn::{Linear, Module};

use super::spec::{ModelSpec, OutputActivation};

/// Images encoded per candle call when a whole dataset is encoded: large enough to keep the
/// matrix kernels busy, small enough to report progress several times a second.
pub const ENCODE_BATCH: usize = 1000;

/// A candle computation failed: shapes disagreed inside the network or memory ran out.
#[derive(Debug, thiserror::Error)]
#[error("model computation failed: {0}")]
pub struct ModelError(#[from] pub candle_core::Error);

/// The encoder's hidden layers with `mu` and `logvar` heads, and the mirrored decoder.
#[derive(Debug, Clone)]
pub struct MlpVae {
    spec: ModelSpec,
    encoder: Vec<Linear>,
    mu: Linear,
    logvar: Linear,
    decoder: Vec<Linear>,
    decoder_out: Linear,
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
            mu: linear("mu")?,
            logvar: linear("logvar")?,
            decoder,
            decoder_out: linear("decoder.out")?,
            spec,
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
        push("mu".into(), &self.mu);
        push("logvar".into(), &self.logvar);
        for (i, layer) in self.decoder.iter().enumerate() {
            push(format!("decoder.{i}"), layer);
        }
        push("decoder.out".into(), &self.decoder_out);
        out
    }

    /// A 64-bit FNV-1a hash of the architecture and every weight: the same model gives the
    /// same fingerprint wherever its file lives, so per-model data (bookmarks) can find it.
    pub fn fingerprint(&self) -> Result<u64, ModelError> {
        let mut hash = 0xcbf2_9ce4_8422_2325u64;
        let mut feed = |bytes: &[u8]| {
            for &b in bytes {
                hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
        };
        feed(
            format!(
                "{:?}{:?}{}",
                self.spec.input_shape, self.spec.hidden, self.spec.latent_dim
            )
            .as_bytes(),
        );
        for (name, tensor) in self.named_tensors() {
            feed(name.as_bytes());
            let values: Vec<f32> = tensor.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
            for v in values {
                feed(&v.to_le_bytes());
            }
        }
        Ok(hash)
    }

    /// `[n, input_len]` images → (µ, log σ²), each `[n, latent_dim]`.
    pub fn encode(&self, images: &Tensor) -> Result<(Tensor, Tensor), ModelError> {
        let mut h = images.clone();
        for layer in &self.encoder {
            h = layer.forward(&h)?.relu()?;
        }
        Ok((self.mu.forward(&h)?, self.logvar.forward(&h)?))
    }

    /// `[n, latent_dim]` latents → `[n, input_len]` pre-activation outputs (logits).
    pub fn decode_logits(&self, z: &Tensor) -> Result<Tensor, ModelError> {
        let mut h = z.clone();
        for layer in &self.decoder {
            h = layer.forward(&h)?.relu()?;
        }
        Ok(self.decoder_out.forward(&h)?)
    }

    /// `[n, latent_dim]` latents → `[n, input_len]` outputs in pixel range.
    pub fn decode(&self, z: &Tensor) -> Result<Tensor, ModelError> {
        let logits = self.decode_logits(z)?;
        Ok(match self.spec.output_activation {
            OutputActivation::Sigmoid => candle_nn::ops::sigmoid(&logits)?,
        })
    }

    /// Decodes plain latents (`n × latent_dim` values) to plain outputs (`n × input_len`).
    pub fn decode_batch(&self, z: &[f32]) -> Result<Vec<f32>, ModelError> {
        let n = z.len() / self.latent_dim();
        let z = Tensor::from_slice(z, (n, self.latent_dim()), &Device::Cpu)?;
        Ok(self.decode(&z)?.flatten_all()?.to_vec1()?)
    }

    /// Encodes `pixels` (`n × input_len` values) to posterior means, `n × latent_dim` values.
    ///
    /// `on_batch` hears the number of images done after each batch and may stop the work by
    /// returning `Break`; the result is then `None`.
    pub fn encode_means(
        &self,
        pixels: &[f32],
        on_batch: &mut dyn FnMut(usize) -> ControlFlow<()>,
    ) -> Result<Option<Vec<f32>>, ModelError> {
        let input_len = self.spec.input_len();
        let n = pixels.len() / input_len;
        let mut means = Vec::with_capacity(n * self.latent_dim());

        for (batch_idx, chunk) in pixels.chunks(ENCODE_BATCH * input_len).enumerate() {
            let rows = chunk.len() / input_len;
            let images = Tensor::from_slice(chunk, (rows, input_len), &Device::Cpu)?;
            let (mu, _) = self.encode(&images)?;
            means.extend(mu.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?);

            let done = (batch_idx * ENCODE_BATCH + rows).min(n);
            if on_batch(done).is_break() {
                return Ok(None);
            }
        }
        Ok(Some(means))
    }
}
