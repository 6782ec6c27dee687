//! Writing sequences of decoded images: a PNG strip, an animated GIF, and the latents as CSV.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::pixels::{ImageShape, to_rgb8, upscale_rgb8};

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Nothing to write.
    #[error("\"{path}\": there are no frames to write")]
    Empty {
        /// The file asked for.
        path: PathBuf,
    },
    /// The image encoder failed.
    #[error("\"{path}\": {reason}")]
    Encode {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The file could not be written.
    #[error("cannot write \"{path}\": {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Io {
        path: path.to_owned(),
        source,
    }
}

/// One frame as interleaved RGB bytes, upscaled by `scale`.
fn frame_rgb(values: &[f32], shape: ImageShape, scale: usize) -> Vec<u8> {
    upscale_rgb8(&to_rgb8(values, shape), shape.width, shape.height, scale)
}

/// The frames side by side, left to right, as `(width, height, rgb)`.
pub fn strip_rgb8(frames: &[Vec<f32>], shape: ImageShape, scale: usize) -> (usize, usize, Vec<u8>) {
    let scale = scale.max(1);
    let (frame_w, frame_h) = (shape.width * scale, shape.height * scale);
    let width = frame_w * frames.len();
    let mut rgb = vec![0u8; width * frame_h * 3];
    for (k, frame) in frames.iter().enumerate() {
        let pixels = frame_rgb(frame, shape, scale);
        for y in 0..frame_h {
            let src = &pixels[y * frame_w * 3..(y + 1) * frame_w * 3];
            let start = (y * width + k * frame_w) * 3;
            rgb[start..start + frame_w * 3].copy_from_slice(src);
        }
    }
    (width, frame_h, rgb)
}

/// Frames laid out as `rows` strips of `frames.len() / rows` frames each, as interleaved RGB
/// pixels with a one-pixel grey line between cells: `(width, height, pixels)`.
pub fn grid_rgb8(
    frames: &[Vec<f32>],
    rows: usize,
    shape: ImageShape,
    scale: usize,
) -> (usize, usize, Vec<u8>) {
    let rows = rows.max(1);
    let cols = frames.len().div_ceil(rows).max(1);
    let scale = scale.max(1);
    let (cell_w, cell_h) = (shape.width * scale + 1, shape.height * scale + 1);
    let (width, height) = (cols * cell_w + 1, rows * cell_h + 1);
    let mut rgb = vec![96u8; width * height * 3];
    for (k, frame) in frames.iter().enumerate() {
        let (row, col) = (k / cols, k % cols);
        let pixels = frame_rgb(frame, shape, scale);
        let frame_w = shape.width * scale;
        for y in 0..shape.height * scale {
            let src = &pixels[y * frame_w * 3..(y + 1) * frame_w * 3];
            let start = ((row * cell_h + 1 + y) * width + col * cell_w + 1) * 3;
            rgb[start..start + frame_w * 3].copy_from_slice(src);
        }
    }
    (width, height, rgb)
}

/// Writes the frames as a grid of `rows` rows (a traversal grid: one row per dimension).
pub fn write_grid_png(
    path: &Path,
    frames: &[Vec<f32>],
    rows: usize,
    shape: ImageShape,
    scale: usize,
) -> Result<(), ExportError> {
    if frames.is_empty() {
        return Err(ExportError::Empty {
            path: path.to_owned(),
        });
    }
    let (width, height, rgb) = grid_rgb8(frames, rows, shape, scale);
    let bytes = png_bytes(width, height, rgb, path)?;
    crate::files::write_atomically(path, &bytes).map_err(io_error(path))
}

/// PNG bytes of interleaved RGB pixels.
pub fn png_bytes(
    width: usize,
    height: usize,
    rgb: Vec<u8>,
    path: &Path,
) -> Result<Vec<u8>, ExportError> {
    let encode_error = |reason: String| ExportError::Encode {
        path: path.to_owned(),
        reason,
    };
    let image = image::RgbImage::from_raw(width as u32, height as u32, rgb).ok_or_else(|| {
        encode_error(format!(
            "{width}×{height} image has the wrong number of pixels"
        ))
    })?;
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .map_err(|e| encode_error(e.to_string()))?;
    Ok(bytes)
}

/// Writes the frames side by side as one PNG.
pub fn write_strip_png(
    path: &Path,
    frames: &[Vec<f32>],
    shape: ImageShape,
    scale: usize,
) -> Result<(), ExportError> {
    if frames.is_empty() {
        return Err(ExportError::Empty {
            path: path.to_owned(),
        });
    }
    let (width, height, rgb) = strip_rgb8(frames, shape, scale);
    let bytes = png_bytes(width, height, rgb, path)?;
    crate::files::write_atomically(path, &bytes).map_err(io_error(path))
}

