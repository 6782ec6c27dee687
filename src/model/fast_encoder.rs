//! A hand-written batch encoder for the fully connected models: the map's path.
//!
//! Encoding a dataset is a chain of `[n, input] × [input, output]` products. Here each layer's
//! weight is transposed (`[input, output]`, outputs padded to whole SIMD vectors) and packed
//! for the kernel of [`super::matmul`] once, when the encoder is built ([`PackedMatrix`]);
//! the kernel's register blocks skip an input that is zero in every image of the block (a
//! hidden unit is zero wherever its ReLU was off). Half of Fashion-MNIST's pixels are zero but
//! only 13 % are zero in eight images in a row, so each group of images is sorted by the size
//! of its non-zero part before the first layer, which raises that to 35 %. Images go through
//! every layer in groups of 2,048; only the µ head is computed, never log σ².
//!
//! With AVX2 only, candle's products are faster, so [`MlpVae::fast_encoder`] offers this
//! encoder only where [`beats_candle_here`] says so. The result equals candle's encode to within float
//! rounding (tested below).

use pulp::{Arch, Simd, WithSimd};
use rayon::prelude::*;

use super::matmul::{Finish, PackedMatrix};
use super::vae::{MlpVae, ModelError};

/// Images per group: each group is sorted, then goes through the layers as one product per
/// layer. Here 2,048 encoded about 4 % faster than 1,024 (fewer, larger products) and 4,096
/// 6 % slower (the hidden values no longer stay near the cores).
const GROUP: usize = 2048;

/// Outputs are padded to a multiple of this many floats, so that the kernel stores whole
/// vectors (it masks a partial one otherwise).
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

    /// `x · Wᵀ + b`, then ReLU when asked, for the rows of `x` (each as many values as the
    /// layer's padded input): those named in `order`, in that order, or else all `rows`. The
    /// result goes to `y`, whose allocation serves every group.
    fn forward_into(
        &self,
        x: &[f32],
        rows: usize,
        order: Option<&[u32]>,
        relu: bool,
        y: &mut Vec<f32>,
    ) {
        y.resize(rows * self.stride, 0.0);
        let finish = Some(Finish {
            bias: &self.bias,
            relu,
        });
        match order {
            Some(order) => self.weight_t.multiply_rows_then(x, order, y, finish),
            None => self.weight_t.multiply_then(x, rows, y, finish),
        }
    }
}

/// The encoder half of an [`MlpVae`] up to µ (or the code), as transposed plain arrays.
#[derive(Debug, Clone)]
pub struct FastEncoder {
    hidden: Vec<Dense>,
    head: Dense,
    input_len: usize,
    /// Values per row of an image (the input shape's last size), for [`support_keys`].
    image_width: usize,
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
/// 480,000 images/s with AVX-512 against candle's 190,000–230,000; built without pulp's
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
            image_width: spec.input_shape[2],
        })
    }

    /// Images per call of [`Self::encode`] when a caller reports progress between calls:
    /// whole groups, about 20 ms of work.
    pub const BATCH: usize = 4 * GROUP;

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
    ///
    /// Within each group the images go through the first layer sorted by the size of their
    /// non-zero part ([`support_keys`]), so that the images of a register block have their
    /// zeros in the same places and the kernel skips more of them: on Fashion-MNIST's test
    /// set, 35 % of a block's inputs instead of 13 %. The rows stay in that order through the
    /// later layers and go back to the images' own order with the means.
    pub fn encode(&self, pixels: &[f32]) -> Vec<f32> {
        let (input, latent) = (self.input_len.max(1), self.latent_dim());
        let n = pixels.len() / input;
        let mut means = vec![0.0; n * latent];
        if latent == 0 {
            return means;
        }
        // One entry into rayon's pool for the whole encode: the parallel steps inside then
        // start from a pool thread, rather than each waking the pool from this one.
        rayon::scope(|_| {
            let mut hidden = vec![Vec::new(); self.hidden.len()];
            let (mut mu, mut keys, mut order) = (Vec::new(), Vec::new(), Vec::new());
            let groups = pixels[..n * input].chunks(GROUP * input);
            for (images, means) in groups.zip(means.chunks_mut(GROUP * latent)) {
                let rows = images.len() / input;
                support_keys(images, input, self.image_width, &mut keys);
                order.clear();
                order.extend(0..rows as u32);
                order.sort_by_key(|&i| keys[i as usize]);

                let mut x = images;
                let mut layer_order = Some(&order[..]);
                for (layer, y) in self.hidden.iter().zip(&mut hidden) {
                    layer.forward_into(x, rows, layer_order.take(), true, y);
                    x = y;
                }
                self.head.forward_into(x, rows, layer_order, false, &mut mu);
                for (row, &image) in mu.chunks_exact(self.head.stride).zip(&order) {
                    let at = image as usize * latent;
                    means[at..at + latent].copy_from_slice(&row[..latent]);
                }
            }
        });
        means
    }
}

