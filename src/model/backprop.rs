//! The training loss of the MLP VAE and its gradient, written out by hand on plain arrays.
//!
//! candle's autograd spent three times as long on the backward pass as on the forward pass
//! for the 784 → 400 → 20 VAE at batch 128 (9.1 ms against 3.2 ms), mostly in bookkeeping
//! and in copies of transposed operands; candle's own products, with a fresh tensor for every
//! operation, then still left us at half of PyTorch's speed. The gradient of this network is
//! short enough to write down, and here it runs on `Vec<f32>` with [`PackedMatrix`]:
//!
//! - activations and their gradients are kept feature-major (`[features, n]`), so every
//!   forward product is `W · Xᵀ` with the weight as stored (`[out, in]`), every input gradient
//!   is `Wᵀ · Gᵀ` with the weight handed to the kernel as the transpose it already is, and
//!   every weight gradient is `Gᵀ · X`. What is copied: the images and the noise transposed
//!   to feature-major, every layer's input but the first transposed back to row-major for its
//!   weight gradient (the images are already row-major), and each product's right operand
//!   packed for the kernel;
//! - µ and log σ² are one product (their weights and biases copied into one stacked layer
//!   each step, and its weight gradient copied back out to theirs), and the first layer's
//!   input gradient is never formed;
//! - the output layer's bias, the loss, its gradient with respect to the logits and that
//!   bias's gradient come out of one pass, and each ReLU's mask and its layer's bias gradient
//!   out of another, both compiled for the widest SIMD pulp finds;
//! - every buffer lives in [`Backprop`] and is reused from one batch to the next.
//!
//! Notation (batch of `n` images): `a_0 = x`, `a_{i+1} = relu(a_i W_iᵀ + b_i)` through the
//! encoder, `h = a_L`; `µ = h W_µᵀ + b_µ`, `s = h W_sᵀ + b_s` (log σ²); `z = µ + ε·exp(s/2)`;
//! the decoder mirrors the encoder and ends in logits `l`. The loss is
//! `(1/n) Σ_images [Σ_pixels BCE(x, sigmoid(l)) + β·KL]`, so `∂/∂l = (sigmoid(l) − x)/n`,
//! `∂KL/∂µ = µ` and `∂KL/∂s = (exp(s) − 1)/2`.

use pulp::{Arch, Simd, WithSimd};

use super::fast_math::{exp_non_positive, flush_subnormal, ln_1p_unit, sum_lanes};
use super::matmul::{PackedMatrix, transpose_into};
use super::spec::ModelSpec;

/// What one batch's step measured.
#[derive(Debug, Clone, Copy)]
pub struct BatchLoss {
    /// Sum over the batch of each image's loss (reconstruction + β·KL).
    pub loss_sum: f64,
    /// Sum over the batch of each image's KL.
    pub kl_sum: f64,
}

/// Index of each layer's weight among the parameters (its bias follows it).
#[derive(Debug, Clone, Copy, Default)]
struct Layout {
    hidden: usize,
}

impl Layout {
    fn encoder(&self, i: usize) -> usize {
        2 * i
    }
    fn mu(&self) -> usize {
        2 * self.hidden
    }
    fn logvar(&self) -> usize {
        2 * self.hidden + 2
    }
    fn decoder(&self, i: usize) -> usize {
        2 * self.hidden + 4 + 2 * i
    }
    fn out(&self) -> usize {
        4 * self.hidden + 4
    }
}

/// One fully connected layer: weight `[out, input]`, bias `[out]`.
#[derive(Clone, Copy)]
struct Linear<'a> {
    weight: &'a [f32],
    bias: &'a [f32],
    out: usize,
    input: usize,
}

impl<'a> Linear<'a> {
    fn new(weight: &'a [f32], bias: &'a [f32]) -> Self {
        let out = bias.len();
        Self {
            weight,
            bias,
            out,
            input: weight.len().checked_div(out).unwrap_or(0),
        }
    }

    fn at(params: &'a [Vec<f32>], k: usize) -> Self {
        Self::new(&params[k], &params[k + 1])
    }

