//! Text → the fixed-length id sequence SigLIP's text tower was trained on.
//!
//! `tokenizer.json` from the ONNX export does not reproduce Hugging Face's `SiglipTokenizer`
//! (which runs SentencePiece on `spiece.model`) by itself. Three rules are added here:
//! canonicalisation (strip ASCII punctuation, collapse whitespace, trim, lower-case), byte
//! fallback for unknown characters (lower-casing comes first), and `</s>` + truncation + padding to a fixed length.

use serde_json::Value;
use tokenizers::Tokenizer;

use crate::descriptor::ModelDescriptor;
use crate::error::{Result, SightlineError};

/// SentencePiece's word-boundary marker; SiglipTokenizer turns it into a space before anything else.
const SPIECE_UNDERLINE: char = '\u{2581}';

pub struct TextTokenizer {
    inner: Tokenizer,
    max_length: usize,
    pad_id: u32,
    eos_id: u32,
    canonicalize: bool,
    lowercase: bool,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer").field("max_length", &self.max_length).finish()
    }
}

/// tokenizers 0.22 parses a `Precompiled` normalizer's charsmap with `expect`: a damaged one
/// panics (an abort in WebAssembly) instead of failing to load. Parse each one first, here.
fn check_precompiled_normalizers(normalizer: Option<&Value>) -> Result<()> {
    let Some(normalizer) = normalizer.and_then(Value::as_object) else { return Ok(()) };
    match normalizer.get("type").and_then(Value::as_str) {
        Some("Sequence") => {
            for inner in normalizer.get("normalizers").and_then(Value::as_array).into_iter().flatten() {
                check_precompiled_normalizers(Some(inner))?;
            }
        }
        Some("Precompiled") => {
            // As tokenizers does it: the charsmap deserialises from a borrowed string only.
            let mut fields = normalizer.clone();
            fields.remove("type");
            let text = serde_json::to_string(&fields).expect("re-serialising parsed JSON cannot fail");
            serde_json::from_str::<spm_precompiled::Precompiled>(&text)
                .map_err(|e| SightlineError::tokenizer(format!("tokenizer.json's precompiled normalizer is damaged: {e}")))?;
        }
        _ => {}
    }
    Ok(())
}

impl TextTokenizer {
    pub fn from_json(bytes: &[u8], descriptor: &ModelDescriptor) -> Result<Self> {
        let mut json: Value = serde_json::from_slice(bytes)
            .map_err(|e| SightlineError::tokenizer(format!("tokenizer.json is not JSON: {e}")))?;
        let model = json
            .get_mut("model")
            .and_then(Value::as_object_mut)
            .ok_or_else(|| SightlineError::tokenizer("tokenizer.json has no \"model\" object"))?;
        match model.get("type").and_then(Value::as_str) {
            Some("Unigram") => {}
            other => {
                return Err(SightlineError::tokenizer(format!(
                    "expected a SentencePiece Unigram tokenizer, found {other:?}"
                )))
            }
        }
        model.insert("byte_fallback".into(), Value::Bool(descriptor.byte_fallback));
        check_precompiled_normalizers(json.get("normalizer"))?;
        let patched = serde_json::to_vec(&json).expect("re-serialising parsed JSON cannot fail");
        let inner = Tokenizer::from_bytes(&patched)
            .map_err(|e| SightlineError::tokenizer(format!("tokenizer.json does not load: {e}")))?;

        let vocab = inner.get_vocab_size(true) as u32;
        for (name, id) in [("pad_id", descriptor.pad_id), ("eos_id", descriptor.eos_id)] {
            if id >= vocab {
                return Err(SightlineError::tokenizer(format!(
                    "{name} {id} is outside the tokenizer's vocabulary of {vocab}"
                )));
            }
        }
        if descriptor.byte_fallback && inner.token_to_id("<0x00>").is_none() {
            return Err(SightlineError::tokenizer(
                "byte_fallback is on but the vocabulary has no <0xNN> byte pieces",
            ));
        }
        Ok(TextTokenizer {
            inner,
            max_length: descriptor.max_text_length,
            pad_id: descriptor.pad_id,
            eos_id: descriptor.eos_id,
            canonicalize: descriptor.canonicalize,
            lowercase: descriptor.lowercase,
        })
    }

    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// Exactly `max_length` ids: the text's pieces, `</s>`, then padding.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let mut prepared = text.replace(SPIECE_UNDERLINE, " ");
        // Lower-case before canonicalising, as SiglipTokenizer does: the order matters for a
        // final sigma that only becomes final once punctuation after it is removed.
        if self.lowercase {
            prepared = prepared.to_lowercase();
        }
        if self.canonicalize {
            prepared = canonicalize(&prepared);
        }
        let encoding = self
            .inner
            .encode(prepared.as_str(), false)
            .map_err(|e| SightlineError::tokenizer(format!("encoding failed: {e}")))?;
        let mut ids: Vec<u32> = encoding.get_ids().to_vec();
        ids.truncate(self.max_length - 1);
        ids.push(self.eos_id);
        ids.resize(self.max_length, self.pad_id);
        Ok(ids)
    }
}

/// SiglipTokenizer.canonicalize_text: remove `string.punctuation`, `re.sub(r"\s+", " ")`, strip.
pub fn canonicalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space_pending = false;
    for c in text.chars().filter(|c| !c.is_ascii_punctuation()) {
        if is_python_whitespace(c) {
            space_pending = !out.is_empty();
        } else {
            if space_pending {
                out.push(' ');
                space_pending = false;
            }
            out.push(c);
        }
    }
    out
}

/// Python's `\s` / `str.isspace()`: Unicode White_Space plus the ASCII separators U+001C..U+001F,
/// which Python counts as whitespace and Rust does not.
fn is_python_whitespace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonicalize_matches_python_rules() {
        assert_eq!(canonicalize("  Hello,   World!! "), "Hello World");
        assert_eq!(canonicalize("a\t\n\u{a0}\u{3000}\u{1c}b"), "a b");
        assert_eq!(canonicalize("“quoted”—dash…"), "“quoted”—dash…");
        assert_eq!(canonicalize("!!!"), "");
        assert_eq!(canonicalize("x . y"), "x y");
    }
}
