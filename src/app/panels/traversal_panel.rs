//! The traversal grid: one row per latent dimension, varied alone from −range to range around
//! the current z, so each dimension's meaning can be read at a glance.

use std::path::PathBuf;

use crate::app::Command;
use crate::app::explorer::TraversalView;
use crate::app::session::Session;
use crate::app::textures::CachedTexture;

/// Textures of the grid's cells.
#[derive(Default)]
pub struct TraversalTextures {
    cells: Vec<CachedTexture>,
}

/// Draws the grid's settings, its rows (labelled with the dimension and its KL) and *Export*.
pub fn traversal_panel_ui(
    ui: &mut egui::Ui,
    view: &mut TraversalView,
    kl: Option<&[f64]>,
    textures: &mut TraversalTextures,
    session: &Session,
    commands: &mut Vec<Command>,
) {
    ui.horizontal(|ui| {
        let (mut range, mut steps) = (view.range, view.steps);
        let range_changed = ui
            .add(egui::Slider::new(&mut range, 0.5..=6.0).text("range ±"))
            .changed();
        let steps_changed = ui
            .add(egui::Slider::new(&mut steps, 3..=15).text("columns"))
            .changed();
        if range_changed || steps_changed {
            commands.push(Command::SetTraversal { range, steps });
        }
        let label = ui.label("Export to");
        ui.add(egui::TextEdit::singleline(&mut view.export_path).desired_width(180.0))
            .labelled_by(label.id);
        if ui.button("PNG").clicked() {
            commands.push(Command::ExportTraversal(PathBuf::from(
                view.export_path.trim(),
            )));
        }
        ui.label(
            egui::RichText::new("rows follow the sliders' order; hide collapsed ones there").weak(),
        );
    });
    if view.decoded.is_empty() {
        ui.label(egui::RichText::new("decoding…").weak());
        return;
    }

    let ctx = ui.ctx().clone();
    let shape = session.model.spec().image_shape();
    let side = 40.0;
    textures
        .cells
        .resize_with(view.decoded.len(), Default::default);
    egui::ScrollArea::both().show(ui, |ui| {
        egui::Grid::new("traversal_grid")
            .spacing([2.0, 2.0])
            .show(ui, |ui| {
                for (r, &dim) in view.rows.iter().enumerate() {
                    let kl_text = kl
                        .and_then(|kl| kl.get(dim))
                        .map_or_else(String::new, |k| format!(" · {k:.2} nats"));
                    ui.label(format!("z{dim}{kl_text}"));
                    for c in 0..view.steps {
                        let k = r * view.steps + c;
                        let (Some(image), Some(cell)) =
                            (view.decoded.get(k), textures.cells.get_mut(k))
                        else {
                            continue;
                        };
                        let handle = cell.get(&ctx, "traversal", image, shape, view.version);
                        let sized =
                            egui::load::SizedTexture::new(handle.id(), egui::vec2(side, side));
                        ui.add(egui::Image::from_texture(sized));
                    }
                    ui.end_row();
                }
            });
    });
}