/// A sort key for each image of `images` (`image_len` values each, rows of `width`): the
/// width, then the height, of the smallest box holding its non-zero values, so that images
/// with similar keys tend to be zero in the same places. Written into `keys`.
fn support_keys(images: &[f32], image_len: usize, width: usize, keys: &mut Vec<u32>) {
    keys.clear();
    keys.resize(images.len() / image_len.max(1), 0);
    let width = width.clamp(1, image_len.max(1));
    let chunk = 64;
    let work = images
        .par_chunks(chunk * image_len)
        .zip(keys.par_chunks_mut(chunk));
    work.for_each(|(images, keys)| {
        Arch::new().dispatch(SupportKeys {
            images,
            image_len,
            width,
            keys,
        });
    });
}

/// [`support_keys`] for some images, compiled for the SIMD features found.
struct SupportKeys<'a> {
    images: &'a [f32],
    image_len: usize,
    width: usize,
    keys: &'a mut [u32],
}

impl WithSimd for SupportKeys<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) {
        let mut columns = vec![0u8; self.width];
        for (image, key) in self
            .images
            .chunks_exact(self.image_len)
            .zip(self.keys.iter_mut())
        {
            columns.fill(0);
            let (mut top, mut bottom) = (None, 0);
            for (r, row) in image.chunks_exact(self.width).enumerate() {
                let mut any = 0;
                for (column, &v) in columns.iter_mut().zip(row) {
                    let live = u8::from(v != 0.0);
                    *column |= live;
                    any |= live;
                }
                if any != 0 {
                    top.get_or_insert(r);
                    bottom = r;
                }
            }
            let left = columns.iter().position(|&c| c != 0);
            let right = columns.iter().rposition(|&c| c != 0);
            *key = match (left, right, top) {
                (Some(left), Some(right), Some(top)) => {
                    let (w, h) = (right - left + 1, bottom - top + 1);
                    (w.min(0xFFFF) << 16 | h.min(0xFFFF)) as u32
                }
                _ => 0,
            };
        }
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
        // Each image is zero outside a window of random width, so the encoder's sort by
        // support really reorders the images.
        let mut pixels = Vec::with_capacity(n * input);
        for _ in 0..n {
            let from = (rng.uniform() * input as f32) as usize;
            let to = from + ((rng.uniform() * (input - from) as f32) as usize);
            pixels.extend((0..input).map(|i| match (from..=to).contains(&i) {
                true if rng.uniform() < 0.8 => rng.uniform(),
                _ => 0.0,
            }));
        }

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
    fn an_images_key_is_the_width_then_the_height_of_its_non_zero_part() {
        // Two 3 × 4 images: one non-zero in rows 1..=2 and columns 1..=3, one all zero.
        #[rustfmt::skip]
        let images = [
            0.0, 0.0, 0.0, 0.0,
            0.0, 0.5, 0.0, 0.2,
            0.0, 0.0, 0.1, 0.0,

            0.0, 0.0, 0.0, 0.0,
            0.0, 0.0, 0.0, 0.0,
            0.0, 0.0, 0.0, 0.0,
        ];
        let mut keys = Vec::new();
        support_keys(&images, 12, 4, &mut keys);
        assert_eq!(keys, [3 << 16 | 2, 0]);
    }

    #[test]
    fn no_images_encode_to_no_means() {
        let model = model(8, &[4], 2);
        let fast = FastEncoder::from_model(&model).unwrap_or_else(|e| panic!("{e}"));
        assert!(fast.encode(&[]).is_empty());
        assert!(fast.encode(&[0.5; 7]).is_empty());
    }
}
