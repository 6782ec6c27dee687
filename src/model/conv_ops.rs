//! The two convolutions of the convolutional models (kernel 4, stride 2, padding 1), each as
//! one matrix product.
//!
//! candle's CPU `conv_transpose2d`, and the kernel gradient of its `conv2d` (a dilated
//! convolution whose kernel is the whole gradient map), run far from its fast matrix-product
//! path: the conv VAE trained at about 100 images/s with them. Slicing the taps out with
//! `narrow` was slower still (each slice's gradient is padded back to full size). Here one
//! custom operation, [`Patches`], gathers every output pixel's input patch into a row of a
//! matrix (im2col) and scatters gradients back (col2im) in one pass each; the rest is a large
//! matrix product, which candle differentiates itself.
//!
//! - **Convolution**, `[n, c, h, w]` → `[n, o, h/2, w/2]`: the 4×4 patches at stride 2 form
//!   `[n·h/2·w/2, c·16]`, multiplied by the weight `[o, c·16]` transposed.
//! - **Transposed convolution**, `[n, c, h, w]` → `[n, o, 2h, 2w]`: output pixel
//!   `(2y + a, 2x + b)` gathers input pixels `(y + dy, x + dx)` with `dy, dx ∈ {−1, 0, 1}`
//!   through kernel taps that depend on the phase `(a, b)`: along one axis, phase 0 takes
//!   `(dy = 0, k = 1)` and `(dy = −1, k = 3)`, phase 1 takes `(dy = 0, k = 2)` and
//!   `(dy = 1, k = 0)`. The 3×3 neighbourhoods stacked are `[n·h·w, c·9]`; the weight is
//!   rearranged once into `[c·9, o·4]` (zeros where a phase skips an offset), so one product
//!   gives all four phases, which are then interleaved.

use candle_core::{Result, Tensor};

/// A strided convolution: kernel 4, stride 2, padding 1. `x` is `[n, c, h, w]` with `h` and
/// `w` even, `weight` is `[o, c, 4, 4]`, `bias` `[o]`; the result is `[n, o, h/2, w/2]`.
pub fn conv4s2(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    let o = weight.dim(0)?;
    let (ho, wo) = (h / 2, w / 2);
    let cols = x.apply_op1(Patches::CONV)?; // [n·ho·wo, c·16]
    let matrix = weight.reshape((o, c * 16))?.t()?;
    let mut out = cols.matmul(&matrix)?; // [n·ho·wo, o]
    if let Some(bias) = bias {
        out = out.broadcast_add(bias)?;
    }
    out.reshape((n, ho, wo, o))?
        .permute((0, 3, 1, 2))?
        .contiguous()
}

/// For phase `p` (0 or 1) along one axis and neighbour offset index `s` (offset `s − 1`), the
/// kernel tap it uses, or `None` when that phase skips the offset.
fn tap(phase: usize, s: usize) -> Option<usize> {
    match (phase, s) {
        (0, 1) => Some(1),
        (0, 0) => Some(3),
        (1, 1) => Some(2),
        (1, 2) => Some(0),
        _ => None,
    }
}

