//! The latent panel: one slider per dimension, with a typed value beside each.

use std::ops::RangeInclusive;

use crate::app::Command;
use crate::app::session::LatentPoint;

/// Draws *Reset*, *Random* and the sliders `z0 … z{n-1}`, dimension `d` over `ranges[d]`;
/// `random_hint` says where *Random* draws from.
pub fn latent_panel_ui(
    ui: &mut egui::Ui,
    point: &LatentPoint,
    ranges: &[RangeInclusive<f32>],
    random_hint: &str,
    commands: &mut Vec<Command>,
) {
    ui.heading("Latent z");
    ui.horizontal(|ui| {
        if ui
            .button("Reset")
            .on_hover_text("Set every dimension to 0")
            .clicked()
        {
            commands.push(Command::ResetAll);
        }
        if ui.button("Random").on_hover_text(random_hint).clicked() {
            commands.push(Command::Randomize);
        }
    });
    let origin = match point.sample {
        Some(idx) => format!("µ of dataset sample #{idx}"),
        None => "set by hand".to_owned(),
    };
    ui.label(egui::RichText::new(origin).weak());
    ui.separator();

    // The slider takes what the number box and the label leave of the panel's width.
    ui.spacing_mut().slider_width = (ui.available_width() - 110.0).max(80.0);
    egui::ScrollArea::vertical().show(ui, |ui| {
        for (dim, &current) in point.z.iter().enumerate() {
            let mut value = current;
            let range = ranges.get(dim).cloned().unwrap_or(-4.0..=4.0);
            let response = ui
                .add(
                    egui::Slider::new(&mut value, range)
                        .text(format!("z{dim}"))
                        .clamping(egui::SliderClamping::Never)
                        .fixed_decimals(2)
                        .drag_value_speed(0.01),
                )
                .on_hover_text("Drag, or click the number to type a value; double-click resets");
            // The slider senses drags only, so its double clicks are read from the pointer;
            // they count on the rail, not on the number box beside it.
            let rail = egui::Rect::from_min_size(
                response.rect.min,
                egui::vec2(ui.spacing().slider_width, response.rect.height()),
            );
            let double_clicked = ui.input(|i| {
                i.pointer
                    .button_double_clicked(egui::PointerButton::Primary)
                    && i.pointer.interact_pos().is_some_and(|p| rail.contains(p))
            });
            if double_clicked {
                commands.push(Command::ResetDimension(dim));
            } else if response.changed() && value != current {
                commands.push(Command::SetLatent { dim, value });
            }
        }
    });
}
