//! Image Analysis 3.2 features people relied on, computed zero-shot with SigLIP and returned
//! under their 3.2 names: `imageType`, `adult`, `categories` (Azure's 86-category taxonomy).
//!
//! Each feature is a fixed set of prompts whose text embeddings are precomputed into the tags
//! file (so analysis runs only the vision tower). Decisions compare a prompt with its neutral
//! counterpart (a two-way softmax over SigLIP logits) rather than thresholding raw sigmoid
//! probabilities, which are small even for true descriptions. The thresholds below are
//! documented choices, not yet calibrated against the real model's outputs.

use serde::{Deserialize, Serialize};

/// A named list of (label, prompt) pairs embedded into the tags file.
#[derive(Debug, Clone, Copy)]
pub struct PromptSet {
    pub name: &'static str,
    pub entries: &'static [(&'static str, &'static str)],
}

pub const IMAGE_TYPE: PromptSet = PromptSet {
    name: "imageType",
    entries: &[
        ("photo", "a photograph"),
        ("clip_art", "a clip art illustration"),
        ("line_drawing", "a black and white line drawing"),
    ],
};

pub const ADULT: PromptSet = PromptSet {
    name: "adult",
    entries: &[
        ("neutral", "an ordinary, safe photo"),
        ("adult", "an explicit photo of nudity"),
        ("racy", "a racy, sexually suggestive photo"),
        ("gory", "a gory photo of blood and injury"),
    ],
};

/// Azure AI Vision's 86-category taxonomy, each with the prompt that describes it.
pub const CATEGORIES: PromptSet = PromptSet {
    name: "categories",
    entries: &[
        ("abstract_", "an abstract image"),
        ("abstract_net", "an abstract pattern of a net or mesh"),
        ("abstract_nonphoto", "an abstract graphic that is not a photo"),
        ("abstract_rect", "an abstract pattern of rectangles"),
        ("abstract_shape", "abstract geometric shapes"),
        ("abstract_texture", "an abstract texture"),
        ("animal_", "a photo of an animal"),
        ("animal_bird", "a photo of a bird"),
        ("animal_cat", "a photo of a cat"),
        ("animal_dog", "a photo of a dog"),
        ("animal_horse", "a photo of a horse"),
        ("animal_panda", "a photo of a panda"),
        ("building_", "a photo of a building"),
        ("building_arch", "a photo of an arch"),
        ("building_brickwall", "a photo of a brick wall"),
        ("building_church", "a photo of a church"),
        ("building_corner", "a photo of the corner of a building"),
        ("building_doorwindows", "a photo of the doors and windows of a building"),
        ("building_pillar", "a photo of pillars"),
        ("building_stair", "a photo of stairs"),
        ("building_street", "a photo of buildings along a street"),
        ("dark_", "a dark photo taken at night"),
        ("drink_", "a photo of a drink"),
        ("drink_can", "a photo of a drink can"),
        ("dark_fire", "a photo of fire in the dark"),
        ("dark_fireworks", "a photo of fireworks"),
        ("dark_light", "a photo of lights in the dark"),
        ("food_", "a photo of food"),
        ("food_bread", "a photo of bread"),
        ("food_fastfood", "a photo of fast food"),
        ("food_grilled", "a photo of grilled food"),
        ("food_pizza", "a photo of pizza"),
        ("indoor_", "a photo taken indoors"),
        ("indoor_churchwindow", "a photo of a church window"),
        ("indoor_court", "a photo of an indoor sports court"),
        ("indoor_doorwindows", "a photo of a door or window seen from inside"),
        ("indoor_marketstore", "a photo inside a market or store"),
        ("indoor_room", "a photo of a room"),
        ("indoor_venue", "a photo of an indoor venue or hall"),
        ("object_screen", "a photo of a screen or monitor"),
        ("object_sculpture", "a photo of a sculpture"),
        ("others_", "a photo"),
        ("outdoor_", "a photo taken outdoors"),
        ("outdoor_city", "a photo of a city"),
        ("outdoor_field", "a photo of a field"),
        ("outdoor_grass", "a photo of grass"),
        ("outdoor_house", "a photo of a house"),
        ("outdoor_mountain", "a photo of mountains"),
        ("outdoor_oceanbeach", "a photo of the ocean and a beach"),
        ("outdoor_playground", "a photo of a playground"),
        ("outdoor_pool", "a photo of an outdoor swimming pool"),
        ("outdoor_railway", "a photo of a railway"),
        ("outdoor_road", "a photo of a road"),
        ("outdoor_sportsfield", "a photo of a sports field"),
        ("outdoor_stonerock", "a photo of stones and rocks"),
        ("outdoor_street", "a photo of a street"),
        ("outdoor_water", "a photo of water"),
        ("outdoor_waterside", "a photo of a waterside"),
        ("people_", "a photo of a person"),
        ("people_baby", "a photo of a baby"),
        ("people_crowd", "a photo of a crowd of people"),
        ("people_group", "a photo of a group of people"),
        ("people_hand", "a photo of a hand"),
        ("people_many", "a photo of many people"),
        ("people_portrait", "a portrait photo of a person's face"),
        ("people_show", "a photo of people performing a show"),
        ("people_swimming", "a photo of people swimming"),
        ("people_tattoo", "a photo of a tattoo"),
        ("people_young", "a photo of a young person"),
        ("plant_", "a photo of a plant"),
        ("plant_branch", "a photo of a tree branch"),
        ("plant_flower", "a photo of a flower"),
        ("plant_leaves", "a photo of leaves"),
        ("plant_tree", "a photo of a tree"),
        ("sky_cloud", "a photo of clouds in the sky"),
        ("sky_object", "a photo of an object in the sky"),
        ("sky_sun", "a photo of the sun in the sky"),
        ("text_", "an image of text"),
        ("text_mag", "a magazine page"),
        ("text_map", "a map"),
        ("text_menu", "a restaurant menu"),
        ("text_sign", "a photo of a sign"),
        ("trans_bicycle", "a photo of a bicycle"),
        ("trans_bus", "a photo of a bus"),
        ("trans_car", "a photo of a car"),
        ("trans_trainstation", "a photo of a train station"),
    ],
};