/// A transposed convolution: kernel 4, stride 2, padding 1. `x` is `[n, c, h, w]`, `weight`
/// is `[c, o, 4, 4]` (PyTorch's `ConvTranspose2d` layout), `bias` `[o]`; the result is
/// `[n, o, 2h, 2w]`.
pub fn deconv4s2(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    let o = weight.dim(1)?;
    // The 3×3 neighbourhood of every input pixel: [n·h·w, c·9], offsets (sy, sx) row-major.
    let cols = x.apply_op1(Patches::NEIGHBOURHOOD)?;

    // The weight as [c·9, o·4]: entry (ci, s; co, phase) is the tap that phase applies to
    // offset s, or zero. Index 16 points at an appended zero column.
    let mut index = Vec::with_capacity(36);
    for sy in 0..3 {
        for sx in 0..3 {
            for a in 0..2 {
                for b in 0..2 {
                    let entry = match (tap(a, sy), tap(b, sx)) {
                        (Some(ky), Some(kx)) => ky * 4 + kx,
                        _ => 16,
                    };
                    index.push(entry as u32);
                }
            }
        }
    }
    let index = Tensor::from_vec(index, 36, weight.device())?;
    let flat = weight.reshape((c, o, 16))?;
    let zero = Tensor::zeros((c, o, 1), weight.dtype(), weight.device())?;
    let with_zero = Tensor::cat(&[&flat, &zero], 2)?;
    let matrix = with_zero
        .index_select(&index, 2)? // [c, o, 36] in (s, phase) order
        .reshape((c, o, 9, 4))?
        .permute((0, 2, 1, 3))? // [c, 9, o, 4]
        .reshape((c * 9, o * 4))?;

    let mut out = cols.matmul(&matrix)?; // [n·h·w, o·4]
    out = out
        .reshape((n, h, w, o, 2, 2))?
        .permute((0, 3, 1, 4, 2, 5))? // [n, o, h, a, w, b]
        .reshape((n, o, 2 * h, 2 * w))?;
    if let Some(bias) = bias {
        out = out.broadcast_add(&bias.reshape((1, o, 1, 1))?)?;
    }
    Ok(out)
}

/// The first block of a DCGAN generator: a transposed convolution from a 1×1 map to 4×4
/// (kernel 4, stride 1, no padding), which is one matrix product. `z` is `[n, c]`, `weight`
/// `[c, o, 4, 4]`; the result is `[n, o, 4, 4]`.
pub fn deconv_from_point(z: &Tensor, weight: &Tensor) -> Result<Tensor> {
    let (n, c) = z.dims2()?;
    let o = weight.dim(1)?;
    z.matmul(&weight.reshape((c, o * 16))?)?
        .reshape((n, o, 4, 4))
}

/// Gathers the `k × k` patch at stride `s`, padding `p` of every output position of an
/// `[n, c, h, w]` map into the rows of an `[n·ho·wo, c·k·k]` matrix (im2col); row
/// `(b, oy, ox)`, column `(ci, ky, kx)` holds `x[b, ci, s·oy + ky − p, s·ox + kx − p]`, zero
/// outside the map. Its gradient scatters back with [`PatchesAdjoint`].
#[derive(Debug, Clone, Copy)]
pub struct Patches {
    k: usize,
    s: usize,
    p: usize,
}

impl Patches {
    /// The strided convolution's 4×4 patches.
    pub const CONV: Self = Self { k: 4, s: 2, p: 1 };
    /// Every pixel's 3×3 neighbourhood.
    pub const NEIGHBOURHOOD: Self = Self { k: 3, s: 1, p: 1 };

    /// The output side for an input side `side`.
    fn out(self, side: usize) -> usize {
        (side + 2 * self.p).saturating_sub(self.k) / self.s + 1
    }

    /// For each (row within an image, column) of the patch matrix, the input offset within that
    /// image's `[c, h, w]` values, or `None` where the patch hangs over the edge.
    fn table(self, c: usize, h: usize, w: usize) -> Vec<Option<usize>> {
        let (ho, wo, kk) = (self.out(h), self.out(w), self.k * self.k);
        let mut table = Vec::with_capacity(ho * wo * c * kk);
        for oy in 0..ho {
            for ox in 0..wo {
                for ci in 0..c {
                    for ky in 0..self.k {
                        for kx in 0..self.k {
                            let y = (self.s * oy + ky).checked_sub(self.p).filter(|&y| y < h);
                            let x = (self.s * ox + kx).checked_sub(self.p).filter(|&x| x < w);
                            table.push(match (y, x) {
                                (Some(y), Some(x)) => Some((ci * h + y) * w + x),
                                _ => None,
                            });
                        }
                    }
                }
            }
        }
        table
    }
}