/// Writes the frames as an animated GIF that loops forever, `delay_ms` per frame.
pub fn write_gif(
    path: &Path,
    frames: &[Vec<f32>],
    shape: ImageShape,
    scale: usize,
    delay_ms: u32,
) -> Result<(), ExportError> {
    use image::codecs::gif::{GifEncoder, Repeat};

    if frames.is_empty() {
        return Err(ExportError::Empty {
            path: path.to_owned(),
        });
    }
    let encode_error = |e: image::ImageError| ExportError::Encode {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let scale = scale.max(1);
    let (w, h) = ((shape.width * scale) as u32, (shape.height * scale) as u32);
    let mut bytes = Vec::new();
    {
        let mut encoder = GifEncoder::new_with_speed(&mut bytes, 10);
        encoder.set_repeat(Repeat::Infinite).map_err(encode_error)?;
        for frame in frames {
            let rgba: Vec<u8> = frame_rgb(frame, shape, scale)
                .chunks_exact(3)
                .flat_map(|p| [p[0], p[1], p[2], 255])
                .collect();
            let buffer =
                image::RgbaImage::from_raw(w, h, rgba).ok_or_else(|| ExportError::Encode {
                    path: path.to_owned(),
                    reason: "frame has the wrong number of pixels".into(),
                })?;
            let delay = image::Delay::from_numer_denom_ms(delay_ms.max(10), 1);
            encoder
                .encode_frame(image::Frame::from_parts(buffer, 0, 0, delay))
                .map_err(encode_error)?;
        }
    }
    crate::files::write_atomically(path, &bytes).map_err(io_error(path))
}

/// Writes one CSV row per latent: `frame,t,z0,z1,…`.
pub fn write_latents_csv(path: &Path, latents: &[Vec<f32>]) -> Result<(), ExportError> {
    if latents.is_empty() {
        return Err(ExportError::Empty {
            path: path.to_owned(),
        });
    }
    let dim = latents[0].len();
    let mut text = String::from("frame,t");
    for d in 0..dim {
        let _ = write!(text, ",z{d}");
    }
    text.push('\n');
    let last = (latents.len() - 1).max(1) as f64;
    for (k, z) in latents.iter().enumerate() {
        let _ = write!(text, "{k},{}", k as f64 / last);
        for v in z {
            let _ = write!(text, ",{v}");
        }
        text.push('\n');
    }
    crate::files::write_atomically(path, text.as_bytes()).map_err(io_error(path))
}

/// Writes each image as `variation-NNNN.png` in `dir` (created if needed) and their latents as
/// `variations-NNNN.csv`, numbering on from the highest variation already there, so no
/// existing file is ever replaced (each file is also created with "fail if it exists").
/// Returns the paths written, images first.
pub fn write_variations(
    dir: &Path,
    images: &[Vec<f32>],
    latents: &[Vec<f32>],
    shape: ImageShape,
    scale: usize,
) -> Result<Vec<PathBuf>, ExportError> {
    if images.is_empty() {
        return Err(ExportError::Empty {
            path: dir.to_owned(),
        });
    }
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    let start = next_free_index(dir).map_err(io_error(dir))?;

    let mut written = Vec::with_capacity(images.len() + 1);
    let scale = scale.max(1);
    for (k, image) in images.iter().enumerate() {
        let path = dir.join(format!("variation-{:04}.png", start + k));
        let rgb = frame_rgb(image, shape, scale);
        let bytes = png_bytes(shape.width * scale, shape.height * scale, rgb, &path)?;
        crate::files::write_new(&path, &bytes).map_err(io_error(&path))?;
        written.push(path);
    }

    let csv_path = dir.join(format!("variations-{start:04}.csv"));
    let dim = latents.first().map_or(0, Vec::len);
    let mut text = String::from("file");
    for d in 0..dim {
        let _ = write!(text, ",z{d}");
    }
    text.push('\n');
    for (path, z) in written.iter().zip(latents) {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        text.push_str(name);
        for v in z {
            let _ = write!(text, ",{v}");
        }
        text.push('\n');
    }
    crate::files::write_new(&csv_path, text.as_bytes()).map_err(io_error(&csv_path))?;
    written.push(csv_path);
    Ok(written)
}

/// One more than the highest `NNNN` among `variation-NNNN.png` files in `dir`.
fn next_free_index(dir: &Path) -> std::io::Result<usize> {
    let mut next = 0;
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name();
        let number = name
            .to_str()
            .and_then(|n| n.strip_prefix("variation-"))
            .and_then(|n| n.strip_suffix(".png"))
            .and_then(|n| n.parse::<usize>().ok());
        if let Some(number) = number {
            next = next.max(number + 1);
        }
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHAPE: ImageShape = ImageShape {
        channels: 1,
        height: 2,
        width: 3,
    };

    #[test]
    fn a_strip_puts_frames_side_by_side() {
        let frames = vec![vec![0.0; 6], vec![1.0; 6]];
        let (w, h, rgb) = strip_rgb8(&frames, SHAPE, 2);
        assert_eq!((w, h), (12, 4));
        assert_eq!(rgb.len(), 12 * 4 * 3);
        assert_eq!(rgb[0], 0);
        assert_eq!(rgb[6 * 3], 255);
    }

    #[test]
    fn variations_never_replace_existing_files() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let images = vec![vec![0.5; 6]; 3];
        let latents = vec![vec![0.0, 1.0]; 3];
        let first = write_variations(dir.path(), &images, &latents, SHAPE, 1)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(first.len(), 4);
        let before = std::fs::read(&first[0]).unwrap_or_default();

        let brighter = vec![vec![1.0; 6]; 3];
        let second = write_variations(dir.path(), &brighter, &latents, SHAPE, 1)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(second[0].ends_with("variation-0003.png"), "{:?}", second[0]);
        assert!(
            second[3].ends_with("variations-0003.csv"),
            "{:?}",
            second[3]
        );
        assert_eq!(std::fs::read(&first[0]).unwrap_or_default(), before);
        assert_eq!(
            std::fs::read_dir(dir.path())
                .map(|d| d.count())
                .unwrap_or(0),
            8
        );
    }

    #[test]
    fn no_frames_is_an_error() {
        let error = write_strip_png(Path::new("x.png"), &[], SHAPE, 1).err();
        assert_eq!(
            error.map(|e| e.to_string()).as_deref(),
            Some("\"x.png\": there are no frames to write")
        );
    }
}
