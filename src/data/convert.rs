//! Converting images to what a model takes: its size and its channels.

use super::ImageShape;

/// Converts one channel-major image (`[c, h, w]`, values in `[0, 1]`) of shape `from` to shape
/// `to`: colour to grey by luma (Rec. 601), grey to colour by repetition, smaller by averaging
/// each target pixel's area, larger by bilinear interpolation.
pub fn convert_image(values: &[f32], from: ImageShape, to: ImageShape) -> Vec<f32> {
    let grey_or_colour = convert_channels(values, from, to.channels);
    let mid = ImageShape {
        channels: to.channels,
        ..from
    };
    if (from.height, from.width) == (to.height, to.width) {
        return grey_or_colour;
    }
    let mut out = Vec::with_capacity(to.len());
    let plane = from.height * from.width;
    for channel in grey_or_colour.chunks_exact(plane.max(1)).take(mid.channels) {
        out.extend(resize_plane(
            channel,
            from.height,
            from.width,
            to.height,
            to.width,
        ));
    }
    out
}

/// What [`convert_image`] does between two shapes, in words for the UI; `None` when nothing.
pub fn describe_conversion(from: ImageShape, to: ImageShape) -> Option<String> {
    let channels = |c: usize| if c == 1 { "grey" } else { "RGB" };
    let mut steps = Vec::new();
    if from.channels != to.channels {
        steps.push(format!(
            "{} to {}",
            channels(from.channels),
            channels(to.channels)
        ));
    }
    if (from.height, from.width) != (to.height, to.width) {
        let how = if to.height * to.width < from.height * from.width {
            "area average"
        } else {
            "bilinear"
        };
        steps.push(format!(
            "{}×{} to {}×{} ({how})",
            from.width, from.height, to.width, to.height
        ));
    }
    (!steps.is_empty()).then(|| steps.join(", "))
}

fn convert_channels(values: &[f32], from: ImageShape, channels: usize) -> Vec<f32> {
    let plane = from.height * from.width;
    let at = |c: usize, i: usize| values.get(c * plane + i).copied().unwrap_or(0.0);
    match (from.channels, channels) {
        (a, b) if a == b => values.to_vec(),
        (_, 1) => (0..plane)
            .map(|i| 0.299 * at(0, i) + 0.587 * at(1, i) + 0.114 * at(2, i))
            .collect(),
        (1, c) => (0..c).flat_map(|_| (0..plane).map(|i| at(0, i))).collect(),
        (_, c) => (0..c)
            .flat_map(|ch| (0..plane).map(move |i| at(ch.min(2), i)))
            .collect(),
    }
}

fn resize_plane(src: &[f32], h: usize, w: usize, to_h: usize, to_w: usize) -> Vec<f32> {
    let mut out = vec![0.0; to_h * to_w];
    if to_h * to_w < h * w {
        // Each target pixel averages the source area it covers, with partial edge pixels weighted.
        let (sy, sx) = (h as f32 / to_h as f32, w as f32 / to_w as f32);
        for ty in 0..to_h {
            let (y0, y1) = (ty as f32 * sy, (ty + 1) as f32 * sy);
            for tx in 0..to_w {
                let (x0, x1) = (tx as f32 * sx, (tx + 1) as f32 * sx);
                let (mut sum, mut weight) = (0.0, 0.0);
                for y in y0.floor() as usize..(y1.ceil() as usize).min(h) {
                    let wy = (y1.min(y as f32 + 1.0) - y0.max(y as f32)).max(0.0);
                    for x in x0.floor() as usize..(x1.ceil() as usize).min(w) {
                        let wx = (x1.min(x as f32 + 1.0) - x0.max(x as f32)).max(0.0);
                        sum += src[y * w + x] * wx * wy;
                        weight += wx * wy;
                    }
                }
                out[ty * to_w + tx] = if weight > 0.0 { sum / weight } else { 0.0 };
            }
        }
    } else {
        let sample = |y: f32, x: f32| {
            let (y, x) = (y.clamp(0.0, (h - 1) as f32), x.clamp(0.0, (w - 1) as f32));
            let (y0, x0) = (y.floor() as usize, x.floor() as usize);
            let (y1, x1) = ((y0 + 1).min(h - 1), (x0 + 1).min(w - 1));
            let (fy, fx) = (y - y0 as f32, x - x0 as f32);
            let top = src[y0 * w + x0] * (1.0 - fx) + src[y0 * w + x1] * fx;
            let bottom = src[y1 * w + x0] * (1.0 - fx) + src[y1 * w + x1] * fx;
            top * (1.0 - fy) + bottom * fy
        };
        for ty in 0..to_h {
            for tx in 0..to_w {
                let y = (ty as f32 + 0.5) * h as f32 / to_h as f32 - 0.5;
                let x = (tx as f32 + 0.5) * w as f32 / to_w as f32 - 0.5;
                out[ty * to_w + tx] = sample(y, x);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(channels: usize, height: usize, width: usize) -> ImageShape {
        ImageShape {
            channels,
            height,
            width,
        }
    }

    #[test]
    fn halving_averages_each_two_by_two_block() {
        let src = [
            0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.5, 0.5, 1.0, 1.0, 0.5, 0.5, 1.0, 1.0,
        ];
        let out = convert_image(&src, shape(1, 4, 4), shape(1, 2, 2));
        assert_eq!(out, vec![0.75, 0.0, 0.5, 1.0]);
    }

    #[test]
    fn a_non_integer_ratio_keeps_the_mean() {
        let src: Vec<f32> = (0..64 * 64).map(|i| ((i * 7) % 13) as f32 / 12.0).collect();
        let out = convert_image(&src, shape(1, 64, 64), shape(1, 28, 28));
        let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
        assert_eq!(out.len(), 784);
        assert!((mean(&src) - mean(&out)).abs() < 0.01);
    }

    #[test]
    fn colour_becomes_grey_by_luma() {
        let red_then_white = [1.0, 1.0, 0.0, 1.0, 0.0, 1.0];
        let out = convert_image(&red_then_white, shape(3, 1, 2), shape(1, 1, 2));
        assert!((out[0] - 0.299).abs() < 1e-6 && (out[1] - 1.0).abs() < 1e-6);
    }

    #[test]
    fn the_conversion_is_described() {
        assert_eq!(
            describe_conversion(shape(3, 64, 64), shape(1, 28, 28)).as_deref(),
            Some("RGB to grey, 64×64 to 28×28 (area average)")
        );
        assert_eq!(
            describe_conversion(shape(1, 28, 28), shape(1, 28, 28)),
            None
        );
    }
}
