//! The augmentation tool: K variations around z (or along the interpolation), previewed as a
//! grid and written as new image files.

use std::path::PathBuf;

use crate::app::Command;
use crate::app::explorer::Variations;
use crate::app::session::Session;
use crate::app::textures::CachedTexture;

/// What the user is setting up.
#[derive(Debug, Clone)]
pub struct AugmentDrafts {
    /// Number of variations.
    pub count: usize,
    /// Their spread.
    pub sigma: f32,
    /// Along the interpolation instead of around z.
    pub along_path: bool,
    /// Folder to write into.
    pub folder: String,
}

impl Default for AugmentDrafts {
    fn default() -> Self {
        Self {
            count: 16,
            sigma: 0.5,
            along_path: false,
            folder: "variations".into(),
        }
    }
}

/// Textures of the grid.
#[derive(Default)]
pub struct VariationTextures {
    cells: Vec<CachedTexture>,
}

/// Draws the tool.
pub fn augment_panel_ui(
    ui: &mut egui::Ui,
    variations: &Variations,
    textures: &mut VariationTextures,
    drafts: &mut AugmentDrafts,
    session: &Session,
    has_path: bool,
    commands: &mut Vec<Command>,
) {
    ui.horizontal(|ui| {
        ui.add(egui::Slider::new(&mut drafts.count, 1..=64).text("variations"));
        ui.add(egui::Slider::new(&mut drafts.sigma, 0.0..=2.0).text("σ"));
        ui.add_enabled(
            has_path,
            egui::Checkbox::new(&mut drafts.along_path, "along the interpolation"),
        );
        if ui.button("Generate").clicked() {
            commands.push(Command::GenerateVariations {
                count: drafts.count,
                sigma: drafts.sigma,
                along_path: drafts.along_path && has_path,
            });
        }
        let label = ui.label("Folder");
        ui.add(egui::TextEdit::singleline(&mut drafts.folder).desired_width(200.0))
            .labelled_by(label.id);
        let ready = !variations.decoded.is_empty();
        if ui
            .add_enabled(ready, egui::Button::new("Write files"))
            .on_hover_text("New PNG files and a CSV of their z; existing files are never replaced")
            .clicked()
        {
            commands.push(Command::WriteVariations(PathBuf::from(
                drafts.folder.trim(),
            )));
        }
    });

    if variations.decoded.is_empty() {
        ui.label(egui::RichText::new("Generate to preview variations of the current z.").weak());
        return;
    }
    let ctx = ui.ctx().clone();
    let shape = session.model.spec().image_shape();
    textures
        .cells
        .resize_with(variations.decoded.len(), Default::default);
    egui::ScrollArea::horizontal().show(ui, |ui| {
        ui.horizontal_wrapped(|ui| {
            for (cell, image) in textures.cells.iter_mut().zip(&variations.decoded) {
                let handle = cell.get(&ctx, "variation", image, shape, variations.version);
                let sized = egui::load::SizedTexture::new(handle.id(), egui::vec2(48.0, 48.0));
                ui.add(egui::Image::from_texture(sized));
            }
        });
    });
}
