//! [`Model`]: any network this app can open, behind one interface.
//!
//! Everything above the model layer holds a `Model` and calls it with plain slices; which
//! architecture it is matters only here and in the Model panel.

use std::collections::HashMap;
use std::ops::ControlFlow;

use candle_core::{DType, Device, Tensor};

use super::conv::ConvVae;
use super::dcgan::DcganGenerator;
use super::fast_encoder::FastEncoder;
use super::spec::{ModelKind, ModelSpec, OutputActivation};
use super::vae::{ENCODE_BATCH, MlpVae, ModelError};

/// Images per candle call for the convolutional models, whose activations are far larger per
/// image than an MLP's.
const CONV_BATCH: usize = 128;

/// A loaded network of one of the supported architectures.
#[derive(Debug, Clone)]
pub enum Model {
    /// A fully connected VAE or autoencoder.
    Mlp(MlpVae),
    /// A convolutional VAE or autoencoder.
    Conv(ConvVae),
    /// A DCGAN generator, with no encoder.
    Dcgan(DcganGenerator),
}

impl From<MlpVae> for Model {
    fn from(model: MlpVae) -> Self {
        Self::Mlp(model)
    }
}

impl Model {
    /// Builds the network `spec` describes from tensors that match
    /// [`ModelSpec::tensor_shapes`].
    pub fn from_tensors(
        spec: ModelSpec,
        tensors: &HashMap<String, Tensor>,
    ) -> Result<Self, ModelError> {
        Ok(match spec.kind {
            ModelKind::MlpVae | ModelKind::MlpAe => Self::Mlp(MlpVae::from_tensors(spec, tensors)?),
            ModelKind::ConvVae | ModelKind::ConvAe => {
                Self::Conv(ConvVae::from_tensors(spec, tensors)?)
            }
            ModelKind::DcganGenerator => Self::Dcgan(DcganGenerator::from_tensors(spec, tensors)?),
        })
    }

    /// The spec the model was built from.
    pub fn spec(&self) -> &ModelSpec {
        match self {
            Self::Mlp(m) => m.spec(),
            Self::Conv(m) => m.spec(),
            Self::Dcgan(m) => m.spec(),
        }
    }

    /// Size of z.
    pub fn latent_dim(&self) -> usize {
        self.spec().latent_dim
    }

    /// True when the model can map images to latents.
    pub fn has_encoder(&self) -> bool {
        self.spec().kind.has_encoder()
    }

    /// True when the encoder gives µ and log σ² (a VAE), false for one code or none.
    pub fn is_variational(&self) -> bool {
        self.spec().kind.is_variational()
    }

    /// Every tensor by its checkpoint name, in [`ModelSpec::tensor_shapes`] order.
    pub fn named_tensors(&self) -> Vec<(String, Tensor)> {
        match self {
            Self::Mlp(m) => m.named_tensors(),
            Self::Conv(m) => m.named_tensors(),
            Self::Dcgan(m) => m.named_tensors(),
        }
    }

    /// Number of learned values; batch norm's running statistics are state, not parameters.
    pub fn parameter_count(&self) -> usize {
        self.spec()
            .tensor_shapes()
            .iter()
            .filter(|(name, _)| !name.ends_with("running_mean") && !name.ends_with("running_var"))
            .map(|(_, shape)| shape.iter().product::<usize>())
            .sum()
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
        let spec = self.spec();
        let mut architecture =
            format!("{:?}{:?}{}", spec.input_shape, spec.hidden, spec.latent_dim);
        // The fully connected VAE hashes as it always has, so its saved bookmarks stay found.
        if spec.kind != ModelKind::MlpVae {
            architecture.push_str(&format!("{}{:?}", spec.kind.as_str(), spec.channels));
        }
        feed(architecture.as_bytes());
        for (name, tensor) in self.named_tensors() {
            feed(name.as_bytes());
            let values: Vec<f32> = tensor.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
            for v in values {
                feed(&v.to_le_bytes());
            }
        }
        Ok(hash)
    }

    /// `[n, input_len]` images → µ (or the code) and, for a VAE, log σ², each
    /// `[n, latent_dim]`. A generator has no encoder and says so.
    pub fn encode(&self, images: &Tensor) -> Result<(Tensor, Option<Tensor>), ModelError> {
        match self {
            Self::Mlp(m) => m.encode(images),
            Self::Conv(m) => m.encode(images),
            Self::Dcgan(_) => Err(no_encoder()),
        }
    }

