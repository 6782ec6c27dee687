//! A hand-written batch encoder for the fully connected models: the map's path.
//!
//! Encoding a dataset is a chain of `[n, input] × [input, output]` products. Here each layer's
//! weight is transposed (`[input, output]`, outputs padded to whole SIMD vectors) and packed
//! for [`matmul`]'s kernel once, when the encoder is built ([`PackedMatrix`]); the kernel's
//! register blocks skip an input that is zero in
//! every image of the block (half of Fashion-MNIST's pixels are zero, 13 % in eight images at
//! once; a hidden unit is zero wherever its ReLU was off). Images go through every layer in
//! groups that stay in cache; only the µ head is computed, never log σ².
//!
//! With AVX2 only, candle's products are faster, so [`MlpVae::fast_encoder`] offers this
//! encoder only where [`beats_candle_here`] says so. The result equals candle's encode to within float
//! rounding (tested below).

use pulp::{Arch, Simd, WithSimd};

use super::matmul::{Finish, PackedMatrix};
use super::vae::{MlpVae, ModelError};

/// Images per group: the product for a group is large enough for both threads and the
/// group's hidden values stay in cache.
const GROUP: usize = 1024;

/// Outputs are padded to a multiple of this many floats, which [`matmul`]'s SIMD path needs.
const PAD: usize = 16;

/// One fully connected layer: its weight transposed to `[input, stride]` (outputs padded with
/// zero columns) and packed, and its bias padded likewise.
#[derive(Debug, Clone)]
struct Dense {
    weight_t: PackedMatrix,
    bias: Vec<f32>,
    output: usize,
    stride: usize,
}

impl Dense {
    /// `weight` is `[output, input]` row-major, as in PyTorch and in checkpoints; the layer
    /// takes `input_stride ≥ input` values per image, the ones past `input` being padding.
    fn from_rows(weight: &[f32], bias: &[f32], input_stride: usize) -> Self {
        let output = bias.len();
        let input = weight.len().checked_div(output).unwrap_or(0);
        let stride = output.div_ceil(PAD) * PAD;
        let mut weight_t = vec![0.0; input_stride.max(input) * stride];
        for (o, row) in weight.chunks_exact(input.max(1)).enumerate() {
            for (i, &w) in row.iter().enumerate() {
                weight_t[i * stride + o] = w;
            }
        }
        let mut padded_bias = vec![0.0; stride];
        padded_bias[..output].copy_from_slice(bias);
        Self {
            weight_t: PackedMatrix::new(&weight_t, input_stride.max(input), stride),
            bias: padded_bias,
            output,
            stride,
        }
    }

    /// `x · Wᵀ + b` for `rows` images of as many values as the layer's (padded) input, then ReLU
    /// when asked.
    /// The result goes to `y`, whose allocation serves every group.
    fn forward_into(&self, x: &[f32], rows: usize, relu: bool, y: &mut Vec<f32>) {
        y.resize(rows * self.stride, 0.0);
        let finish = Finish {
            bias: &self.bias,
            relu,
        };
        self.weight_t.multiply_then(x, rows, y, Some(finish));
    }
}

/// The encoder half of an [`MlpVae`] up to µ (or the code), as transposed plain arrays.
#[derive(Debug, Clone)]
pub struct FastEncoder {
    hidden: Vec<Dense>,
    head: Dense,
    input_len: usize,
}

/// Asks pulp for the width it will run at here.
struct Lanes;

impl WithSimd for Lanes {
    type Output = usize;

    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) -> usize {
        S::F32_LANES
    }
}

/// Whether this machine's SIMD is wide enough for [`FastEncoder`] to beat candle's matrix
/// products. On the project's 2-core machine it encodes the 10,000 test images at about
/// 390,000 images/s with AVX-512 against candle's 180,000–210,000; built without pulp's
/// `x86-v4` (so AVX2 only) an earlier version of it managed 187,000 against candle's 206,000,
/// so candle keeps that case.
pub fn beats_candle_here() -> bool {
    Arch::new().dispatch(Lanes) >= 16
}

impl FastEncoder {
    /// Copies the encoder's weights out of `model`, transposed.
    pub fn from_model(model: &MlpVae) -> Result<Self, ModelError> {
        let spec = model.spec();
        let mut width = spec.input_len();
        let mut dense = |prefix: &str| -> Result<Dense, ModelError> {
            let (weight, bias) = model.layer_values(prefix)?;
            let layer = Dense::from_rows(&weight, &bias, width);
            width = layer.stride;
            Ok(layer)
        };
        let hidden = (0..spec.hidden.len())
            .map(|i| dense(&format!("encoder.{i}")))
            .collect::<Result<_, _>>()?;
        let head = dense(spec.kind.latent_head())?;
        Ok(Self {
            hidden,
            head,
            input_len: spec.input_len(),
        })
    }