    /// `y_t = W · x_t` for feature-major `x_t` (`[input, n]`), feature-major out; the bias
    /// (and ReLU when asked) added unless `bias` is false.
    fn forward(
        &self,
        packed: &mut PackedMatrix,
        x_t: &[f32],
        n: usize,
        y_t: &mut Vec<f32>,
        bias: bool,
        relu: bool,
    ) {
        packed.pack(x_t, self.input, n);
        let y_t = sized(y_t, self.out * n);
        packed.multiply(self.weight, self.out, y_t);
        if bias {
            add_to_rows(y_t, self.bias, relu);
        }
    }

    /// `∂/∂W = g_t · x` into `grad` for the feature-major gradient `g_t` (`[out, n]`) and the
    /// layer's row-major input `x` (`[n, input]`).
    fn weight_grad(
        &self,
        packed: &mut PackedMatrix,
        g_t: &[f32],
        x: &[f32],
        n: usize,
        grad: &mut [f32],
    ) {
        packed.pack(x, n, self.input);
        packed.multiply(g_t, self.out, grad);
    }

    /// The feature-major gradient with respect to the input, `Wᵀ · g_t` (`[input, n]`).
    fn input_grad(&self, packed: &mut PackedMatrix, g_t: &[f32], n: usize, x_t: &mut Vec<f32>) {
        packed.pack(g_t, self.out, n);
        let x_t = sized(x_t, self.input * n);
        packed.multiply_transposed(self.weight, self.input, x_t);
    }
}

/// `buffer` as a slice of `len` values, grown when it is shorter (its values are whatever was
/// there; every caller overwrites them).
fn sized(buffer: &mut Vec<f32>, len: usize) -> &mut [f32] {
    if buffer.len() < len {
        buffer.resize(len, 0.0);
    }
    &mut buffer[..len]
}

/// Adds `bias[r]` to every value of row `r` of `rows` (as many rows as `bias` has values),
/// then sets negative values to zero when `relu` is set.
fn add_to_rows(rows: &mut [f32], bias: &[f32], relu: bool) {
    let width = rows.len() / bias.len().max(1);
    if width > 0 {
        Arch::new().dispatch(AddToRows {
            rows,
            bias,
            relu,
            width,
        });
    }
}

/// [`add_to_rows`]'s loop, as a `WithSimd` so that it is compiled for the features found.
struct AddToRows<'a> {
    rows: &'a mut [f32],
    bias: &'a [f32],
    relu: bool,
    width: usize,
}

impl WithSimd for AddToRows<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, _: S) {
        for (row, &b) in self.rows.chunks_exact_mut(self.width).zip(self.bias) {
            match self.relu {
                true => row.iter_mut().for_each(|v| *v = (*v + b).max(0.0)),
                false => row.iter_mut().for_each(|v| *v += b),
            }
        }
    }
}

/// Zeroes `g_t` where the ReLU's output `activation_t` (same layout) was zero, and stores
/// each row's sum (the bias's gradient) in `bias_grad`.
fn through_relu(g_t: &mut [f32], activation_t: &[f32], bias_grad: &mut [f32]) {
    let width = g_t.len() / bias_grad.len().max(1);
    if width == 0 {
        bias_grad.fill(0.0);
        return;
    }
    Arch::new().dispatch(ThroughRelu {
        g_t,
        activation_t,
        bias_grad,
        width,
    });
}

/// [`through_relu`]'s loop, compiled for the features found.
struct ThroughRelu<'a> {
    g_t: &'a mut [f32],
    activation_t: &'a [f32],
    bias_grad: &'a mut [f32],
    width: usize,
}

impl WithSimd for ThroughRelu<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, _: S) {
        let width = self.width;
        let rows = self
            .g_t
            .chunks_exact_mut(width)
            .zip(self.activation_t.chunks_exact(width));
        for ((g, a), sum) in rows.zip(self.bias_grad.iter_mut()) {
            for (g, &a) in g.iter_mut().zip(a) {
                *g = if a > 0.0 { *g } else { 0.0 };
            }
            *sum = sum_lanes(g) as f32;
        }
    }
}