/// Every set a tags file carries, in file order.
pub const PROMPT_SETS: [PromptSet; 3] = [IMAGE_TYPE, ADULT, CATEGORIES];

/// Category scores reported: at least this, at most MAX_CATEGORIES, else the single best.
const CATEGORY_MIN_SCORE: f32 = 0.1;
const MAX_CATEGORIES: usize = 3;
/// A flag is set when its prompt beats the neutral prompt with this two-way probability.
const FLAG_THRESHOLD: f32 = 0.5;

/// 3.2 `imageType`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageType {
    /// 0 non-clip-art, 1 ambiguous, 2 normal clip art, 3 good clip art.
    pub clip_art_type: u8,
    /// 0 or 1.
    pub line_drawing_type: u8,
}

/// 3.2 `adult`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdultInfo {
    pub is_adult_content: bool,
    pub is_racy_content: bool,
    pub is_gory_content: bool,
    pub adult_score: f32,
    pub racy_score: f32,
    pub gore_score: f32,
}

/// One entry of 3.2 `categories`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Category {
    pub name: String,
    pub score: f32,
}

/// Probability that `a` rather than `b` describes the image, from their logits.
fn prefer(a: f32, b: f32) -> f32 {
    1.0 / (1.0 + (b - a).exp())
}

/// `logits` are in IMAGE_TYPE's entry order.
pub fn image_type(logits: &[f32]) -> ImageType {
    let clip_art = prefer(logits[1], logits[0]);
    let line_drawing = prefer(logits[2], logits[0]);
    ImageType {
        clip_art_type: match clip_art {
            p if p < 0.25 => 0,
            p if p < 0.5 => 1,
            p if p < 0.75 => 2,
            _ => 3,
        },
        line_drawing_type: (line_drawing >= FLAG_THRESHOLD) as u8,
    }
}

/// `logits` are in ADULT's entry order.
pub fn adult(logits: &[f32]) -> AdultInfo {
    let neutral = logits[0];
    let (adult_score, racy_score, gore_score) =
        (prefer(logits[1], neutral), prefer(logits[2], neutral), prefer(logits[3], neutral));
    AdultInfo {
        is_adult_content: adult_score >= FLAG_THRESHOLD,
        is_racy_content: racy_score >= FLAG_THRESHOLD,
        is_gory_content: gore_score >= FLAG_THRESHOLD,
        adult_score,
        racy_score,
        gore_score,
    }
}

/// `logits` are in CATEGORIES' entry order: a softmax over the taxonomy, best first.
pub fn categories(logits: &[f32]) -> Vec<Category> {
    let max = logits.iter().cloned().fold(f32::MIN, f32::max);
    let exp: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
    let total: f32 = exp.iter().sum();
    let mut scored: Vec<Category> = CATEGORIES
        .entries
        .iter()
        .zip(&exp)
        .map(|((name, _), e)| Category { name: name.to_string(), score: e / total })
        .collect();
    scored.sort_by(|a, b| b.score.total_cmp(&a.score));
    let kept = scored.iter().take(MAX_CATEGORIES).filter(|c| c.score >= CATEGORY_MIN_SCORE).count().max(1);
    scored.truncate(kept);
    scored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_taxonomy_has_86_distinct_categories() {
        let mut names: Vec<&str> = CATEGORIES.entries.iter().map(|(n, _)| *n).collect();
        assert_eq!(names.len(), 86);
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 86);
    }

    #[test]
    fn decisions_follow_the_logits() {
        let photo = image_type(&[5.0, -5.0, -5.0]);
        assert_eq!((photo.clip_art_type, photo.line_drawing_type), (0, 0));
        let clip = image_type(&[-5.0, 5.0, 6.0]);
        assert_eq!((clip.clip_art_type, clip.line_drawing_type), (3, 1));
        let racy = adult(&[0.0, -3.0, 3.0, -3.0]);
        assert!(racy.is_racy_content && !racy.is_adult_content && !racy.is_gory_content);
        assert!(racy.racy_score > 0.9 && racy.adult_score < 0.1);
        let mut logits = vec![0.0; 86];
        logits[9] = 10.0; // animal_dog
        let top = categories(&logits);
        assert_eq!(top[0].name, "animal_dog");
        assert!(top[0].score > 0.99 && top.len() == 1);
    }
}