    /// Values per image going in.
    pub fn input_len(&self) -> usize {
        self.input_len
    }

    /// Values per image coming out: the latent size.
    pub fn latent_dim(&self) -> usize {
        self.head.output
    }

    /// Encodes `pixels` (`n × input_len` values; a partial last image is ignored) to µ,
    /// `n × latent_dim` values.
    pub fn encode(&self, pixels: &[f32]) -> Vec<f32> {
        let (input, latent) = (self.input_len.max(1), self.latent_dim());
        let n = pixels.len() / input;
        let mut means = Vec::with_capacity(n * latent);
        if latent == 0 {
            return means;
        }
        let mut hidden = vec![Vec::new(); self.hidden.len()];
        let mut mu = Vec::new();
        for images in pixels[..n * input].chunks(GROUP * input) {
            let rows = images.len() / input;
            let mut x = images;
            for (layer, y) in self.hidden.iter().zip(&mut hidden) {
                layer.forward_into(x, rows, true, y);
                x = y;
            }
            self.head.forward_into(x, rows, false, &mut mu);
            for row in mu.chunks_exact(self.head.stride) {
                means.extend_from_slice(&row[..latent]);
            }
        }
        means
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use candle_core::{Device, Tensor};

    use super::*;
    use crate::model::spec::{ModelKind, ModelSpec, OutputActivation};

    /// An MLP VAE with seeded random weights and the given hidden sizes.
    fn model(input: usize, hidden: &[usize], latent: usize) -> MlpVae {
        let spec = ModelSpec {
            kind: ModelKind::MlpVae,
            input_shape: [1, 1, input],
            hidden: hidden.to_vec(),
            channels: Vec::new(),
            latent_dim: latent,
            output_activation: OutputActivation::Sigmoid,
            dataset: "random".into(),
            class_names: Vec::new(),
            training: None,
        };
        let mut rng = crate::rng::Rng::new(7);
        let tensors: HashMap<String, Tensor> = spec
            .tensor_shapes()
            .into_iter()
            .map(|(name, shape)| {
                let len = shape.iter().product::<usize>();
                let values: Vec<f32> = (0..len).map(|_| rng.normal() * 0.2).collect();
                let tensor =
                    Tensor::from_vec(values, shape, &Device::Cpu).unwrap_or_else(|e| panic!("{e}"));
                (name, tensor)
            })
            .collect();
        MlpVae::from_tensors(spec, &tensors).unwrap_or_else(|e| panic!("{e}"))
    }

    fn candle_means(model: &MlpVae, pixels: &[f32], input: usize) -> Vec<f32> {
        let images = Tensor::from_slice(pixels, (pixels.len() / input, input), &Device::Cpu)
            .unwrap_or_else(|e| panic!("{e}"));
        let (mu, _) = model.encode(&images).unwrap_or_else(|e| panic!("{e}"));
        mu.flatten_all()
            .and_then(|t| t.to_vec1())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_fast_encoder_agrees_with_candle_on_sparse_images_and_odd_sizes() {
        // Sizes that are no multiple of any vector width (so every layer has padded outputs
        // and the next one padded inputs), an image count that leaves a short last group and
        // a short last register block, and inputs that are half zeros.
        let (input, latent) = (37, 5);
        let model = model(input, &[200, 19], latent);
        let mut rng = crate::rng::Rng::new(3);
        let n = GROUP + 11;
        let pixels: Vec<f32> = (0..n * input)
            .map(|_| match rng.uniform() < 0.5 {
                true => 0.0,
                false => rng.uniform(),
            })
            .collect();

        let fast = FastEncoder::from_model(&model).unwrap_or_else(|e| panic!("{e}"));
        let ours = fast.encode(&pixels);
        let theirs = candle_means(&model, &pixels, input);
        assert_eq!(ours.len(), n * latent);
        for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            assert!(
                (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                "value {i}: {a} vs {b}"
            );
        }
    }

    #[test]
    fn no_images_encode_to_no_means() {
        let model = model(8, &[4], 2);
        let fast = FastEncoder::from_model(&model).unwrap_or_else(|e| panic!("{e}"));
        assert!(fast.encode(&[]).is_empty());
        assert!(fast.encode(&[0.5; 7]).is_empty());
    }
}