/// The output layer's last step and the reconstruction term, for feature-major logits
/// without their bias (`[pixels, n]`) and images `x_t` (same layout): writes `∂loss/∂logits`
/// into `grad_t` and its row sums (the bias's gradient) into `bias_grad`; returns the sum of
/// the binary cross-entropies.
fn reconstruction(
    logits_t: &[f32],
    x_t: &[f32],
    bias: &[f32],
    scale: f32,
    grad_t: &mut [f32],
    bias_grad: &mut [f32],
) -> f64 {
    let n = logits_t.len() / bias.len().max(1);
    if n == 0 {
        bias_grad.fill(0.0);
        return 0.0;
    }
    // Two halves of the pixels on two threads.
    let whole = ReconstructionRows {
        logits_t,
        x_t,
        bias,
        scale,
        grad_t,
        bias_grad,
        n,
    };
    let (a, b) = whole.split(bias.len() / 2);
    let arch = Arch::new();
    let (a, b) = rayon::join(|| arch.dispatch(a), || arch.dispatch(b));
    a + b
}

/// Values summed side by side in [`ReconstructionRows`]: one AVX-512 register of `f32`.
const LANES: usize = 16;

/// [`reconstruction`] over a band of pixel rows, compiled for the features found.
struct ReconstructionRows<'a> {
    logits_t: &'a [f32],
    x_t: &'a [f32],
    bias: &'a [f32],
    scale: f32,
    grad_t: &'a mut [f32],
    bias_grad: &'a mut [f32],
    n: usize,
}

impl ReconstructionRows<'_> {
    /// The first `rows` pixel rows, and the rest.
    fn split(self, rows: usize) -> (Self, Self) {
        let at = rows * self.n;
        let (logits_a, logits_b) = self.logits_t.split_at(at);
        let (x_a, x_b) = self.x_t.split_at(at);
        let (grad_a, grad_b) = self.grad_t.split_at_mut(at);
        let (bias_a, bias_b) = self.bias.split_at(rows);
        let (sums_a, sums_b) = self.bias_grad.split_at_mut(rows);
        let (scale, n) = (self.scale, self.n);
        (
            ReconstructionRows {
                logits_t: logits_a,
                x_t: x_a,
                bias: bias_a,
                scale,
                grad_t: grad_a,
                bias_grad: sums_a,
                n,
            },
            ReconstructionRows {
                logits_t: logits_b,
                x_t: x_b,
                bias: bias_b,
                scale,
                grad_t: grad_b,
                bias_grad: sums_b,
                n,
            },
        )
    }
}

impl WithSimd for ReconstructionRows<'_> {
    type Output = f64;

    #[inline(always)]
    fn with_simd<S: Simd>(self, _: S) -> f64 {
        let Self {
            logits_t,
            x_t,
            bias,
            scale,
            grad_t,
            bias_grad,
            n,
        } = self;
        let mut total = 0.0;
        let inputs = logits_t.chunks_exact(n).zip(x_t.chunks_exact(n)).zip(bias);
        let outputs = grad_t.chunks_exact_mut(n).zip(bias_grad.iter_mut());
        for (((logits, x), &b), (grad, grad_sum)) in inputs.zip(outputs) {
            // Fixed-size blocks with a running sum per lane, so the loop body is one vector.
            let (mut loss_lanes, mut grad_lanes) = ([0.0f32; LANES], [0.0f32; LANES]);
            let (logit_blocks, logit_rest) = logits.as_chunks::<LANES>();
            let (x_blocks, x_rest) = x.as_chunks::<LANES>();
            let (grad_blocks, grad_rest) = grad.as_chunks_mut::<LANES>();
            for ((l, x), g) in logit_blocks.iter().zip(x_blocks).zip(grad_blocks) {
                let sums = loss_lanes.iter_mut().zip(grad_lanes.iter_mut());
                for (((&l, &x), g), (loss_sum, grad_sum)) in l.iter().zip(x).zip(g).zip(sums) {
                    let (loss, grad) = cross_entropy(l + b, x, scale);
                    *g = grad;
                    *loss_sum += loss;
                    *grad_sum += grad;
                }
            }
            let (mut loss_tail, mut grad_tail) = (0.0f32, 0.0f32);
            for ((&l, &x), g) in logit_rest.iter().zip(x_rest).zip(grad_rest) {
                let (loss, grad) = cross_entropy(l + b, x, scale);
                *g = grad;
                loss_tail += loss;
                grad_tail += grad;
            }
            total += loss_lanes.iter().map(|&v| f64::from(v)).sum::<f64>() + f64::from(loss_tail);
            *grad_sum = grad_lanes.iter().sum::<f32>() + grad_tail;
        }
        total
    }
}

