//! The modules of `shared` form layers, never a cycle: a module that uses another through
//! `crate::` may not be used back by it, directly or through others. Read off the sources, so
//! a new `use crate::...` that closes a loop fails here with the loop spelled out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The crate root's re-exports, by the module they come from.
const ROOT_REEXPORTS: [(&str, &str); 2] = [("AppContext", "context"), ("AppError", "error")];

fn sources(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// `module -> modules it names through crate::`, for the top-level modules of src/.
fn dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(&src).expect("under src");
        let first = relative.components().next().expect("a component");
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if module == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read a source file");
        // Test modules may reach anywhere and comments may name anything: only the code that
        // ships is layered.
        let shipped: String = text
            .split("#[cfg(test)]")
            .next()
            .unwrap_or_default()
            .lines()
            .filter(|line| !line.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let uses = graph.entry(module.clone()).or_default();
        for (at, _) in shipped.match_indices("crate::") {
            let name: String = shipped[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let target = ROOT_REEXPORTS
                .iter()
                .find(|(export, _)| *export == name)
                .map_or(name.clone(), |(_, module)| module.to_string());
            if target != module && !target.is_empty() {
                uses.insert(target);
            }
        }
    }
    graph
}

fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_modules_of_shared_have_no_cycle() {
    let graph = dependencies();
    assert!(graph.contains_key("domain") && graph.contains_key("storage"));
    if let Some(cycle) = find_cycle(&graph) {
        panic!("module cycle: {}", cycle.join(" → "));
    }
}

#[test]
fn the_domain_and_the_store_never_word_an_answer() {
    let graph = dependencies();
    assert!(
        graph["domain"].is_empty(),
        "domain rules need nothing else, so they are testable without I/O: {:?}",
        graph["domain"]
    );
    // Both return values (refusal and outcome enums, StoreError); only the services turn
    // them into the contract's errors (service::refusals).
    assert_eq!(
        graph["storage"],
        BTreeSet::from(["domain".to_string()]),
        "the store speaks domain types and its own outcomes only"
    );
    for lower in ["storage", "domain", "error"] {
        for upper in ["service", "realtime", "context", "websocket", "worker"] {
            assert!(
                !graph[lower].contains(upper),
                "{lower} must not depend on {upper}"
            );
        }
    }
}