/// The contiguous `f32` values of a CPU tensor argument, or an error naming the op.
fn contiguous_f32<'a>(
    name: &str,
    storage: &'a candle_core::CpuStorage,
    layout: &candle_core::Layout,
) -> Result<&'a [f32]> {
    let candle_core::CpuStorage::F32(values) = storage else {
        return Err(candle_core::Error::Msg(format!("{name} takes f32 tensors")));
    };
    let Some((start, end)) = layout.contiguous_offsets() else {
        return Err(candle_core::Error::Msg(format!(
            "{name} takes contiguous tensors"
        )));
    };
    values
        .get(start..end)
        .ok_or_else(|| candle_core::Error::Msg(format!("{name}: storage shorter than its layout")))
}

impl candle_core::CustomOp1 for Patches {
    fn name(&self) -> &'static str {
        "patches"
    }

    fn cpu_fwd(
        &self,
        storage: &candle_core::CpuStorage,
        layout: &candle_core::Layout,
    ) -> Result<(candle_core::CpuStorage, candle_core::Shape)> {
        use rayon::prelude::*;
        let x = contiguous_f32(self.name(), storage, layout)?;
        let (n, c, h, w) = layout.shape().dims4()?;
        let (ho, wo) = (self.out(h), self.out(w));
        let table = self.table(c, h, w);
        let per_image = table.len();
        let mut out = vec![0f32; n * per_image];
        out.par_chunks_mut(per_image.max(1))
            .zip(x.par_chunks(c * h * w).take(n))
            .for_each(|(rows, image)| {
                for (slot, source) in rows.iter_mut().zip(&table) {
                    if let Some(i) = source {
                        *slot = image.get(*i).copied().unwrap_or(0.0);
                    }
                }
            });
        let shape = candle_core::Shape::from((n * ho * wo, c * self.k * self.k));
        Ok((candle_core::CpuStorage::F32(out), shape))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> Result<Option<Tensor>> {
        let (n, c, h, w) = arg.dims4()?;
        let adjoint = PatchesAdjoint {
            patches: *self,
            shape: [n, c, h, w],
        };
        Ok(Some(grad_res.contiguous()?.apply_op1_no_bwd(&adjoint)?))
    }
}

/// The transpose of [`Patches`] (col2im): adds each patch-matrix entry back into the input
/// position it came from, giving an `[n, c, h, w]` map.
#[derive(Debug, Clone, Copy)]
struct PatchesAdjoint {
    patches: Patches,
    shape: [usize; 4],
}

