//! Bookmarks, attribute vectors and analogies, under the preview.

use crate::app::Command;
use crate::app::explorer::{Analogy, AttributeState, Drafts};
use crate::app::session::Session;
use crate::app::textures::CachedTexture;
use crate::latent::Library;

/// Textures of the analogy's four images.
#[derive(Default)]
pub struct LibraryTextures {
    analogy: [CachedTexture; 4],
}

/// Draws the three tools.
#[allow(clippy::too_many_arguments)] // One borrow per piece of state the panel reads.
pub fn library_panel_ui(
    ui: &mut egui::Ui,
    library: &Library,
    attribute: &AttributeState,
    analogy: &Analogy,
    textures: &mut LibraryTextures,
    drafts: &mut Drafts,
    session: &Session,
    map_ready: bool,
    commands: &mut Vec<Command>,
) {
    egui::CollapsingHeader::new("Bookmarks")
        .default_open(true)
        .show(ui, |ui| bookmarks_ui(ui, library, drafts, commands));
    egui::CollapsingHeader::new("Attribute vector")
        .default_open(true)
        .show(ui, |ui| {
            attribute_ui(ui, library, attribute, drafts, session, map_ready, commands)
        });
    egui::CollapsingHeader::new("Analogy A − B + C")
        .default_open(false)
        .show(ui, |ui| {
            analogy_ui(ui, library, analogy, textures, session, commands)
        });
}

fn bookmarks_ui(
    ui: &mut egui::Ui,
    library: &Library,
    drafts: &mut Drafts,
    commands: &mut Vec<Command>,
) {
    ui.horizontal(|ui| {
        let field = ui.add(
            egui::TextEdit::singleline(&mut drafts.bookmark_name)
                .hint_text("name")
                .desired_width(120.0),
        );
        let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if ui.button("Save bookmark").clicked() || entered {
            commands.push(Command::AddBookmark(drafts.bookmark_name.clone()));
        }
    });

    for (idx, bookmark) in library.bookmarks.iter().enumerate() {
        ui.horizontal(|ui| {
            let renaming = drafts.renaming.as_mut().filter(|(i, _)| *i == idx);
            if let Some((_, name)) = renaming {
                let field = ui.add(egui::TextEdit::singleline(name).desired_width(120.0));
                if field.lost_focus() {
                    commands.push(Command::RenameBookmark(idx, name.clone()));
                    drafts.renaming = None;
                } else {
                    field.request_focus();
                }
                return;
            }
            if ui
                .button("Go")
                .on_hover_text("Set the sliders to it")
                .clicked()
            {
                commands.push(Command::GoToBookmark(idx));
            }
            ui.label(&bookmark.name);
            if ui.small_button("Rename").clicked() {
                drafts.renaming = Some((idx, bookmark.name.clone()));
            }
            if ui.small_button("Delete").clicked() {
                commands.push(Command::DeleteBookmark(idx));
            }
        });
    }
    if library.bookmarks.is_empty() {
        ui.label(egui::RichText::new("none yet; they are kept for this model").weak());
    }
}

fn class_combo(ui: &mut egui::Ui, label: &str, value: &mut u32, session: &Session) {
    let dataset = &session.dataset;
    egui::ComboBox::from_label(label)
        .selected_text(dataset.class_name(*value))
        .show_ui(ui, |ui| {
            for class in 0..dataset.class_count() as u32 {
                ui.selectable_value(value, class, dataset.class_name(class));
            }
        });
}

fn attribute_ui(
    ui: &mut egui::Ui,
    library: &Library,
    attribute: &AttributeState,
    drafts: &mut Drafts,
    session: &Session,
    map_ready: bool,
    commands: &mut Vec<Command>,
) {
    class_combo(ui, "from", &mut drafts.from_class, session);
    class_combo(ui, "to", &mut drafts.to_class, session);
    ui.add(
        egui::TextEdit::singleline(&mut drafts.vector_name)
            .hint_text("vector name (optional)")
            .desired_width(160.0),
    );
    let button = ui
        .add_enabled(map_ready, egui::Button::new("Make vector"))
        .on_hover_text("mean µ of “to” minus mean µ of “from”, over the dataset")
        .on_disabled_hover_text("waiting for the map");
    if button.clicked() {
        commands.push(Command::ComputeAttribute {
            from: drafts.from_class,
            to: drafts.to_class,
            name: drafts.vector_name.clone(),
        });
    }

    for (idx, vector) in library.vectors.iter().enumerate() {
        ui.horizontal(|ui| {
            let selected = attribute.selected == Some(idx);
            if ui.radio(selected, &vector.name).clicked() {
                commands.push(Command::SelectAttribute((!selected).then_some(idx)));
            }
            if ui.small_button("Delete").clicked() {
                commands.push(Command::DeleteAttribute(idx));
            }
        });
    }

    if attribute.selected.is_some() {
        let mut strength = attribute.strength;
        if ui
            .add(egui::Slider::new(&mut strength, -2.0..=2.0).text("strength"))
            .changed()
        {
            commands.push(Command::SetStrength(strength));
        }
        if ui
            .button("Apply to z")
            .on_hover_text("Move the sliders to the shifted point")
            .clicked()
        {
            commands.push(Command::ApplyAttribute);
        }
    }
}

fn analogy_ui(
    ui: &mut egui::Ui,
    library: &Library,
    analogy: &Analogy,
    textures: &mut LibraryTextures,
    session: &Session,
    commands: &mut Vec<Command>,
) {
    if library.bookmarks.len() < 2 {
        ui.label(egui::RichText::new("save at least two bookmarks to form an analogy").weak());
        return;
    }
    for (slot, name) in ["A", "B", "C"].iter().enumerate() {
        let current = analogy.slots[slot]
            .and_then(|i| library.bookmarks.get(i))
            .map_or("choose", |b| b.name.as_str());
        egui::ComboBox::from_label(*name)
            .selected_text(current)
            .show_ui(ui, |ui| {
                for (idx, bookmark) in library.bookmarks.iter().enumerate() {
                    if ui
                        .selectable_label(analogy.slots[slot] == Some(idx), &bookmark.name)
                        .clicked()
                    {
                        commands.push(Command::SetAnalogySlot {
                            slot,
                            bookmark: idx,
                        });
                    }
                }
            });
    }

    if analogy.decoded.len() == 4 {
        let ctx = ui.ctx().clone();
        let shape = session.model.spec().image_shape();
        ui.horizontal(|ui| {
            for (k, label) in ["A", "− B", "+ C", "="].iter().enumerate() {
                ui.vertical(|ui| {
                    ui.label(*label);
                    let texture = textures.analogy[k].get(
                        &ctx,
                        "analogy",
                        &analogy.decoded[k],
                        shape,
                        analogy.version,
                    );
                    let sized = egui::load::SizedTexture::new(texture.id(), egui::vec2(56.0, 56.0));
                    ui.add(egui::Image::from_texture(sized));
                });
            }
        });
        if ui.button("Use result").clicked() {
            commands.push(Command::UseAnalogy);
        }
    }
}