    /// `[n, latent_dim]` latents → `[n, input_len]` outputs before the final activation.
    pub fn decode_logits(&self, z: &Tensor) -> Result<Tensor, ModelError> {
        match self {
            Self::Mlp(m) => m.decode_logits(z),
            Self::Conv(m) => m.decode_logits(z),
            Self::Dcgan(m) => m.decode_logits(z),
        }
    }

    /// `[n, latent_dim]` latents → `[n, input_len]` outputs in the model's own range.
    pub fn decode(&self, z: &Tensor) -> Result<Tensor, ModelError> {
        let logits = self.decode_logits(z)?;
        Ok(match self.spec().output_activation {
            OutputActivation::Sigmoid => candle_nn::ops::sigmoid(&logits)?,
            OutputActivation::Tanh => logits.tanh()?,
            OutputActivation::Identity => logits,
        })
    }

    /// Images per candle call for batch work on this model.
    pub fn batch_size(&self) -> usize {
        match self {
            Self::Mlp(_) => ENCODE_BATCH,
            Self::Conv(_) | Self::Dcgan(_) => CONV_BATCH,
        }
    }

    /// Decodes plain latents (`n × latent_dim` values) to plain outputs (`n × input_len`), in
    /// the model's own range (see [`OutputActivation::to_unit`] for display).
    pub fn decode_batch(&self, z: &[f32]) -> Result<Vec<f32>, ModelError> {
        let dim = self.latent_dim();
        let mut out = Vec::with_capacity(z.len() / dim.max(1) * self.spec().input_len());
        for chunk in z.chunks(self.batch_size() * dim.max(1)) {
            let n = chunk.len() / dim.max(1);
            let z = Tensor::from_slice(&chunk[..n * dim], (n, dim), &Device::Cpu)?;
            out.extend(self.decode(&z)?.flatten_all()?.to_vec1::<f32>()?);
        }
        Ok(out)
    }

    /// Decodes plain latents to display values in `[0, 1]`, one vector per latent.
    pub fn decode_for_display(&self, z: &[f32]) -> Result<Vec<Vec<f32>>, ModelError> {
        let activation = self.spec().output_activation;
        let len = self.spec().input_len().max(1);
        let raw = self.decode_batch(z)?;
        Ok(raw
            .chunks(len)
            .map(|image| image.iter().map(|&v| activation.to_unit(v)).collect())
            .collect())
    }

    /// Encodes `pixels` (`n × input_len` values) to posterior means (or codes),
    /// `n × latent_dim` values.
    ///
    /// `on_batch` hears the number of images done after each batch and may stop the work by
    /// returning `Break`; the result is then `None`.
    pub fn encode_means(
        &self,
        pixels: &[f32],
        on_batch: &mut dyn FnMut(usize) -> ControlFlow<()>,
    ) -> Result<Option<Vec<f32>>, ModelError> {
        let input_len = self.spec().input_len();
        let n = pixels.len() / input_len.max(1);
        let mut means = Vec::with_capacity(n * self.latent_dim());

        let fast = match self {
            Self::Mlp(model) => model.fast_encoder()?,
            Self::Conv(_) | Self::Dcgan(_) => None,
        };
        let batch = match fast {
            Some(_) => FastEncoder::BATCH,
            None => self.batch_size(),
        };
        let mut done = 0;
        for chunk in pixels.chunks(batch * input_len.max(1)) {
            let rows = chunk.len() / input_len.max(1);
            if let Some(fast) = fast {
                means.extend(fast.encode(&chunk[..rows * input_len]));
            } else {
                let images = Tensor::from_slice(
                    &chunk[..rows * input_len],
                    (rows, input_len),
                    &Device::Cpu,
                )?;
                let (mu, _) = self.encode(&images)?;
                means.extend(mu.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?);
            }

            done += rows;
            if on_batch(done).is_break() {
                return Ok(None);
            }
        }
        Ok(Some(means))
    }
}

fn no_encoder() -> ModelError {
    ModelError(candle_core::Error::Msg(
        "a DCGAN generator has no encoder: it can only decode latents".into(),
    ))
}
