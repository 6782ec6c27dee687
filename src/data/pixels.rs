//! Turning model outputs and dataset images (`f32`, channel-major, nominally in `[0, 1]`) into
//! 8-bit RGB pixels for screens and PNG files.

/// The shape of one image: `channels × height × width`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageShape {
    /// Colour channels: 1 (grey) or 3 (RGB).
    pub channels: usize,
    /// Height in pixels.
    pub height: usize,
    /// Width in pixels.
    pub width: usize,
}

impl ImageShape {
    /// Number of values in one image.
    pub fn len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// True when the image holds no value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One value in `[0, 1]` to a byte; NaN becomes 0 so a broken output shows as black, not noise.
fn to_byte(value: f32) -> u8 {
    if value.is_nan() {
        0
    } else {
        (value.clamp(0.0, 1.0) * 255.0).round() as u8
    }
}

/// Channel-major values (`[c, h, w]`) to interleaved RGB bytes (`[h, w, 3]`). Grey images are
/// repeated into the three channels; missing values (a short slice) read as 0.
pub fn to_rgb8(values: &[f32], shape: ImageShape) -> Vec<u8> {
    let plane = shape.height * shape.width;
    let at = |channel: usize, pixel: usize| {
        values
            .get(channel * plane + pixel)
            .copied()
            .map_or(0, to_byte)
    };

    let mut rgb = Vec::with_capacity(plane * 3);
    for pixel in 0..plane {
        if shape.channels >= 3 {
            rgb.extend([at(0, pixel), at(1, pixel), at(2, pixel)]);
        } else {
            let grey = at(0, pixel);
            rgb.extend([grey, grey, grey]);
        }
    }
    rgb
}

/// The image's complexity: the length, in nats, of its 8-bit pixels compressed by deflate at
/// the highest level. Simple images (a few flat regions) compress well; noise does not.
pub fn complexity_nats(values: &[f32]) -> f64 {
    use std::io::Write;

    let bytes: Vec<u8> = values.iter().map(|&v| to_byte(v)).collect();
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let compressed = encoder
        .write_all(&bytes)
        .and_then(|()| encoder.finish())
        .map_or(bytes.len(), |c| c.len());
    compressed as f64 * 8.0 * std::f64::consts::LN_2
}

/// Nearest-neighbour upscaling of interleaved RGB bytes by an integer `scale`.
pub fn upscale_rgb8(rgb: &[u8], width: usize, height: usize, scale: usize) -> Vec<u8> {
    let scale = scale.max(1);
    let mut out = Vec::with_capacity(rgb.len() * scale * scale);
    for y in 0..height * scale {
        let row = y / scale;
        for x in 0..width * scale {
            let start = (row * width + x / scale) * 3;
            out.extend_from_slice(rgb.get(start..start + 3).unwrap_or(&[0, 0, 0]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const GREY_2X1: ImageShape = ImageShape {
        channels: 1,
        height: 1,
        width: 2,
    };

    #[test]
    fn grey_values_repeat_into_three_channels() {
        assert_eq!(to_rgb8(&[0.0, 1.0], GREY_2X1), vec![0, 0, 0, 255, 255, 255]);
    }

    #[test]
    fn out_of_range_and_nan_values_are_clamped() {
        assert_eq!(
            to_rgb8(&[f32::NAN, 7.0], GREY_2X1),
            vec![0, 0, 0, 255, 255, 255]
        );
        assert_eq!(to_rgb8(&[-1.0, 0.5], GREY_2X1)[..4], [0, 0, 0, 128]);
    }

    #[test]
    fn colour_planes_are_interleaved() {
        let shape = ImageShape {
            channels: 3,
            height: 1,
            width: 2,
        };
        let rgb = to_rgb8(&[1.0, 0.0, 0.0, 1.0, 0.0, 0.0], shape);
        assert_eq!(rgb, vec![255, 0, 0, 0, 255, 0]);
    }

    #[test]
    fn noise_is_more_complex_than_a_flat_image() {
        let flat = vec![0.0; 784];
        let mut rng = crate::rng::Rng::new(2);
        let noise: Vec<f32> = (0..784).map(|_| rng.uniform()).collect();
        assert!(complexity_nats(&noise) > 10.0 * complexity_nats(&flat));
    }

    #[test]
    fn upscaling_repeats_each_pixel_in_a_square() {
        let rgb = [1, 1, 1, 2, 2, 2];
        let big = upscale_rgb8(&rgb, 2, 1, 2);
        assert_eq!(big.len(), 4 * 2 * 3);
        assert_eq!(&big[..12], &[1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2]);
        assert_eq!(&big[12..], &big[..12]);
    }
}
