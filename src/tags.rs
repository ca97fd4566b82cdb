//! The tag vocabulary's text embeddings, precomputed once per model (`sightline build-tags`) so
//! tagging runs only the vision tower.
//!
//! File layout (`.sltags`), little-endian:
//! ```text
//! b"SLTAGS\0\x01"   magic + format version 1
//! u32               header length in bytes
//! header            JSON: model name, vision/text sha256, dim, dtype "f16", prompt template,
//!                   vocabulary sha256, tag names, and the 3.2 prompt sets (labels + prompts)
//! rows × dim f16    unit-length prompt embeddings: one row per tag, then one per set prompt
//! ```
//! f16 halves the size (2,000 × 768 tags ≈ 3 MB for the real model) and changes cosines by
//! about 1e-4, far below what separates tags.

use half::f16;
use serde::{Deserialize, Serialize};

use crate::azure::DetectedTag;
use crate::error::{Result, SightlineError};
use crate::scoring::Calibration;
use crate::siglip::{sha256_hex, SiglipModel};
use crate::v32::{PromptSet, PROMPT_SETS};

const MAGIC: &[u8; 8] = b"SLTAGS\0\x01";

/// What the file says about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagsHeader {
    pub model: String,
    pub vision_sha256: String,
    pub text_sha256: String,
    pub dim: usize,
    pub dtype: String,
    pub prompt_template: String,
    pub language: String,
    pub vocabulary_sha256: String,
    pub tags: Vec<String>,
    /// The zero-shot prompt sets of the 3.2 features, embedded after the tags.
    pub sets: Vec<StoredSet>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredSet {
    pub name: String,
    pub labels: Vec<String>,
    pub prompts: Vec<String>,
}

impl From<&PromptSet> for StoredSet {
    fn from(set: &PromptSet) -> Self {
        StoredSet {
            name: set.name.into(),
            labels: set.entries.iter().map(|(l, _)| l.to_string()).collect(),
            prompts: set.entries.iter().map(|(_, p)| p.to_string()).collect(),
        }
    }
}

/// Tag names with their unit prompt embeddings, ready to score images against.
#[derive(Debug, Clone)]
pub struct TagIndex {
    header: TagsHeader,
    embeddings: Vec<f32>,
}

/// The vocabulary file (data/tags/en.json): tag names and where each comes from.
#[derive(Debug, Clone, Deserialize)]
pub struct Vocabulary {
    pub language: String,
    pub tags: Vec<VocabularyTag>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct VocabularyTag {
    pub name: String,
}

impl Vocabulary {
    pub fn from_json(bytes: &[u8]) -> Result<Vocabulary> {
        let vocabulary: Vocabulary = serde_json::from_slice(bytes)
            .map_err(|e| SightlineError::argument(format!("the tag vocabulary is not valid: {e}")))?;
        if vocabulary.tags.is_empty() {
            return Err(SightlineError::argument("the tag vocabulary has no tags"));
        }
        Ok(vocabulary)
    }
}

impl TagIndex {
    /// Embed every tag's prompt with the model's text tower. `on_progress(done, total)` is called
    /// as it goes (a 2,000-tag vocabulary takes minutes on the real model).
    pub fn build(
        model: &SiglipModel,
        vocabulary_bytes: &[u8],
        mut on_progress: impl FnMut(usize, usize),
    ) -> Result<TagIndex> {
        let text_sha256 = model
            .text_sha256()
            .ok_or(SightlineError::MissingTower { tower: "text", purpose: "build tag embeddings" })?
            .to_string();
        let vocabulary = Vocabulary::from_json(vocabulary_bytes)?;
        let names: Vec<String> = vocabulary.tags.iter().map(|t| t.name.clone()).collect();
        let sets: Vec<StoredSet> = PROMPT_SETS.iter().map(StoredSet::from).collect();
        // Tags get the model's prompt template; the 3.2 sets are whole prompts already.
        let prompts: Vec<String> = names
            .iter()
            .map(|n| model.descriptor().prompt_for(n.trim()))
            .chain(sets.iter().flat_map(|s| s.prompts.iter().cloned()))
            .collect();
        let mut embeddings = Vec::with_capacity(prompts.len() * model.embedding_dim());
        for (i, prompt) in prompts.iter().enumerate() {
            embeddings.extend(model.embed_text(prompt)?);
            on_progress(i + 1, prompts.len());
        }
        let header = TagsHeader {
            model: model.descriptor().name.clone(),
            vision_sha256: model.vision_sha256().to_string(),
            text_sha256,
            dim: model.embedding_dim(),
            dtype: "f16".into(),
            prompt_template: model.descriptor().prompt_template.clone(),
            language: vocabulary.language,
            vocabulary_sha256: sha256_hex(vocabulary_bytes),
            tags: names,
            sets,
        };
        // Round-trip through f16 now, so a freshly built index scores exactly like a loaded one.
        let embeddings = embeddings.iter().map(|&x| f16::from_f32(x).to_f32()).collect();
        Ok(TagIndex { header, embeddings })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let header = serde_json::to_vec(&self.header).expect("the header serialises");
        let mut out = Vec::with_capacity(12 + header.len() + self.embeddings.len() * 2);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        out.extend_from_slice(&header);
        for &x in &self.embeddings {
            out.extend_from_slice(&f16::from_f32(x).to_le_bytes());
        }
        out
    }

