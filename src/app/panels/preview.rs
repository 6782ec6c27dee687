//! The preview: the decoder's output for the current z, scaled up with nearest filtering, and
//! the original image beside it when z is a dataset sample's µ.

use crate::app::session::{LatentPoint, Session};
use crate::app::textures::CachedTexture;

/// Textures of the preview region.
#[derive(Default)]
pub struct PreviewTextures {
    decoded: CachedTexture,
    original: CachedTexture,
}

/// Draws the decoded image and, for a dataset sample, its original beside it.
pub fn preview_ui(
    ui: &mut egui::Ui,
    textures: &mut PreviewTextures,
    session: &Session,
    point: &LatentPoint,
) {
    let ctx = ui.ctx().clone();
    let shape = session.model.spec().image_shape();
    let original = point
        .sample
        .and_then(|idx| Some((idx, session.dataset.image(idx)?)));

    let Some((idx, pixels)) = original else {
        ui.heading("Decoded");
        let side = ui.available_width().clamp(64.0, 512.0);
        let texture = textures
            .decoded
            .get(&ctx, "decoded", &point.decoded, shape, point.version);
        image_ui(ui, texture, side);
        return;
    };

    let label = session
        .dataset
        .labels
        .get(idx)
        .map(|&l| session.dataset.class_name(l))
        .unwrap_or_default();
    ui.heading(format!("Sample #{idx}"));
    ui.label(egui::RichText::new(label).weak());
    let side = ((ui.available_width() - ui.spacing().item_spacing.x) / 2.0).clamp(32.0, 256.0);
    ui.columns(2, |columns| {
        columns[0].label("Reconstruction");
        let texture = textures
            .decoded
            .get(&ctx, "decoded", &point.decoded, shape, point.version);
        image_ui(&mut columns[0], texture, side);

        columns[1].label("Original");
        let texture = textures.original.get(
            &ctx,
            "original",
            pixels,
            session.dataset.image_shape(),
            idx as u64,
        );
        image_ui(&mut columns[1], texture, side);
    });
}

fn image_ui(ui: &mut egui::Ui, texture: &egui::TextureHandle, side: f32) {
    let sized = egui::load::SizedTexture::new(texture.id(), egui::vec2(side, side));
    ui.add(egui::Image::from_texture(sized));
}
