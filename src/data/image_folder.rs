//! A folder of PNG or JPEG images as a dataset: each subfolder is a class, named after it;
//! images directly in the folder form one class of their own.
//!
//! Every image is brought to one shape: the height and width of the most common size, grey
//! unless some image has colour. Images of another size are resized (area average or
//! bilinear, as [`super::convert`] does) and the dataset's notes say how many. Files that are
//! not readable images are left out and counted, never fatal, unless none is left.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::convert::convert_image;
use super::{Dataset, DatasetError, ImageShape};

/// The most images a folder may hold; more would not fit the map or memory comfortably.
const MAX_IMAGES: usize = 200_000;

/// The largest side an image may have; larger ones are left out with a note.
const MAX_SIDE: u32 = 1024;

/// True when `path` has an image extension this reader takes.
pub fn is_image_file(path: &Path) -> bool {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_lowercase);
    matches!(extension.as_deref(), Some("png" | "jpg" | "jpeg"))
}

/// The image files directly in `folder`, sorted by name.
fn images_in(folder: &Path) -> Result<Vec<PathBuf>, DatasetError> {
    let entries = std::fs::read_dir(folder).map_err(|source| DatasetError::Io {
        path: folder.to_owned(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && is_image_file(p))
        .collect();
    files.sort();
    Ok(files)
}

/// True when `folder` holds image files, directly or one level down.
pub fn holds_images(folder: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return false;
    };
    entries.filter_map(Result::ok).any(|e| {
        let path = e.path();
        (path.is_file() && is_image_file(&path))
            || (path.is_dir() && images_in(&path).is_ok_and(|f| !f.is_empty()))
    })
}

/// One decoded image: `[c, h, w]` values in `[0, 1]`.
struct Decoded {
    shape: ImageShape,
    values: Vec<f32>,
    label: u32,
}

fn decode(path: &Path) -> Result<(ImageShape, Vec<f32>), String> {
    let image = image::ImageReader::open(path)
        .map_err(|e| e.to_string())?
        .with_guessed_format()
        .map_err(|e| e.to_string())?
        .decode()
        .map_err(|e| e.to_string())?;
    let (width, height) = (image.width(), image.height());
    if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
        return Err(format!(
            "its size {width}×{height} is outside 1 to {MAX_SIDE} pixels"
        ));
    }
    let (width, height) = (width as usize, height as usize);
    if image.color().has_color() {
        let rgb = image.to_rgb8();
        let plane = width * height;
        let mut values = vec![0.0; 3 * plane];
        for (i, p) in rgb.pixels().enumerate() {
            for c in 0..3 {
                values[c * plane + i] = f32::from(p.0[c]) / 255.0;
            }
        }
        Ok((
            ImageShape {
                channels: 3,
                height,
                width,
            },
            values,
        ))
    } else {
        let grey = image.to_luma8();
        let values = grey.pixels().map(|p| f32::from(p.0[0]) / 255.0).collect();
        Ok((
            ImageShape {
                channels: 1,
                height,
                width,
            },
            values,
        ))
    }
}