impl candle_core::CustomOp1 for PatchesAdjoint {
    fn name(&self) -> &'static str {
        "patches-adjoint"
    }

    fn cpu_fwd(
        &self,
        storage: &candle_core::CpuStorage,
        layout: &candle_core::Layout,
    ) -> Result<(candle_core::CpuStorage, candle_core::Shape)> {
        use rayon::prelude::*;
        let cols = contiguous_f32(self.name(), storage, layout)?;
        let [n, c, h, w] = self.shape;
        let table = self.patches.table(c, h, w);
        let per_image = table.len();
        let mut out = vec![0f32; n * c * h * w];
        out.par_chunks_mut((c * h * w).max(1))
            .zip(cols.par_chunks(per_image.max(1)))
            .for_each(|(image, rows)| {
                for (value, source) in rows.iter().zip(&table) {
                    if let Some(slot) = source.and_then(|i| image.get_mut(i)) {
                        *slot += value;
                    }
                }
            });
        Ok((
            candle_core::CpuStorage::F32(out),
            candle_core::Shape::from(&self.shape),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    fn random(shape: &[usize], seed: u64) -> Tensor {
        let mut rng = crate::rng::Rng::new(seed);
        let count: usize = shape.iter().product();
        let values: Vec<f32> = (0..count).map(|_| rng.normal()).collect();
        Tensor::from_vec(values, shape, &Device::Cpu).unwrap_or_else(|e| panic!("{e}"))
    }

    fn largest_difference(a: &Tensor, b: &Tensor) -> f32 {
        assert_eq!(a.dims(), b.dims());
        (a - b)
            .and_then(|d| d.abs())
            .and_then(|d| d.flatten_all())
            .and_then(|d| d.max(0))
            .and_then(|d| d.to_dtype(DType::F32))
            .and_then(|d| d.to_scalar::<f32>())
            .unwrap_or(f32::INFINITY)
    }

    #[test]
    fn the_strided_convolution_equals_candles() {
        let x = random(&[3, 5, 8, 6], 1);
        let weight = random(&[7, 5, 4, 4], 2);
        let bias = random(&[7], 3);
        let ours = conv4s2(&x, &weight, Some(&bias)).unwrap_or_else(|e| panic!("{e}"));
        let theirs = x
            .conv2d(&weight, 1, 2, 1, 1)
            .and_then(|t| t.broadcast_add(&bias.reshape((1, 7, 1, 1))?))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(largest_difference(&ours, &theirs) < 1e-4);
    }

    #[test]
    fn the_transposed_convolution_equals_candles() {
        let x = random(&[2, 6, 5, 7], 4);
        let weight = random(&[6, 3, 4, 4], 5);
        let bias = random(&[3], 6);
        let ours = deconv4s2(&x, &weight, Some(&bias)).unwrap_or_else(|e| panic!("{e}"));
        let theirs = x
            .conv_transpose2d(&weight, 1, 0, 2, 1)
            .and_then(|t| t.broadcast_add(&bias.reshape((1, 3, 1, 1))?))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(largest_difference(&ours, &theirs) < 1e-4);
    }

    #[test]
    fn a_transposed_convolution_from_a_point_equals_candles() {
        let z = random(&[3, 5], 7);
        let weight = random(&[5, 4, 4, 4], 8);
        let ours = deconv_from_point(&z, &weight).unwrap_or_else(|e| panic!("{e}"));
        let theirs = z
            .reshape((3, 5, 1, 1))
            .and_then(|z| z.conv_transpose2d(&weight, 0, 0, 1, 1))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(largest_difference(&ours, &theirs) < 1e-4);
    }

    #[test]
    fn gradients_flow_through_both_convolutions_as_through_candles() {
        let x = random(&[2, 3, 8, 8], 9);
        let w1 = candle_core::Var::from_tensor(&random(&[4, 3, 4, 4], 10))
            .unwrap_or_else(|e| panic!("{e}"));
        let w2 = candle_core::Var::from_tensor(&random(&[4, 3, 4, 4], 11))
            .unwrap_or_else(|e| panic!("{e}"));
        let ours = conv4s2(&x, &w1, None)
            .and_then(|h| deconv4s2(&h, &w2, None))
            .and_then(|y| y.sqr()?.sum_all())
            .unwrap_or_else(|e| panic!("{e}"));
        let theirs = x
            .conv2d(&w1, 1, 2, 1, 1)
            .and_then(|h| h.conv_transpose2d(&w2, 1, 0, 2, 1))
            .and_then(|y| y.sqr()?.sum_all())
            .unwrap_or_else(|e| panic!("{e}"));
        let g_ours = ours.backward().unwrap_or_else(|e| panic!("{e}"));
        let g_theirs = theirs.backward().unwrap_or_else(|e| panic!("{e}"));
        for var in [&w1, &w2] {
            let a = g_ours
                .get(var.as_tensor())
                .unwrap_or_else(|| panic!("no gradient"));
            let b = g_theirs
                .get(var.as_tensor())
                .unwrap_or_else(|| panic!("no gradient"));
            let scale = b
                .abs()
                .and_then(|t| t.max_all())
                .and_then(|t| t.to_scalar::<f32>())
                .unwrap_or(1.0);
            assert!(largest_difference(a, b) < 1e-4 * scale.max(1.0));
        }
    }
}
