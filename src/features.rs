//! The feature table, written once: every Azure Image Analysis feature name Sightline knows, the
//! parts it needs on the device (models and files), the parts that help it when present, and the
//! Azure service that can answer it instead. The core checks requests against it, the CLI loads
//! by it, and JavaScript reads it through wasm (`featureTable()`): the npm package and the page
//! load what the core says a request needs and list nothing themselves.

use serde::Serialize;

use crate::error::SightlineError;

/// The visual features Sightline computes: 4.0's, then 3.2's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    Tags,
    SmartCrops,
    People,
    Color,
    ImageType,
    Adult,
    Categories,
    Read,
    Caption,
    DenseCaptions,
    Objects,
}

/// What can be loaded into an analyzer, each named by the Azure feature it serves where there is
/// one: SigLIP (every zero-shot feature, labels, embeddings), its tags file, the people detector
/// (YuNet faces) and the read engine (PP-OCRv5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Part {
    Siglip,
    Tags,
    People,
    Read,
}

/// An Azure service that can answer a feature instead of the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    /// The service's name, as in error messages: "Document Intelligence", "Face API".
    pub name: &'static str,
    /// The analyze option choosing between the device and the service (`local`/`azure`/`auto`).
    pub backend_option: &'static str,
    /// What the caller configures for it.
    pub needs: &'static str,
}

pub const DOCUMENT_INTELLIGENCE: Service =
    Service { name: "Document Intelligence", backend_option: "readBackend", needs: "a Document Intelligence endpoint and key" };
pub const FACE_API: Service = Service { name: "Face API", backend_option: "peopleBackend", needs: "a Face API endpoint and key" };
/// The vision-language model (Azure OpenAI or an OpenAI-compatible server) that writes captions
/// and finds objects; the two options choose which API shape each group of features must use.
pub const CAPTION_MODEL: Service = Service {
    name: "vision-language model",
    backend_option: "captionBackend",
    needs: "a vision-language model endpoint (Azure OpenAI or OpenAI-compatible: --caption-endpoint, services.caption)",
};
pub const OBJECTS_MODEL: Service = Service { backend_option: "objectsBackend", ..CAPTION_MODEL };

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeatureSpec {
    /// The Azure name.
    pub name: &'static str,
    #[serde(skip)]
    pub feature: Feature,
    /// Parts a local answer cannot do without.
    pub needs: &'static [Part],
    /// Parts used when loaded, and skipped otherwise (smart crops keep faces whole).
    pub helped_by: &'static [Part],
    /// The service that can answer it instead.
    pub service: Option<Service>,
    /// Whether the device can answer it; the others need their service.
    pub local: bool,
}

const ZERO_SHOT: &[Part] = &[Part::Siglip, Part::Tags];

/// The table. Order is the order results and messages list features in.
pub const FEATURES: [FeatureSpec; 11] = [
    FeatureSpec { name: "tags", feature: Feature::Tags, needs: ZERO_SHOT, helped_by: &[], service: None, local: true },
    FeatureSpec { name: "smartCrops", feature: Feature::SmartCrops, needs: &[Part::Siglip], helped_by: &[Part::People], service: None, local: true },
    FeatureSpec { name: "people", feature: Feature::People, needs: &[Part::People], helped_by: &[], service: Some(FACE_API), local: true },
    FeatureSpec { name: "color", feature: Feature::Color, needs: &[], helped_by: &[], service: None, local: true },
    FeatureSpec { name: "imageType", feature: Feature::ImageType, needs: ZERO_SHOT, helped_by: &[], service: None, local: true },
    FeatureSpec { name: "adult", feature: Feature::Adult, needs: ZERO_SHOT, helped_by: &[], service: None, local: true },
    FeatureSpec { name: "categories", feature: Feature::Categories, needs: ZERO_SHOT, helped_by: &[], service: None, local: true },
    FeatureSpec { name: "read", feature: Feature::Read, needs: &[Part::Read], helped_by: &[], service: Some(DOCUMENT_INTELLIGENCE), local: true },
    FeatureSpec { name: "caption", feature: Feature::Caption, needs: &[], helped_by: &[], service: Some(CAPTION_MODEL), local: false },
    FeatureSpec { name: "denseCaptions", feature: Feature::DenseCaptions, needs: &[], helped_by: &[], service: Some(CAPTION_MODEL), local: false },
    FeatureSpec { name: "objects", feature: Feature::Objects, needs: &[], helped_by: &[], service: Some(OBJECTS_MODEL), local: false },
];

/// Request options beside `features` that need a part: labels are scored with SigLIP's text tower,
/// `includeEmbedding` returns SigLIP's image embedding.
pub const OPTIONS_NEEDING_SIGLIP: [&str; 2] = ["labels", "includeEmbedding"];