/// Reads the image folder at `folder`; `progress(done, total)` hears each image read.
pub fn load_image_folder(
    folder: &Path,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Dataset, DatasetError> {
    // Classes: the subfolders with images, by name; loose images form a class of their own.
    let entries = std::fs::read_dir(folder).map_err(|source| DatasetError::Io {
        path: folder.to_owned(),
        source,
    })?;
    let mut subfolders: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    subfolders.sort();

    let mut class_names = Vec::new();
    let mut files: Vec<(PathBuf, u32)> = Vec::new();
    for sub in &subfolders {
        let images = images_in(sub)?;
        if images.is_empty() {
            continue;
        }
        let label = class_names.len() as u32;
        class_names.push(
            sub.file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        );
        files.extend(images.into_iter().map(|f| (f, label)));
    }
    let loose = images_in(folder)?;
    if !loose.is_empty() {
        let label = class_names.len() as u32;
        class_names.push("(no class)".to_owned());
        files.extend(loose.into_iter().map(|f| (f, label)));
    }
    if files.is_empty() {
        return Err(DatasetError::NoImages {
            path: folder.to_owned(),
        });
    }

    let mut notes = Vec::new();
    if files.len() > MAX_IMAGES {
        notes.push(format!(
            "only the first {MAX_IMAGES} of {} images were read",
            files.len()
        ));
        files.truncate(MAX_IMAGES);
    }

    // Decode everything, keeping count of what could not be read.
    let total = files.len();
    let mut decoded = Vec::with_capacity(total);
    let mut failures: Vec<String> = Vec::new();
    for (done, (path, label)) in files.iter().enumerate() {
        match decode(path) {
            Ok((shape, values)) => decoded.push(Decoded {
                shape,
                values,
                label: *label,
            }),
            Err(e) => failures.push(format!("\"{}\": {e}", path.display())),
        }
        progress(done + 1, total);
    }
    if let Some(first) = failures.first() {
        notes.push(format!(
            "{} files were left out as unreadable (the first: {first})",
            failures.len()
        ));
    }
    if decoded.is_empty() {
        return Err(DatasetError::Unreadable {
            path: folder.to_owned(),
            reason: failures.first().cloned().unwrap_or_default(),
        });
    }

    // One shape for all: the most common size, in colour if any image has colour.
    let mut sizes: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    for d in &decoded {
        *sizes.entry((d.shape.height, d.shape.width)).or_default() += 1;
    }
    let ((height, width), _) = sizes
        .iter()
        .max_by_key(|(size, count)| (**count, std::cmp::Reverse(**size)))
        .map(|(s, c)| (*s, *c))
        .unwrap_or(((1, 1), 0));
    let channels = if decoded.iter().any(|d| d.shape.channels == 3) {
        3
    } else {
        1
    };
    let target = ImageShape {
        channels,
        height,
        width,
    };
    let resized = decoded
        .iter()
        .filter(|d| (d.shape.height, d.shape.width) != (height, width))
        .count();
    if resized > 0 {
        notes.push(format!(
            "{resized} images of other sizes were resized to {width}×{height}"
        ));
    }

    let mut pixels = Vec::with_capacity(decoded.len() * target.len());
    let mut labels = Vec::with_capacity(decoded.len());
    for d in decoded {
        if d.shape == target {
            pixels.extend_from_slice(&d.values);
        } else {
            pixels.extend(convert_image(&d.values, d.shape, target));
        }
        labels.push(d.label);
    }
    let name = folder.file_name().map_or_else(
        || folder.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    Ok(Dataset {
        name,
        height,
        width,
        channels,
        pixels,
        labels,
        class_names,
        notes,
        factors: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_png(path: &Path, side: u32, value: u8) {
        let image = image::GrayImage::from_pixel(side, side, image::Luma([value]));
        image.save(path).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn subfolders_become_classes_and_odd_sizes_are_resized() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for (class, value) in [("cats", 10u8), ("dogs", 200)] {
            std::fs::create_dir(dir.path().join(class)).unwrap_or_else(|e| panic!("{e}"));
            for k in 0..3 {
                write_png(&dir.path().join(class).join(format!("{k}.png")), 8, value);
            }
        }
        write_png(&dir.path().join("dogs").join("big.png"), 16, 200);
        std::fs::write(dir.path().join("cats").join("broken.png"), b"not a png")
            .unwrap_or_else(|e| panic!("{e}"));

        let data = load_image_folder(dir.path(), &mut |_, _| {}).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(data.class_names, vec!["cats", "dogs"]);
        assert_eq!(data.len(), 7);
        assert_eq!(
            data.image_shape(),
            ImageShape {
                channels: 1,
                height: 8,
                width: 8
            }
        );
        assert_eq!(data.labels.iter().filter(|&&l| l == 1).count(), 4);
        assert!(
            data.notes
                .iter()
                .any(|n| n.starts_with("1 files were left out as unreadable"))
        );
        assert!(
            data.notes
                .iter()
                .any(|n| n == "1 images of other sizes were resized to 8×8")
        );
        // The resized all-200 image stays all 200/255.
        let big = data.image(6).unwrap_or_else(|| panic!("no image"));
        assert!(big.iter().all(|v| (v - 200.0 / 255.0).abs() < 1e-6));
    }

    #[test]
    fn a_folder_of_unreadable_files_is_refused() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("a.png"), b"nope").unwrap_or_else(|e| panic!("{e}"));
        let message = load_image_folder(dir.path(), &mut |_, _| {})
            .err()
            .map(|e| e.to_string());
        let expected = format!(
            "dataset folder \"{}\": no image could be read",
            dir.path().display()
        );
        assert!(
            message.as_deref().is_some_and(|m| m.starts_with(&expected)),
            "{message:?}"
        );
    }
}