/// `BCE(x, σ(l)) = max(l, 0) − x·l + ln(1 + e^−|l|)` and its derivative `(σ(l) − x)`, times
/// `scale` (0 where that is subnormal: see [`flush_subnormal`]), without a branch.
#[inline(always)]
fn cross_entropy(l: f32, x: f32, scale: f32) -> (f32, f32) {
    let e = exp_non_positive(-l.abs());
    let loss = l.max(0.0) - x * l + ln_1p_unit(e);
    let sigmoid = if l >= 0.0 { 1.0 } else { e } / (1.0 + e);
    (loss, flush_subnormal((sigmoid - x) * scale))
}

/// The training step of one MLP VAE: its buffers, kept from one batch to the next, and the
/// gradients of the last batch.
#[derive(Default)]
pub struct Backprop {
    layout: Layout,
    input_len: usize,
    latent: usize,
    /// The images transposed, then each encoder layer's output (feature-major).
    encoder: Vec<Vec<f32>>,
    /// µ and log σ²'s weights and biases stacked (`[2·latent, width]`), and their outputs.
    head_weight: Vec<f32>,
    head_bias: Vec<f32>,
    head_t: Vec<f32>,
    noise_t: Vec<f32>,
    std_t: Vec<f32>,
    /// z, then each decoder layer's output (feature-major).
    decoder: Vec<Vec<f32>>,
    logits_t: Vec<f32>,
    /// The gradient being passed back (feature-major), and where the next one is written.
    grad_t: Vec<f32>,
    next_t: Vec<f32>,
    head_grad_t: Vec<f32>,
    head_weight_grad: Vec<f32>,
    /// An activation transposed to row-major, for a weight gradient.
    row_major: Vec<f32>,
    packed: PackedMatrix,
    /// One gradient per parameter, in [`ModelSpec::tensor_shapes`] order, flattened.
    grads: Vec<Vec<f32>>,
}

impl Backprop {
    /// Buffers for an MLP VAE of this shape (they grow to the batch on the first step).
    pub fn new(spec: &ModelSpec) -> Self {
        let grads = spec
            .tensor_shapes()
            .iter()
            .map(|(_, shape)| vec![0.0; shape.iter().product()])
            .collect();
        Self {
            layout: Layout {
                hidden: spec.hidden.len(),
            },
            input_len: spec.input_len(),
            latent: spec.latent_dim,
            grads,
            ..Self::default()
        }
    }

    /// The gradient of the last step's loss (averaged over its batch) with respect to each
    /// parameter, in [`ModelSpec::tensor_shapes`] order, flattened.
    pub fn gradients(&self) -> &[Vec<f32>] {
        &self.grads
    }

