//! GPU textures for model outputs and dataset images, uploaded again only when they change.

use crate::data::{ImageShape, to_rgb8};

/// Pixels (`[c, h, w]`, values in `[0, 1]`) as an egui image.
pub fn color_image(values: &[f32], shape: ImageShape) -> egui::ColorImage {
    egui::ColorImage::from_rgb([shape.width, shape.height], &to_rgb8(values, shape))
}

/// One texture that follows a versioned source.
#[derive(Default)]
pub struct CachedTexture {
    handle: Option<egui::TextureHandle>,
    version: Option<u64>,
}

impl CachedTexture {
    /// The texture for `values` at `version`, uploading only when the version changed. Nearest
    /// filtering, so that a 28×28 image scaled up stays sharp.
    pub fn get(
        &mut self,
        ctx: &egui::Context,
        name: &str,
        values: &[f32],
        shape: ImageShape,
        version: u64,
    ) -> &egui::TextureHandle {
        let image = || color_image(values, shape);
        let handle = match self.handle.take() {
            Some(mut handle) => {
                if self.version != Some(version) {
                    handle.set(image(), egui::TextureOptions::NEAREST);
                }
                handle
            }
            None => ctx.load_texture(name, image(), egui::TextureOptions::NEAREST),
        };
        self.version = Some(version);
        self.handle.insert(handle)
    }
}