    /// Parse a tags file and check it belongs to `model`.
    pub fn from_bytes(bytes: &[u8], model: &SiglipModel) -> Result<TagIndex> {
        let index = TagIndex::parse(bytes)?;
        if index.header.vision_sha256 != model.vision_sha256() || index.header.dim != model.embedding_dim() {
            return Err(SightlineError::TagsModelMismatch {
                built_for: index.header.model.clone(),
                built_sha: index.header.vision_sha256.chars().take(12).collect(),
                loaded: model.descriptor().name.clone(),
                loaded_sha: model.vision_sha256().chars().take(12).collect(),
            });
        }
        Ok(index)
    }

    fn parse(bytes: &[u8]) -> Result<TagIndex> {
        if bytes.len() < 12 || &bytes[..8] != MAGIC {
            return Err(SightlineError::tags_file("not a Sightline tags file (bad magic bytes)"));
        }
        let header_len = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize;
        let body = &bytes[12..];
        if header_len > body.len() {
            return Err(SightlineError::tags_file("truncated header"));
        }
        let header: TagsHeader = serde_json::from_slice(&body[..header_len])
            .map_err(|e| SightlineError::tags_file(format!("header: {e}")))?;
        if header.dtype != "f16" {
            return Err(SightlineError::tags_file(format!("unsupported dtype {:?}", header.dtype)));
        }
        let current: Vec<StoredSet> = PROMPT_SETS.iter().map(StoredSet::from).collect();
        if header.sets != current {
            return Err(SightlineError::tags_file(
                "it was built with other 3.2 feature prompts than this Sightline uses: rebuild it with `sightline build-tags`",
            ));
        }
        let data = &body[header_len..];
        let rows = header.tags.len() + header.sets.iter().map(|s| s.prompts.len()).sum::<usize>();
        let expected = rows * header.dim * 2;
        if data.len() != expected {
            return Err(SightlineError::tags_file(format!(
                "{rows} prompts × {} dims need {expected} bytes of embeddings, found {}",
                header.dim,
                data.len()
            )));
        }
        let embeddings = data.chunks_exact(2).map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32()).collect();
        Ok(TagIndex { header, embeddings })
    }

    pub fn header(&self) -> &TagsHeader {
        &self.header
    }

    pub fn len(&self) -> usize {
        self.header.tags.len()
    }

    pub fn is_empty(&self) -> bool {
        self.header.tags.is_empty()
    }

    /// Tags whose probability reaches `threshold`, most likely first, at most `max`.
    pub fn tag(&self, image_embedding: &[f32], calibration: Calibration, threshold: f32, max: usize) -> Vec<DetectedTag> {
        let mut tags: Vec<DetectedTag> = self
            .header
            .tags
            .iter()
            .zip(self.embeddings.chunks_exact(self.header.dim))
            .map(|(name, text)| DetectedTag {
                name: name.clone(),
                confidence: calibration.probability(image_embedding, text),
            })
            .filter(|t| t.confidence >= threshold)
            .collect();
        tags.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        tags.truncate(max);
        tags
    }

    /// SigLIP logits of `set`'s prompts (in its entry order) for an image embedding.
    pub fn set_logits(&self, set: &PromptSet, image_embedding: &[f32], calibration: Calibration) -> Vec<f32> {
        let mut first = self.header.tags.len();
        for stored in &self.header.sets {
            if stored.name == set.name {
                let rows = &self.embeddings[first * self.header.dim..(first + stored.prompts.len()) * self.header.dim];
                return rows.chunks_exact(self.header.dim).map(|t| calibration.logit(image_embedding, t)).collect();
            }
            first += stored.prompts.len();
        }
        unreachable!("parse() checked the file holds every prompt set of this build")
    }
}
