//! The interpolation panel: the two ends, the strip of decoded frames, playback and export.

use std::path::PathBuf;

use crate::app::Command;
use crate::app::command::{EndSource, ExportKind};
use crate::app::explorer::Drafts;
use crate::app::interpolation::{End, Interpolation, PlayMode, STEPS_RANGE};
use crate::app::session::Session;
use crate::data::export::strip_rgb8;
use crate::latent::{Library, PathMethod};

/// The strip's texture.
#[derive(Default)]
pub struct StripTextures {
    strip: Option<(u64, egui::TextureHandle)>,
}

impl StripTextures {
    fn strip(
        &mut self,
        ctx: &egui::Context,
        interpolation: &Interpolation,
        session: &Session,
    ) -> Option<&egui::TextureHandle> {
        if interpolation.decoded.is_empty() {
            return None;
        }
        if self
            .strip
            .as_ref()
            .is_none_or(|(v, _)| *v != interpolation.version)
        {
            let shape = session.model.spec().image_shape();
            let (w, h, rgb) = strip_rgb8(&interpolation.decoded, shape, 1);
            let image = egui::ColorImage::from_rgb([w, h], &rgb);
            let handle =
                ctx.load_texture("interpolation-strip", image, egui::TextureOptions::NEAREST);
            self.strip = Some((interpolation.version, handle));
        }
        self.strip.as_ref().map(|(_, h)| h)
    }
}

/// Draws the panel.
#[allow(clippy::too_many_arguments)] // One borrow per piece of state the panel reads.
pub fn interpolation_panel_ui(
    ui: &mut egui::Ui,
    interpolation: &Interpolation,
    textures: &mut StripTextures,
    drafts: &mut Drafts,
    session: &Session,
    library: &Library,
    exporting: bool,
    commands: &mut Vec<Command>,
) {
    ui.horizontal(|ui| {
        ui.heading("Interpolation");
        ui.separator();
        end_ui(
            ui,
            End::A,
            interpolation.a.as_ref().map(|e| e.label.as_str()),
            library,
            commands,
        );
        ui.separator();
        end_ui(
            ui,
            End::B,
            interpolation.b.as_ref().map(|e| e.label.as_str()),
            library,
            commands,
        );
    });
    ui.horizontal(|ui| {
        let mut steps = interpolation.steps;
        if ui
            .add(egui::Slider::new(&mut steps, STEPS_RANGE).text("frames"))
            .changed()
        {
            commands.push(Command::SetSteps(steps));
        }
        let mut method = interpolation.method;
        egui::ComboBox::from_label("path")
            .selected_text(method.label())
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut method, PathMethod::Spherical, "spherical (slerp)");
                ui.selectable_value(&mut method, PathMethod::Linear, "linear");
            });
        if method != interpolation.method {
            commands.push(Command::SetPathMethod(method));
        }
        ui.separator();

        let can_play = interpolation.ends().is_some();
        let label = if interpolation.playing {
            "Pause"
        } else {
            "Play"
        };
        if ui.add_enabled(can_play, egui::Button::new(label)).clicked() {
            commands.push(Command::TogglePlay);
        }
        let mut mode = interpolation.mode;
        egui::ComboBox::from_label("at the end")
            .selected_text(match mode {
                PlayMode::Loop => "loop",
                PlayMode::PingPong => "ping-pong",
            })
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut mode, PlayMode::Loop, "loop");
                ui.selectable_value(&mut mode, PlayMode::PingPong, "ping-pong");
            });
        if mode != interpolation.mode {
            commands.push(Command::SetPlayMode(mode));
        }
        let mut speed = interpolation.frames_per_sec;
        if ui
            .add(
                egui::Slider::new(&mut speed, 0.25..=30.0)
                    .logarithmic(true)
                    .text("frames/s"),
            )
            .changed()
        {
            commands.push(Command::SetPlaySpeed(speed));
        }
    });

    strip_ui(ui, interpolation, textures, session, commands);

    ui.horizontal(|ui| {
        let label = ui.label("Export to");
        ui.add(egui::TextEdit::singleline(&mut drafts.export_path).desired_width(260.0))
            .labelled_by(label.id);
        let ready = !interpolation.latents.is_empty() && !exporting;
        let path = PathBuf::from(drafts.export_path.trim());
        for (kind, label) in [
            (ExportKind::Strip, "PNG strip"),
            (ExportKind::Gif, "GIF"),
            (ExportKind::Csv, "CSV of z"),
        ] {
            if ui.add_enabled(ready, egui::Button::new(label)).clicked() {
                commands.push(Command::Export(kind, path.clone()));
            }
        }
        if exporting {
            ui.spinner();
        }
    });
}

/// The label of one end and the buttons that set it.
fn end_ui(
    ui: &mut egui::Ui,
    end: End,
    label: Option<&str>,
    library: &Library,
    commands: &mut Vec<Command>,
) {
    let name = match end {
        End::A => "A",
        End::B => "B",
    };
    ui.label(format!("{name}: {}", label.unwrap_or("not set")));
    if ui
        .button(format!("Set {name}"))
        .on_hover_text(format!(
            "Use the current z as {name} (or ctrl/shift-click the map)"
        ))
        .clicked()
    {
        commands.push(Command::SetEnd(end, EndSource::Current));
    }
    if !library.bookmarks.is_empty() {
        egui::ComboBox::new(("end_bookmark", name), format!("as {name}"))
            .selected_text("bookmark…")
            .show_ui(ui, |ui| {
                for (idx, bookmark) in library.bookmarks.iter().enumerate() {
                    if ui.selectable_label(false, &bookmark.name).clicked() {
                        commands.push(Command::SetEnd(end, EndSource::Bookmark(idx)));
                    }
                }
            });
    }
}

/// The strip of frames; a click on a frame moves the sliders there.
fn strip_ui(
    ui: &mut egui::Ui,
    interpolation: &Interpolation,
    textures: &mut StripTextures,
    session: &Session,
    commands: &mut Vec<Command>,
) {
    let frames = interpolation.decoded.len();
    let ctx = ui.ctx().clone();
    let Some(texture) = textures.strip(&ctx, interpolation, session) else {
        ui.label(
            egui::RichText::new(
                "Set A and B (buttons above, or ctrl-click and shift-click points on the map) to \
                 see the frames between them.",
            )
            .weak(),
        );
        return;
    };

    let side = (ui.available_width() / frames as f32).clamp(16.0, 96.0);
    let size = egui::vec2(side * frames as f32, side);
    let sized = egui::load::SizedTexture::new(texture.id(), size);
    let response = ui.add(egui::Image::from_texture(sized).sense(egui::Sense::click()));

    // Mark where playback stands.
    let x = response.rect.left() + interpolation.t * (size.x - side) + side / 2.0;
    ui.painter().line_segment(
        [
            egui::pos2(x, response.rect.bottom()),
            egui::pos2(x, response.rect.bottom() + 4.0),
        ],
        egui::Stroke::new(3.0, egui::Color32::WHITE),
    );
    if response.clicked()
        && let Some(pos) = response.interact_pointer_pos()
    {
        let k = ((pos.x - response.rect.left()) / side).floor() as usize;
        commands.push(Command::GoToFrame(k.min(frames - 1)));
    }
    response.on_hover_text(format!(
        "{frames} frames from A to B; click one to go there"
    ));
}
