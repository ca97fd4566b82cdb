//! Helpers shared by the native integration tests: where things are, and running the CLI.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// ../shared, or $SIGHTLINE_SHARED.
pub fn shared() -> PathBuf {
    std::env::var_os("SIGHTLINE_SHARED").map(PathBuf::from).unwrap_or_else(|| repo().join("../shared"))
}

/// The synthetic test model, installed by `scripts/fetch-models --mirror … siglip-test-tiny`.
pub fn model_dir() -> PathBuf {
    repo().join("models/siglip-test-tiny")
}

pub fn read(path: impl AsRef<Path>) -> Vec<u8> {
    std::fs::read(path.as_ref()).unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()))
}

/// Run the `sightline` binary from the repository root.
pub fn sightline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sightline")).args(args).current_dir(repo()).output().expect("sightline runs")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("stdout is not JSON ({e}):\n{}\nstderr:\n{}", String::from_utf8_lossy(&out.stdout), stderr(out))
    })
}

/// A validator for one definition of Azure's Image Analysis 2023-10-01 schema (written from
/// Microsoft's REST specification: tests/azure).
pub fn azure_schema(definition: &str) -> jsonschema::Validator {
    let mut schema: Value =
        serde_json::from_slice(&read(repo().join("tests/azure/image-analysis-2023-10-01.schema.json"))).unwrap();
    schema["allOf"] = serde_json::json!([{ "$ref": format!("#/definitions/{definition}") }]);
    jsonschema::validator_for(&schema).expect("the schema compiles")
}

pub fn assert_valid(definition: &str, instance: &Value) {
    let validator = azure_schema(definition);
    let errors: Vec<String> = validator.iter_errors(instance).map(|e| format!("{e} at {}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{definition} violations: {errors:#?}\n{instance:#}");
}