    /// Loss and gradients of `params` (plain values in [`ModelSpec::tensor_shapes`] order)
    /// on the `n` images `pixels` (`[n, input_len]`, values in `[0, 1]`) with the
    /// reparameterisation noise `noise` (`[n, latent_dim]`); the gradients are then in
    /// [`Self::gradients`].
    pub fn step(
        &mut self,
        params: &[Vec<f32>],
        pixels: &[f32],
        noise: &[f32],
        beta: f64,
    ) -> BatchLoss {
        let Self {
            layout,
            input_len,
            latent,
            encoder,
            head_weight,
            head_bias,
            head_t,
            noise_t,
            std_t,
            decoder,
            logits_t,
            grad_t,
            next_t,
            head_grad_t,
            head_weight_grad,
            row_major,
            packed,
            grads,
        } = self;
        let (layout, input_len, latent) = (*layout, *input_len, *latent);
        let hidden = layout.hidden;
        let n = pixels.len() / input_len.max(1);
        if n == 0 {
            grads.iter_mut().for_each(|g| g.fill(0.0));
            return BatchLoss {
                loss_sum: 0.0,
                kl_sum: 0.0,
            };
        }
        let (pixels, noise) = (&pixels[..n * input_len], &noise[..n * latent]);
        let scale = 1.0 / n as f32;

        // Forward, feature-major, keeping every activation.
        encoder.resize_with(hidden + 1, Vec::new);
        transpose_into(pixels, n, input_len, sized(&mut encoder[0], input_len * n));
        for i in 0..hidden {
            let (done, rest) = encoder.split_at_mut(i + 1);
            let layer = Linear::at(params, layout.encoder(i));
            layer.forward(packed, &done[i], n, &mut rest[0], true, true);
        }
        let h_t = &encoder[hidden];
        let (mu, logvar) = (
            Linear::at(params, layout.mu()),
            Linear::at(params, layout.logvar()),
        );
        head_weight.clear();
        head_weight.extend_from_slice(mu.weight);
        head_weight.extend_from_slice(logvar.weight);
        head_bias.clear();
        head_bias.extend_from_slice(mu.bias);
        head_bias.extend_from_slice(logvar.bias);
        let head = Linear::new(head_weight, head_bias);
        head.forward(packed, h_t, n, head_t, true, false);
        let (mu_t, logvar_t) = head_t[..2 * latent * n].split_at(latent * n);
        transpose_into(noise, n, latent, sized(noise_t, latent * n));
        let std_t = sized(std_t, latent * n);
        for (sd, s) in std_t.iter_mut().zip(logvar_t) {
            *sd = (0.5 * s).exp();
        }
        decoder.resize_with(hidden + 1, Vec::new);
        let z_t = sized(&mut decoder[0], latent * n);
        for (((z, m), e), sd) in z_t.iter_mut().zip(mu_t).zip(&noise_t[..]).zip(&std_t[..]) {
            *z = m + e * sd;
        }
        for i in 0..hidden {
            let (done, rest) = decoder.split_at_mut(i + 1);
            let layer = Linear::at(params, layout.decoder(i));
            layer.forward(packed, &done[i], n, &mut rest[0], true, true);
        }
        let out = Linear::at(params, layout.out());
        out.forward(packed, &decoder[hidden], n, logits_t, false, false);

        // The loss, and its gradient with respect to the logits and the output bias.
        let (out_weight_grad, out_bias_grad) = grads[layout.out()..].split_at_mut(1);
        let reconstruction_sum = reconstruction(
            &logits_t[..input_len * n],
            &encoder[0][..input_len * n],
            out.bias,
            scale,
            sized(grad_t, input_len * n),
            &mut out_bias_grad[0],
        );
        let kl_sum: f64 = mu_t
            .iter()
            .zip(logvar_t)
            .map(|(&m, &s)| -0.5 * f64::from(1.0 + s - m * m - s.exp()))
            .sum();

        // Backward through the decoder.
        let last = &decoder[hidden];
        transpose_into(last, out.input, n, sized(row_major, n * out.input));
        out.weight_grad(packed, grad_t, row_major, n, &mut out_weight_grad[0]);
        out.input_grad(packed, grad_t, n, next_t);
        std::mem::swap(grad_t, next_t);
        for i in (0..hidden).rev() {
            let k = layout.decoder(i);
            let layer = Linear::at(params, k);
            let (weight_grad, bias_grad) = grads[k..].split_at_mut(1);
            let g_t = &mut grad_t[..layer.out * n];
            through_relu(g_t, &decoder[i + 1], &mut bias_grad[0]);
            transpose_into(
                &decoder[i],
                layer.input,
                n,
                sized(row_major, n * layer.input),
            );
            layer.weight_grad(packed, g_t, row_major, n, &mut weight_grad[0]);
            layer.input_grad(packed, g_t, n, next_t);
            std::mem::swap(grad_t, next_t);
        }

        // Through the sampling step and the KL term to µ and log σ² (feature-major).
        let kl_scale = (beta * f64::from(scale)) as f32;
        let grad_z_t = &grad_t[..latent * n];
        let (grad_mu_t, grad_logvar_t) =
            sized(head_grad_t, 2 * latent * n).split_at_mut(latent * n);
        for ((g, z), m) in grad_mu_t.iter_mut().zip(grad_z_t).zip(mu_t) {
            *g = z + m * kl_scale;
        }
        let sampling = grad_z_t
            .iter()
            .zip(&noise_t[..])
            .zip(&std_t[..])
            .zip(logvar_t);
        for (g, (((z, e), sd), s)) in grad_logvar_t.iter_mut().zip(sampling) {
            *g = z * e * sd * 0.5 + (s.exp() - 1.0) * (0.5 * kl_scale);
        }
        for (k, rows) in [
            (layout.mu(), &grad_mu_t[..]),
            (layout.logvar(), &grad_logvar_t[..]),
        ] {
            for (sum, row) in grads[k + 1].iter_mut().zip(rows.chunks_exact(n)) {
                *sum = sum_lanes(row) as f32;
            }
        }
        let head_grad_t = &head_grad_t[..2 * latent * n];
        transpose_into(h_t, head.input, n, sized(row_major, n * head.input));
        let weight_grad = sized(head_weight_grad, head.out * head.input);
        head.weight_grad(packed, head_grad_t, row_major, n, weight_grad);
        let (mu_grad, logvar_grad) = weight_grad.split_at(latent * head.input);
        grads[layout.mu()].copy_from_slice(mu_grad);
        grads[layout.logvar()].copy_from_slice(logvar_grad);

        // Backward through the encoder; the input's own gradient is never needed.
        if hidden > 0 {
            head.input_grad(packed, head_grad_t, n, grad_t);
        }
        for i in (0..hidden).rev() {
            let k = layout.encoder(i);
            let layer = Linear::at(params, k);
            let (weight_grad, bias_grad) = grads[k..].split_at_mut(1);
            let g_t = &mut grad_t[..layer.out * n];
            through_relu(g_t, &encoder[i + 1], &mut bias_grad[0]);
            let input = match i {
                0 => pixels,
                _ => {
                    transpose_into(
                        &encoder[i],
                        layer.input,
                        n,
                        sized(row_major, n * layer.input),
                    );
                    &row_major[..n * layer.input]
                }
            };
            layer.weight_grad(packed, g_t, input, n, &mut weight_grad[0]);
            if i > 0 {
                layer.input_grad(packed, g_t, n, next_t);
                std::mem::swap(grad_t, next_t);
            }
        }

        BatchLoss {
            loss_sum: reconstruction_sum + beta * kl_sum,
            kl_sum,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_logits_gradient_is_zero_or_normal_where_the_sigmoid_underflows() {
        // A background pixel (x = 0) whose logit has drifted far below zero: σ(l)/n passes
        // through the subnormal range between about −82 and −88.
        for k in 0..=3000 {
            let l = -75.0 - k as f32 * 0.01;
            let (loss, grad) = cross_entropy(l, 0.0, 1.0 / 128.0);
            assert!(
                grad == 0.0 || grad.is_normal(),
                "l = {l}: gradient {grad:e}"
            );
            assert!(loss == 0.0 || loss.is_normal(), "l = {l}: loss {loss:e}");
        }
        // Nothing else changes: at l = −10 the gradient is σ(l)/n.
        let (_, grad) = cross_entropy(-10.0, 0.0, 1.0 / 128.0);
        let expected = 1.0 / (1.0 + 10.0f32.exp()) / 128.0;
        assert!(
            (grad - expected).abs() <= 1e-6 * expected,
            "{grad} vs {expected}"
        );
    }
}