impl Feature {
    pub fn spec(self) -> &'static FeatureSpec {
        // Every variant has its row (the table test checks it).
        FEATURES.iter().find(|row| row.feature == self).unwrap_or(&FEATURES[0])
    }

    /// The Azure name of the feature.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// An Azure feature name (case-insensitive), if Sightline computes it.
    pub fn parse(name: &str) -> Option<Feature> {
        FEATURES.iter().find(|row| row.name.eq_ignore_ascii_case(name.trim())).map(|row| row.feature)
    }

    pub fn needs(self) -> &'static [Part] {
        self.spec().needs
    }

    pub fn helped_by(self) -> &'static [Part] {
        self.spec().helped_by
    }

    pub fn service(self) -> Option<Service> {
        self.spec().service
    }

    /// Whether the feature needs `part` or is helped by it.
    pub fn uses(self, part: Part) -> bool {
        self.needs().contains(&part) || self.helped_by().contains(&part)
    }
}

/// How a part's files are named: the manifest `kind` of the entry that holds them and the `role`
/// of each file (models/manifest.json), so a loader can fetch them without knowing the part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartSpec {
    pub name: &'static str,
    #[serde(skip)]
    pub part: Part,
    /// What it is, for messages.
    pub what: &'static str,
    /// The manifest kind.
    pub kind: &'static str,
    pub roles: &'static [&'static str],
    pub optional_roles: &'static [&'static str],
}

pub const PARTS: [PartSpec; 4] = [
    PartSpec {
        name: "siglip",
        part: Part::Siglip,
        what: "the SigLIP model",
        kind: "siglip",
        roles: &["descriptor", "vision"],
        optional_roles: &["text", "tokenizer"],
    },
    PartSpec {
        name: "tags",
        part: Part::Tags,
        what: "the tags file (tags-en.sltags, from `sightline build-tags`)",
        kind: "siglip",
        roles: &["tags"],
        optional_roles: &[],
    },
    PartSpec { name: "people", part: Part::People, what: "the people detector (YuNet)", kind: "yunet", roles: &["face"], optional_roles: &[] },
    PartSpec {
        name: "read",
        part: Part::Read,
        what: "the read models (PP-OCRv5)",
        kind: "ppocr",
        roles: &["detector", "recognizer", "dictionary"],
        optional_roles: &["orientation"],
    },
];

impl Part {
    pub const ALL: [Part; 4] = [Part::Siglip, Part::Tags, Part::People, Part::Read];

    pub fn spec(self) -> &'static PartSpec {
        &PARTS[self as usize]
    }

    pub fn name(self) -> &'static str {
        self.spec().name
    }

    pub fn parse(name: &str) -> Option<Part> {
        Part::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The error a request gets when it needs this part and it is not loaded.
    pub fn not_loaded(self) -> SightlineError {
        match self {
            Part::Siglip => SightlineError::SiglipModelNotLoaded,
            Part::Tags => SightlineError::TagsNotLoaded,
            Part::People => SightlineError::FaceModelNotLoaded,
            Part::Read => SightlineError::OcrModelNotLoaded,
        }
    }
}

/// The parts a request will load: `required` for its answer, `helpful` when they load.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PartsNeeded {
    pub required: Vec<Part>,
    pub helpful: Vec<Part>,
}

impl PartsNeeded {
    pub(crate) fn add(&mut self, required: &[Part], helpful: &[Part]) {
        for &part in required {
            if !self.required.contains(&part) {
                self.required.push(part);
            }
        }
        for &part in helpful {
            if !self.helpful.contains(&part) {
                self.helpful.push(part);
            }
        }
        self.helpful.retain(|part| !self.required.contains(part));
        self.required.sort();
        self.helpful.sort();
    }
}

/// The whole table as JavaScript and the docs read it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeatureTable {
    pub features: &'static [FeatureSpec],
    pub parts: &'static [PartSpec],
    pub options_needing_siglip: &'static [&'static str],
}

pub fn feature_table() -> FeatureTable {
    FeatureTable {
        features: &FEATURES,
        parts: &PARTS,
        options_needing_siglip: &OPTIONS_NEEDING_SIGLIP,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_feature_and_part_has_its_row() {
        for row in &FEATURES {
            assert_eq!(row.feature.spec().name, row.name);
            assert_eq!(Feature::parse(&row.name.to_uppercase()), Some(row.feature));
        }
        for part in Part::ALL {
            assert_eq!(part.spec().part, part);
            assert_eq!(Part::parse(part.name()), Some(part));
        }
        let json = serde_json::to_value(feature_table()).unwrap();
        assert_eq!(json["features"][1]["name"], "smartCrops");
        assert_eq!(json["features"][1]["helpedBy"], serde_json::json!(["people"]));
        assert_eq!(json["features"][7]["service"]["backendOption"], "readBackend");
        assert_eq!(json["parts"][3]["optionalRoles"], serde_json::json!(["orientation"]));
    }
}
